//! Reading a payload: admit it (see `admit`), run its connector, give each event its id and
//! validate it against the schemas. Pure (no broker, no store); small payloads are read on
//! tokio's blocking pool, large ones on the lower-priority threads of `large_payloads`.
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::large_payloads;
use super::message::Inbound;
use crate::connectors::{ItemOutcome, Publisher, Refusal, RefusalCode, Registry};
use crate::domain::event_types;
use crate::hub::Hub;
use crate::schemas::Schemas;
use crate::store::message::{Envelope, ReadyEvent, ReadyItem};

/// Event ids are UUIDv5 in this namespace of (agency, message id, item position, event type).
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_8b3d_4c59_9e27_d1a0_b5c4_e3f2);

pub fn event_id(agency: &str, message_id: &str, position: u32, event_type: &str) -> Uuid {
    Uuid::new_v5(&EVENT_NAMESPACE, format!("{agency}\u{1f}{message_id}\u{1f}{position}\u{1f}{event_type}").as_bytes())
}

impl Hub {
    /// Admits the message (who sent it, with which connector, how big) and runs its connector
    /// (pure: no broker, no store). A message not admitted is one refused item.
    pub fn read(&self, msg: &Inbound, env: &Envelope, now: DateTime<Utc>) -> Vec<ReadyItem> {
        match self.admit_message(msg, env) {
            Ok(()) => self.payload_reader(env).read(env, &msg.body, now),
            Err(refusal) => vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }],
        }
    }

    /// [`Hub::read`] off the async workers, for several messages: the small payloads together on
    /// one thread of tokio's blocking pool (one hand-off for the batch, not one per message), each
    /// large one on the lower-priority threads of [`large_payloads`]. A large or hostile payload
    /// from one agency keeps one of those busy, never a runtime worker that other agencies need.
    /// One result per message, in order.
    pub async fn read_many_off_runtime(
        &self,
        msgs: &[(&Inbound, &Envelope)],
        now: DateTime<Utc>,
    ) -> Vec<Vec<ReadyItem>> {
        let mut out: Vec<Option<Vec<ReadyItem>>> = Vec::with_capacity(msgs.len());
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (i, (msg, env)) in msgs.iter().enumerate() {
            if let Err(refusal) = self.admit_message(msg, env) {
                out.push(Some(vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }]));
                continue;
            }
            out.push(None);
            // One copy of the body for the reading thread; the message keeps its own for a refusal.
            let job = (i, self.payload_reader(env), (*env).clone(), msg.body.clone());
            if msg.body.len() >= large_payloads::LARGE_PAYLOAD_BYTES { large.push(job) } else { small.push(job) }
        }
        let small_places: Vec<usize> = small.iter().map(|(i, ..)| *i).collect();
        let read_small =
            move || small.into_iter().map(|(_, reader, env, body)| reader.read(&env, &body, now)).collect::<Vec<_>>();
        match tokio::task::spawn_blocking(read_small).await {
            Ok(items) => {
                for (i, items) in small_places.into_iter().zip(items) {
                    out[i] = Some(items);
                }
            }
            Err(e) => {
                for i in small_places {
                    out[i] = Some(reader_lost(msgs[i].0, &e.to_string()));
                }
            }
        }
        for (i, reader, env, body) in large {
            let read = large_payloads::run(move || reader.read(&env, &body, now)).await;
            out[i] = Some(read.unwrap_or_else(|| reader_lost(msgs[i].0, "the reading thread was lost")));
        }
        out.into_iter().map(Option::unwrap_or_default).collect()
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

    /// Runs the connector and validates every event (pure: no broker, no store).
    pub fn prepare(&self, env: &Envelope, body: &[u8], now: DateTime<Utc>) -> Vec<ReadyItem> {
        self.payload_reader(env).read(env, body, now)
    }
}

/// The refusal of a message whose reading thread failed.
fn reader_lost(msg: &Inbound, why: &str) -> Vec<ReadyItem> {
    let refusal = Refusal::new(RefusalCode::ReaderFailed, format!("reading the payload failed: {why}"));
    vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }]
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
                RefusalCode::ReaderFailed,
                format!("the connector failed while reading this payload (a defect in Tracker: report it): {what}"),
            );
            vec![ReadyItem::Refused { position: 0, refusal, raw: body.to_vec() }]
        })
    }

    /// [`PayloadReader::read`] without catching panics (the fuzz targets must see them).
    pub fn read_unguarded(&self, env: &Envelope, body: &[u8], now: DateTime<Utc>) -> Vec<ReadyItem> {
        let Some(connector) = self.registry.get(&env.connector) else {
            let refusal = Refusal::new(
                RefusalCode::UnknownConnector,
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
                    let refusal =
                        Refusal::new(RefusalCode::Schema, format!("event type {} has no data class", e.event_type));
                    return ReadyItem::Refused { position, refusal, raw: Vec::new() };
                };
                let event_id = event_id(&env.agency, &env.message_id, position, &e.event_type);
                let payload = std::sync::Arc::new(Json::Object(e.payload));
                let head = UpdateHead {
                    event_id,
                    event_type: &e.event_type,
                    data_class,
                    occurred_at: e.occurred_at,
                    recorded_at: now,
                    category: e.category.as_str(),
                    nature: e.nature.as_str(),
                };
                let update = update_json(env, &subject, &head, &payload);
                match schemas.encode_datum(&update) {
                    Ok(avro) => ready_events.push(ReadyEvent {
                        event_id,
                        event_type: e.event_type,
                        data_class,
                        occurred_at: e.occurred_at,
                        payload,
                        avro,
                        avro_schema: schemas.fingerprint,
                        record_key: e.key,
                        withdraws: e.withdraws,
                    }),
                    Err(err) => {
                        let refusal = Refusal::new(
                            RefusalCode::Schema,
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

/// What the stored `Update` says of itself beside its subject and payload.
pub struct UpdateHead<'a> {
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub data_class: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The data subject's category and whether the record is fact or assessment (DPA 2018
    /// s.38(2)-(3)), from the connector's mapping.
    pub category: &'a str,
    pub nature: &'a str,
}

/// The stored `Update`: the subject as the payload named them (the subject id is attached per
/// recipient at delivery, since identity review may change it).
pub fn update_json(
    env: &Envelope,
    subject: &crate::connectors::mapping::DraftSubject,
    head: &UpdateHead,
    payload: &Json,
) -> Json {
    json!({
        "event_id": head.event_id.to_string(),
        "event_type": head.event_type,
        "data_class": head.data_class,
        "occurred_at": head.occurred_at.to_rfc3339(),
        "recorded_at": head.recorded_at.to_rfc3339(),
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
        "subject_category": head.category,
        "nature": head.nature,
    })
}
