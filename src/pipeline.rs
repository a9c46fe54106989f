//! One inbound message, from receipt to the point it may be acknowledged: check who sent it,
//! archive the raw payload, run the connector, validate every event against the schemas, store
//! it all in one transaction. The caller publishes the dead letters, then acks.
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use crate::clock::Clock;
use crate::connectors::{ItemOutcome, Publisher, Refusal, Registry};
use crate::domain::event_types;
use crate::schemas::Schemas;
use crate::settings::Settings;
use crate::store::StoreError;
use crate::store::inbound::{self, Applied, Envelope, Mode, ReadyEvent, ReadyItem};

/// Event ids are UUIDv5 in this namespace of (agency, message id, item position, event type).
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_8b3d_4c59_9e27_d1a0_b5c4_e3f2);

/// Everything processing needs, shared by every consumer.
pub struct Hub {
    pub settings: Settings,
    /// The loaded connector files; replaced by [`Hub::reload_connectors`] after a fix.
    pub connectors: std::sync::RwLock<std::sync::Arc<Registry>>,
    pub schemas: &'static Schemas,
    pub pool: PgPool,
    pub clock: Clock,
    pub stats: Stats,
    pub sharing: crate::sharing::Sharing,
    /// Woken after each commit that queued deliveries.
    pub publisher_wakeup: tokio::sync::Notify,
}

/// Counters of the hub's work (tests wait on them; metrics read them).
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages acknowledged (processed, or found already processed).
    pub acknowledged: std::sync::atomic::AtomicU64,
    /// Inbound queues with a consumer attached now (for readiness).
    pub consumers_attached: std::sync::atomic::AtomicUsize,
    /// Whether the outbox publisher is connected.
    pub publisher_connected: std::sync::atomic::AtomicBool,
    pub processing: crate::metrics::Histogram,
    pub publishing: crate::metrics::Histogram,
    /// From an update's decision (at receipt) to its delivery's confirm.
    pub delivery: crate::metrics::Histogram,
}

/// A message as it arrived on the broker.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The agency whose queue it came from.
    pub queue_agency: String,
    pub routing_key: String,
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub body: Vec<u8>,
}

impl Inbound {
    /// The envelope the store keeps: agency, connector (from the routing key) and message id.
    /// Header values come from the publisher and may hold anything AMQP allows, NUL included,
    /// which PostgreSQL cannot store: NUL becomes U+FFFD here, so the envelope can always be
    /// archived and the message refused with a reason (its connector name no longer matches).
    pub fn envelope(&self) -> Envelope {
        let routing_key = storable(&self.routing_key);
        let connector = routing_key.split_once('.').map_or("", |(_, connector)| connector).to_string();
        Envelope {
            agency: self.queue_agency.clone(),
            connector,
            routing_key: routing_key.clone(),
            message_id: message_id(self),
        }
    }

    /// What the archive keeps beside the body.
    pub fn archive_headers(&self) -> Json {
        json!({ "user_id": self.user_id.as_deref().map(storable), "routing_key": storable(&self.routing_key) })
    }
}

pub fn event_id(agency: &str, message_id: &str, position: u32, event_type: &str) -> Uuid {
    Uuid::new_v5(&EVENT_NAMESPACE, format!("{agency}\u{1f}{message_id}\u{1f}{position}\u{1f}{event_type}").as_bytes())
}

/// The message id, or (when the publisher gave none) SHA-256 of routing key and body.
/// A message id with a NUL (which the store cannot keep) is treated as no message id.
pub fn message_id(msg: &Inbound) -> String {
    match &msg.message_id {
        Some(id) if !id.trim().is_empty() && !id.contains('\0') => id.clone(),
        _ => {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(msg.routing_key.as_bytes());
            h.update([0u8]);
            h.update(&msg.body);
            format!("sha256:{}", hex::encode(h.finalize()))
        }
    }
}

/// Text from a header, fit for a text column: NUL replaced by U+FFFD.
fn storable(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

impl Hub {
    /// Processes one message. `Err` is transient only: nothing was lost, try again later.
    /// `earlier_deliveries` is how often the broker delivered it before without its being
    /// committed (RabbitMQ's `x-delivery-count`); at `limits.max_deliveries` it is refused as
    /// poison without being read again.
    pub async fn process(&self, msg: &Inbound, earlier_deliveries: u32) -> Result<Applied, StoreError> {
        let now = self.clock.now();
        let env = msg.envelope();
        let span = tracing::info_span!("message", agency = %env.agency, connector = %env.connector, message_id = %env.message_id);
        self.process_in_span(msg, env, earlier_deliveries, now).instrument(span).await
    }

    async fn process_in_span(
        &self,
        msg: &Inbound,
        env: Envelope,
        earlier_deliveries: u32,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let archive_id = inbound::archive(&self.pool, &env, &msg.body, &msg.archive_headers(), now).await?;
        if inbound::seen(&self.pool, &env).await? {
            tracing::info!("already processed: nothing changes");
            return Ok(Applied::Duplicate {
                dead_letters: inbound::pending_dead_letters(
                    &self.pool,
                    &env,
                    self.settings.limits.dead_letter_body_bytes,
                )
                .await?,
            });
        }
        let limit = self.settings.limits.max_deliveries;
        let items = if earlier_deliveries >= limit {
            tracing::error!(earlier_deliveries, "refusing a message that was never committed: poison");
            let refusal = Refusal::new(
                "poison",
                format!(
                    "delivered {earlier_deliveries} times before without being committed (the hub stopped or \
                     failed while it was in hand; limits.max_deliveries is {limit}); not read again: see the \
                     hub's log at the time it arrived, fix, then replay"
                ),
            );
            vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }]
        } else {
            self.read_off_runtime(msg, &env, now).await
        };
        let applied = match inbound::apply(&self.pool, &self.sharing, &env, archive_id, &items, now, Mode::Arrival)
            .await
        {
            Err(StoreError::Permanent(e)) => self.refuse_what_the_store_refused(&env, archive_id, msg, &e, now).await?,
            other => other?,
        };
        if matches!(applied, Applied::Stored { queued, .. } if queued > 0) {
            self.publisher_wakeup.notify_one();
        }
        if let Applied::Stored { events, refused, kept, conflicts, .. } = &applied {
            tracing::info!(events, refused, kept, conflicts, "stored");
        }
        Ok(applied)
    }

    /// The store refused what the connector accepted (a defect: a value it cannot hold). The
    /// message is refused whole, with the store's reason, in a transaction of its own, so it is
    /// recorded, dead-lettered and acknowledged instead of being delivered again and again.
    async fn refuse_what_the_store_refused(
        &self,
        env: &Envelope,
        archive_id: i64,
        msg: &Inbound,
        error: &sqlx::Error,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        tracing::error!("the store refused a message the connector accepted: {error}");
        let refusal = Refusal::new(
            "store_refused",
            format!(
                "the store refused this message, so none of it was applied: {error}; a defect in Tracker's \
                 checks: report it with this message"
            ),
        );
        let items = [ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }];
        inbound::apply(&self.pool, &self.sharing, env, archive_id, &items, now, Mode::Arrival).await
    }

    /// Admits the message (who sent it, with which connector, how big) and runs its connector
    /// (pure: no broker, no store). A message not admitted is one refused item.
    pub fn read(&self, msg: &Inbound, env: &Envelope, now: DateTime<Utc>) -> Vec<ReadyItem> {
        match self.admit_message(msg, env) {
            Ok(()) => self.payload_reader(env).read(env, &msg.body, now),
            Err(refusal) => vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }],
        }
    }

    /// [`Hub::read`] off the async workers: a small payload on tokio's blocking pool, a large one
    /// on the lower-priority threads of [`crate::large_payloads`]. A large or hostile payload from
    /// one agency keeps one of those busy, never a runtime worker that other agencies need.
    pub async fn read_off_runtime(&self, msg: &Inbound, env: &Envelope, now: DateTime<Utc>) -> Vec<ReadyItem> {
        if let Err(refusal) = self.admit_message(msg, env) {
            return vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }];
        }
        let reader = self.payload_reader(env);
        // One copy of the body for the reading thread; the message keeps its own for the refusal.
        let (owned_env, body) = (env.clone(), msg.body.clone());
        let read = move || reader.read(&owned_env, &body, now);
        let items = if msg.body.len() >= crate::large_payloads::LARGE_PAYLOAD_BYTES {
            crate::large_payloads::run(read).await.ok_or_else(|| "the reading thread was lost".to_string())
        } else {
            tokio::task::spawn_blocking(read).await.map_err(|e| e.to_string())
        };
        items.unwrap_or_else(|e| {
            let refusal = Refusal::new("reader_failed", format!("reading the payload failed: {e}"));
            vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }]
        })
    }

    fn admit_message(&self, msg: &Inbound, env: &Envelope) -> Result<(), Refusal> {
        let key_agency = env.routing_key.split_once('.').map_or(env.routing_key.as_str(), |(agency, _)| agency);
        self.admit(msg, key_agency, &env.connector)
    }

    /// What reading a payload of this envelope needs, owned.
    fn payload_reader(&self, env: &Envelope) -> PayloadReader {
        PayloadReader {
            registry: self.connectors(),
            schemas: self.schemas,
            limits: self.settings.limits.parse.clone(),
            codes: self.settings.agency(&env.agency).map(|a| a.codes.clone()).unwrap_or_default(),
        }
    }

    /// The connector files as last loaded.
    pub fn connectors(&self) -> std::sync::Arc<Registry> {
        match self.connectors.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the connector files again (after an operator fixed one); a broken file is refused
    /// naming file and line, and the connectors in use stay as they were.
    pub fn reload_connectors(&self) -> Result<(), crate::connectors::ConnectorFileError> {
        let fresh = Registry::load(&self.settings.paths.connectors)?;
        if let Ok(mut w) = self.connectors.write() {
            *w = std::sync::Arc::new(fresh);
        }
        Ok(())
    }

    /// Reads an archived message again through its connector (a replay after a connector fix):
    /// what now applies is stored (event ids keep it idempotent), what still fails stays refused.
    pub async fn reprocess(&self, archive_id: i64) -> Result<Applied, StoreError> {
        let now = self.clock.now();
        let (agency, routing_key, archived_id, body, headers): (String, String, String, Vec<u8>, Json) =
            sqlx::query_as("SELECT agency, routing_key, message_id, body, headers FROM raw_archive WHERE id = $1")
                .bind(archive_id)
                .fetch_one(&self.pool)
                .await?;
        let msg = Inbound {
            queue_agency: agency,
            routing_key,
            message_id: Some(archived_id),
            user_id: headers.get("user_id").and_then(Json::as_str).map(str::to_owned),
            body,
        };
        let env = msg.envelope();
        let items = self.read(&msg, &env, now);
        let applied = inbound::apply(&self.pool, &self.sharing, &env, archive_id, &items, now, Mode::Reprocess).await?;
        if matches!(applied, Applied::Stored { queued, .. } if queued > 0) {
            self.publisher_wakeup.notify_one();
        }
        tracing::info!(agency = %env.agency, message_id = %env.message_id, archive_id, "reprocessed");
        Ok(applied)
    }

    /// Checks the message may be read at all: who sent it, with which connector, how big.
    fn admit(&self, msg: &Inbound, key_agency: &str, connector: &str) -> Result<(), Refusal> {
        if key_agency != msg.queue_agency {
            return Err(Refusal::new(
                "wrong_agency",
                format!(
                    "routing key {} names agency {key_agency}, but arrived on {}'s queue",
                    msg.routing_key, msg.queue_agency
                ),
            ));
        }
        self.admit_publisher(msg, key_agency)?;
        let agency = self
            .settings
            .agency(key_agency)
            .ok_or_else(|| Refusal::new("unknown_agency", format!("agency {key_agency} is not configured")))?;
        if !agency.connectors.iter().any(|c| c == connector) {
            return Err(Refusal::new(
                "unknown_connector",
                format!(
                    "agency {key_agency} does not publish with connector {connector:?} (it uses {})",
                    agency.connectors.join(", ")
                ),
            ));
        }
        let limit = self.settings.limits.max_message_bytes;
        if msg.body.len() > limit {
            return Err(Refusal::new(
                "too_large",
                format!("message is {} bytes; the limit is {limit}", msg.body.len()),
            ));
        }
        Ok(())
    }

    /// A message published by an agency's broker user must be under that agency's own key.
    /// RabbitMQ checks that `user_id` is the connection's user, so it is the one thing about the
    /// publisher the broker guarantees; with `broker.require_user_id` a message without it, or
    /// from a user that is no agency's, is refused too.
    fn admit_publisher(&self, msg: &Inbound, key_agency: &str) -> Result<(), Refusal> {
        let prefix = self.settings.broker.user_prefix.as_str();
        let Some(user) = msg.user_id.as_deref() else {
            if self.settings.broker.require_user_id {
                return Err(Refusal::new(
                    "wrong_agency",
                    format!(
                        "no user_id: agencies publish as their own broker users, so a message under {} must carry \
                         user_id {prefix}{key_agency}",
                        crate::connectors::limits::printable(&msg.routing_key)
                    ),
                ));
            }
            return Ok(());
        };
        let user_agency = user.strip_prefix(prefix).filter(|a| self.settings.agency(a).is_some());
        match user_agency {
            Some(agency) if agency == key_agency => Ok(()),
            Some(_) => Err(Refusal::new(
                "wrong_agency",
                format!(
                    "published by broker user {} under agency {key_agency}'s routing key",
                    crate::connectors::limits::printable(user)
                ),
            )),
            None if self.settings.broker.require_user_id => Err(Refusal::new(
                "wrong_agency",
                format!(
                    "published by broker user {}, which is no agency's user, under agency {key_agency}'s routing key",
                    crate::connectors::limits::printable(user)
                ),
            )),
            None => Ok(()),
        }
    }

    /// Runs the connector and validates every event (pure: no broker, no store).
    pub fn prepare(&self, env: &Envelope, body: &[u8], now: DateTime<Utc>) -> Vec<ReadyItem> {
        self.payload_reader(env).read(env, body, now)
    }
}

/// What reading one payload needs — the connectors as loaded, the schemas, the limits and the
/// publisher's codes — owned, so that it can run on another thread.
pub struct PayloadReader {
    registry: std::sync::Arc<Registry>,
    schemas: &'static Schemas,
    limits: crate::connectors::limits::ParseLimits,
    codes: Vec<String>,
}

impl PayloadReader {
    pub fn new(
        registry: std::sync::Arc<Registry>,
        schemas: &'static Schemas,
        limits: crate::connectors::limits::ParseLimits,
        codes: Vec<String>,
    ) -> PayloadReader {
        PayloadReader { registry, schemas, limits, codes }
    }

    /// Runs the connector and validates every event. A panic while reading (a defect) refuses
    /// this payload with the panic's message; the hub goes on. (A stack overflow cannot be
    /// caught, which is why every decoder bounds its depth instead.)
    pub fn read(&self, env: &Envelope, body: &[u8], now: DateTime<Utc>) -> Vec<ReadyItem> {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_unguarded(env, body, now)));
        outcome.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            tracing::error!(connector = %env.connector, "connector panicked while reading a payload: {what}");
            let refusal = Refusal::new(
                "reader_failed",
                format!("the connector failed while reading this payload (a defect in Tracker: report it): {what}"),
            );
            vec![ReadyItem::Refused { position: 0, refusal, raw: body.to_vec() }]
        })
    }

    /// [`PayloadReader::read`] without catching panics (the fuzz targets must see them).
    pub fn read_unguarded(&self, env: &Envelope, body: &[u8], now: DateTime<Utc>) -> Vec<ReadyItem> {
        let Some(connector) = self.registry.get(&env.connector) else {
            let refusal = Refusal::new(
                "unknown_connector",
                format!("no connector {:?} is loaded", crate::connectors::limits::printable(&env.connector)),
            );
            return vec![ReadyItem::Refused { position: 0, refusal, raw: body.to_vec() }];
        };
        let publisher = Publisher { agency: &env.agency, codes: &self.codes };
        match connector.parse(body, &publisher, &self.limits) {
            Err(refusal) => vec![ReadyItem::Refused { position: 0, refusal, raw: body.to_vec() }],
            Ok(outcomes) => outcomes.into_iter().map(|o| ready(self.schemas, env, o, now)).collect(),
        }
    }
}

/// Gives each draft event its id and validates it by encoding the stored envelope.
fn ready(schemas: &Schemas, env: &Envelope, outcome: ItemOutcome, now: DateTime<Utc>) -> ReadyItem {
    match outcome {
        ItemOutcome::Kept { position, label } => ReadyItem::Kept { position, label },
        ItemOutcome::Refused { position, refusal, raw } => ReadyItem::Refused { position, refusal, raw },
        ItemOutcome::Events { position, subject, events } => {
            let mut ready_events = Vec::with_capacity(events.len());
            for e in events {
                let Some(data_class) = event_types::data_class(&e.event_type) else {
                    let refusal = Refusal::new("schema", format!("event type {} has no data class", e.event_type));
                    return ReadyItem::Refused { position, refusal, raw: Vec::new() };
                };
                let event_id = event_id(&env.agency, &env.message_id, position, &e.event_type);
                let payload = Json::Object(e.payload);
                let update =
                    update_json(env, &subject, event_id, &e.event_type, data_class, e.occurred_at, now, &payload);
                match schemas.encode_datum(&update) {
                    Ok(avro) => ready_events.push(ReadyEvent {
                        event_id,
                        event_type: e.event_type,
                        data_class,
                        occurred_at: e.occurred_at,
                        payload,
                        avro,
                    }),
                    Err(err) => {
                        let refusal = Refusal::new(
                            "schema",
                            format!("item {position}: {} does not fit its schema: {err}", e.event_type),
                        );
                        return ReadyItem::Refused { position, refusal, raw: Vec::new() };
                    }
                }
            }
            ReadyItem::Events { position, subject, events: ready_events }
        }
    }
}

/// The stored `Update`: the subject as the payload named them (the subject id is attached per
/// recipient at delivery, since identity review may change it).
#[allow(clippy::too_many_arguments)]
pub fn update_json(
    env: &Envelope,
    subject: &crate::connectors::mapping::DraftSubject,
    event_id: Uuid,
    event_type: &str,
    data_class: &str,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    payload: &Json,
) -> Json {
    json!({
        "event_id": event_id.to_string(),
        "event_type": event_type,
        "data_class": data_class,
        "occurred_at": occurred_at.to_rfc3339(),
        "recorded_at": recorded_at.to_rfc3339(),
        "source": {"agency": env.agency, "connector": env.connector, "message_id": env.message_id},
        "subject": {
            "subject_id": null,
            "identifiers": subject.identifiers.iter().map(|i| json!({"scheme": i.scheme().as_str(), "value": i.value()})).collect::<Vec<_>>(),
            "name": subject.name,
            "date_of_birth": subject.date_of_birth,
        },
        "payload": payload,
        "redacted": [],
        "disclosure": null,
    })
}
