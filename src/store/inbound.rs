//! Storing one inbound message: the raw archive (first, on its own), then, in the caller's
//! transaction, the inbox row (dedupe), identity links, events (projections follow by trigger),
//! kept items and refusals. Refusals double as the dead-letter outbox. Sharing is not decided
//! here: the runtime (`runtime::apply`) decides it in the same transaction, after this.
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::NewEvent;
use super::StoreError;
use crate::connectors::Refusal;
use crate::connectors::mapping::DraftSubject;
use crate::identity::{self, Link};
use crate::settings::AgencyKind;
use sqlx::Row;

/// Where a message came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub agency: String,
    pub connector: String,
    pub routing_key: String,
    pub message_id: String,
}

/// A canonical event ready to store: validated and encoded.
#[derive(Debug, Clone)]
pub struct ReadyEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub data_class: &'static str,
    pub occurred_at: DateTime<Utc>,
    pub payload: Json,
    pub avro: Vec<u8>,
}

#[derive(Debug)]
pub enum ReadyItem {
    Events { position: u32, subject: DraftSubject, events: Vec<ReadyEvent> },
    Kept { position: u32, label: String },
    Refused { position: u32, refusal: Refusal, raw: Vec<u8> },
}

/// A refusal to dead-letter (and mark once the broker confirms it).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub refusal_id: i64,
    pub envelope: Envelope,
    pub position: i32,
    pub code: String,
    pub reason: String,
    /// The refused bytes: the item's row, or (for a whole payload) the payload or its first bytes.
    pub raw: Vec<u8>,
    /// The size of what was refused (more than `raw` holds when a large payload was cut short).
    pub full_bytes: usize,
    /// For a whole payload: the raw archive row that keeps it (refusals do not copy it).
    pub archive_id: Option<i64>,
}

#[derive(Debug)]
pub enum Applied {
    /// First time: what was stored, and the dead letters to publish.
    Stored {
        events: usize,
        refused: usize,
        kept: usize,
        conflicts: usize,
        /// Events stored for the first time (a reprocess stores only what was missing).
        inserted: usize,
        /// Deliveries queued in the outbox.
        queued: usize,
        dead_letters: Vec<DeadLetter>,
    },
    /// Seen before: nothing changed; dead letters not yet confirmed are returned again.
    Duplicate { dead_letters: Vec<DeadLetter> },
}

/// Archives the raw payload, once per (agency, message id, body).
pub async fn archive(
    pool: &PgPool,
    env: &Envelope,
    body: &[u8],
    headers: &Json,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut conn = pool.acquire().await?;
    archive_with(&mut conn, env, body, headers, now).await
}

/// [`archive`] on a given connection (or inside a transaction: a bulk load archives each file in
/// the transaction that stores it).
pub async fn archive_with(
    conn: &mut sqlx::PgConnection,
    env: &Envelope,
    body: &[u8],
    headers: &Json,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(body));
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO raw_archive (agency, connector, routing_key, message_id, body_sha256, body, headers, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (agency, message_id, body_sha256) DO NOTHING RETURNING id",
    )
    .bind(&env.agency)
    .bind(&env.connector)
    .bind(&env.routing_key)
    .bind(&env.message_id)
    .bind(&sha)
    .bind(body)
    .bind(headers)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => Ok(sqlx::query_scalar(
            "SELECT id FROM raw_archive WHERE agency = $1 AND message_id = $2 AND body_sha256 = $3",
        )
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(&sha)
        .fetch_one(&mut *conn)
        .await?),
    }
}

/// Whether the inbox already holds this message.
pub async fn seen(pool: &PgPool, env: &Envelope) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar::<_, i32>("SELECT 1 FROM inbox WHERE agency = $1 AND message_id = $2")
        .bind(&env.agency)
        .bind(&env.message_id)
        .fetch_optional(pool)
        .await?
        .is_some())
}

/// (id, connector, routing key, item position, code, reason, raw bytes, full size, archive id)
type RefusalRow = (i64, String, String, i32, String, String, Vec<u8>, i32, Option<i64>);

/// Dead letters of a message the broker has not yet confirmed; a whole payload's bytes are read
/// from the archive, at most `body_limit` of them.
pub async fn pending_dead_letters(
    pool: &PgPool,
    env: &Envelope,
    body_limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let rows: Vec<RefusalRow> = sqlx::query_as(
        "SELECT r.id, r.connector, r.routing_key, r.item_position, r.code, r.reason,
                CASE WHEN r.archive_id IS NULL THEN r.raw ELSE substring(a.body FROM 1 FOR $3) END,
                CASE WHEN r.archive_id IS NULL THEN length(r.raw) ELSE length(a.body) END,
                r.archive_id
         FROM refusals r LEFT JOIN raw_archive a ON a.id = r.archive_id
         WHERE r.agency = $1 AND r.message_id = $2 AND r.dead_lettered_at IS NULL ORDER BY r.item_position",
    )
    .bind(&env.agency)
    .bind(&env.message_id)
    .bind(i32::try_from(body_limit).unwrap_or(i32::MAX))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, connector, routing_key, position, code, reason, raw, full_bytes, archive_id)| DeadLetter {
            refusal_id: id,
            envelope: Envelope {
                agency: env.agency.clone(),
                connector,
                routing_key,
                message_id: env.message_id.clone(),
            },
            position,
            code,
            reason,
            raw,
            full_bytes: usize::try_from(full_bytes).unwrap_or_default(),
            archive_id,
        })
        .collect())
}

pub async fn mark_dead_lettered(pool: &PgPool, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query("UPDATE refusals SET dead_lettered_at = $2 WHERE id = ANY($1)")
        .bind(ids)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether a message is met for the first time or read again from the raw archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From the broker: a message the inbox already holds changes nothing.
    Arrival,
    /// A replay or reprocess (after a connector fix): the message goes through again. Event ids
    /// keep it idempotent; refusals that now apply are resolved; only new refusals are
    /// dead-lettered.
    Reprocess,
}

/// What storing a message did, for the runtime to decide sharing on: the events stored for the
/// first time, the stored records that moved to another person, and the dead letters.
pub struct Recorded {
    pub events: usize,
    pub refused: usize,
    pub kept: usize,
    pub conflicts: usize,
    pub stored: Vec<NewEvent>,
    pub moved: Vec<identity::Moved>,
    pub dead_letters: Vec<DeadLetter>,
}

/// Stores a message inside the caller's transaction (a bulk load stores many in one). `None`
/// when the inbox already held it: nothing was written. `kind_of` tells identity what kind of
/// agency issued each record.
pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    env: &Envelope,
    archive_id: i64,
    items: &[ReadyItem],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Option<Recorded>, StoreError> {
    let (mut events, mut refused, mut kept, mut conflicts) = (0usize, 0usize, 0usize, 0usize);
    for item in items {
        match item {
            ReadyItem::Events { events: e, .. } => events += e.len(),
            ReadyItem::Refused { .. } => refused += 1,
            ReadyItem::Kept { .. } => kept += 1,
        }
    }
    let outcome = if refused > 0 && events == 0 && kept == 0 {
        "refused"
    } else if refused > 0 {
        "partial"
    } else if events == 0 && kept > 0 {
        "kept"
    } else {
        "applied"
    };
    let inbox_sql = match mode {
        Mode::Arrival => {
            "INSERT INTO inbox (agency, message_id, connector, archive_id, outcome, items, events, refused, kept, processed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (agency, message_id) DO NOTHING"
        }
        Mode::Reprocess => {
            "INSERT INTO inbox (agency, message_id, connector, archive_id, outcome, items, events, refused, kept, processed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (agency, message_id) DO UPDATE SET archive_id = excluded.archive_id, outcome = excluded.outcome,
                items = excluded.items, events = excluded.events, refused = excluded.refused, kept = excluded.kept,
                processed_at = excluded.processed_at, detail = 'reprocessed'"
        }
    };
    let first_time = sqlx::query(inbox_sql)
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(&env.connector)
        .bind(archive_id)
        .bind(outcome)
        .bind(items.len() as i32)
        .bind(events as i32)
        .bind(refused as i32)
        .bind(kept as i32)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1;
    if !first_time {
        return Ok(None);
    }
    if events > 0 {
        identity::lock_index(tx).await?;
    }
    let subjects: Vec<&DraftSubject> = items
        .iter()
        .filter_map(|i| match i {
            ReadyItem::Events { subject, .. } => Some(subject),
            _ => None,
        })
        .collect();
    let linking = identity::link_all(tx, &subjects, &env.agency, kind_of, now).await?;
    let mut rows = EventRows::default();
    let mut links = linking.links.into_iter();
    let mut refusals = RefusalRows::default();
    for item in items {
        match item {
            ReadyItem::Events { position, subject, events } => {
                let link = links.next().unwrap_or(Link::Unidentified);
                record_rejections(tx, env, *position, subject, now).await?;
                let identifiers = Json::Array(
                    subject
                        .identifiers
                        .iter()
                        .map(|i| serde_json::json!({"scheme": i.scheme().as_str(), "value": i.value()}))
                        .collect(),
                );
                for e in events {
                    if let Link::Conflict(subjects) = &link {
                        conflicts += 1;
                        sqlx::query(
                            "INSERT INTO identity_conflicts (event_id, agency, message_id, identifiers, subject_ids, detected_at)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
                        )
                        .bind(e.event_id)
                        .bind(&env.agency)
                        .bind(&env.message_id)
                        .bind(&identifiers)
                        .bind(subjects)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    }
                    rows.push(e, &link, *position, &identifiers, subject);
                }
            }
            ReadyItem::Kept { position, label } => {
                sqlx::query(
                    "INSERT INTO kept_items (agency, connector, message_id, item_position, label, kept_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(&env.agency)
                .bind(&env.connector)
                .bind(&env.message_id)
                .bind(*position as i32)
                .bind(label)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            ReadyItem::Refused { position, refusal, raw } => refusals.push(*position, refusal, raw, archive_id),
        }
    }
    let still_refused = refusals.positions.clone();
    let dead_letters = refusals.insert(tx, env, now).await?;
    if mode == Mode::Reprocess {
        sqlx::query(
            "UPDATE refusals SET resolved_at = $4, resolution = 'reprocessed'
             WHERE agency = $1 AND message_id = $2 AND resolved_at IS NULL AND NOT (item_position = ANY($3))",
        )
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(&still_refused)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let stored = rows.insert(tx, env, now).await?;
    Ok(Some(Recorded { events, refused, kept, conflicts, stored, moved: linking.moved, dead_letters }))
}

/// Refusals of one message as column arrays, inserted with one statement (a file of 20,000 bad
/// rows is one round trip, not 20,000). A whole payload (position 0) is kept once, in the
/// archive; a refused row keeps its own bytes.
#[derive(Default)]
struct RefusalRows<'a> {
    positions: Vec<i32>,
    codes: Vec<&'static str>,
    reasons: Vec<&'a str>,
    raws: Vec<&'a [u8]>,
    archive_ids: Vec<Option<i64>>,
    /// The refused bytes, for the dead letters.
    full: Vec<&'a [u8]>,
    seen: std::collections::HashSet<i32>,
}

impl<'a> RefusalRows<'a> {
    fn push(&mut self, position: u32, refusal: &'a Refusal, raw: &'a [u8], archive_id: i64) {
        // One refusal per item: a second one for the same place adds nothing an operator needs.
        if !self.seen.insert(position as i32) {
            return;
        }
        let whole_payload = position == 0;
        self.positions.push(position as i32);
        self.codes.push(refusal.code);
        self.reasons.push(&refusal.reason);
        self.raws.push(if whole_payload { &[] } else { raw });
        self.archive_ids.push(whole_payload.then_some(archive_id));
        self.full.push(raw);
    }

    /// Inserts the refusals; returns the dead letters still to publish. Read again, an item
    /// still refused keeps its row, and is not dead-lettered twice.
    async fn insert(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        env: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeadLetter>, sqlx::Error> {
        if self.positions.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i32, Option<DateTime<Utc>>)> = sqlx::query_as(
            "INSERT INTO refusals (agency, connector, routing_key, message_id, item_position, code, reason, raw, refused_at, archive_id)
             SELECT $1, $2, $3, $4, t.position, t.code, t.reason, t.raw, $9, t.archive_id
             FROM UNNEST($5::int[], $6::text[], $7::text[], $8::bytea[], $10::bigint[]) AS t(position, code, reason, raw, archive_id)
             ON CONFLICT (agency, message_id, item_position) DO UPDATE SET code = excluded.code,
                reason = excluded.reason, raw = excluded.raw, archive_id = excluded.archive_id,
                resolved_at = NULL, resolution = NULL, resolved_by = NULL
             RETURNING id, item_position, dead_lettered_at",
        )
        .bind(&env.agency)
        .bind(&env.connector)
        .bind(&env.routing_key)
        .bind(&env.message_id)
        .bind(&self.positions)
        .bind(&self.codes)
        .bind(&self.reasons)
        .bind(&self.raws)
        .bind(now)
        .bind(&self.archive_ids)
        .fetch_all(&mut **tx)
        .await?;
        let fresh: std::collections::HashMap<i32, i64> =
            rows.into_iter().filter(|(_, _, dead)| dead.is_none()).map(|(id, position, _)| (position, id)).collect();
        let mut dead_letters = Vec::with_capacity(fresh.len());
        for (i, position) in self.positions.iter().enumerate() {
            let Some(id) = fresh.get(position) else { continue };
            dead_letters.push(DeadLetter {
                refusal_id: *id,
                envelope: env.clone(),
                position: *position,
                code: self.codes[i].to_string(),
                reason: self.reasons[i].to_string(),
                raw: self.full[i].to_vec(),
                full_bytes: self.full[i].len(),
                archive_id: self.archive_ids[i],
            });
        }
        Ok(dead_letters)
    }
}

/// Events of one message as column arrays, inserted with one UNNEST statement.
#[derive(Default)]
struct EventRows {
    ids: Vec<Uuid>,
    types: Vec<String>,
    classes: Vec<&'static str>,
    subjects: Vec<Option<Uuid>>,
    occurred: Vec<DateTime<Utc>>,
    positions: Vec<i32>,
    identifiers: Vec<Json>,
    names: Vec<Option<String>>,
    dobs: Vec<Option<chrono::NaiveDate>>,
    payloads: Vec<Json>,
    avro: Vec<Vec<u8>>,
}

impl EventRows {
    fn push(&mut self, e: &ReadyEvent, link: &Link, position: u32, identifiers: &Json, subject: &DraftSubject) {
        self.ids.push(e.event_id);
        self.types.push(e.event_type.clone());
        self.classes.push(e.data_class);
        self.subjects.push(match link {
            Link::Subject(id) => Some(*id),
            Link::Conflict(_) | Link::Unidentified => None,
        });
        self.occurred.push(e.occurred_at);
        self.positions.push(position as i32);
        self.identifiers.push(identifiers.clone());
        self.names.push(subject.name.clone());
        self.dobs
            .push(subject.date_of_birth.as_deref().and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()));
        self.payloads.push(e.payload.clone());
        self.avro.push(e.avro.clone());
    }

    /// Inserts the events and returns those newly stored (a re-read payload stores nothing twice).
    async fn insert(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        env: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewEvent>, sqlx::Error> {
        if self.ids.is_empty() {
            return Ok(Vec::new());
        }
        // ORDER BY ordinality keeps the item order, so `seq` follows the payload.
        let inserted = sqlx::query(
            "INSERT INTO events (event_id, event_type, data_class, subject_id, occurred_at, recorded_at, agency,
                connector, message_id, item_position, identifiers, person_name, date_of_birth, payload, avro)
             SELECT e.id, e.type, e.class, e.subject, e.occurred, $12, $13, $14, $15, e.position, e.identifiers,
                    e.name, e.dob, e.payload, e.avro
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::int[], $7::jsonb[],
                         $8::text[], $9::date[], $10::jsonb[], $11::bytea[])
                  WITH ORDINALITY AS e(id, type, class, subject, occurred, position, identifiers, name, dob, payload, avro, n)
             ORDER BY e.n
             ON CONFLICT (event_id) DO NOTHING
             RETURNING event_id",
        )
        .bind(&self.ids)
        .bind(&self.types)
        .bind(&self.classes)
        .bind(&self.subjects)
        .bind(&self.occurred)
        .bind(&self.positions)
        .bind(&self.identifiers)
        .bind(&self.names)
        .bind(&self.dobs)
        .bind(&self.payloads)
        .bind(&self.avro)
        .bind(now)
        .bind(&env.agency)
        .bind(&env.connector)
        .bind(&env.message_id)
        .fetch_all(&mut **tx)
        .await?;
        let inserted: std::collections::HashSet<Uuid> = inserted.iter().map(|r| r.get::<Uuid, _>(0)).collect();
        // Each record's identifiers, for linking later records to it (identity::link_all).
        sqlx::query(
            "INSERT INTO record_identifiers (event_id, scheme, value)
             SELECT DISTINCT e.id, i->>'scheme', i->>'value'
             FROM UNNEST($1::uuid[], $2::jsonb[]) AS e(id, identifiers)
             CROSS JOIN LATERAL jsonb_array_elements(e.identifiers) AS i
             WHERE e.id = ANY($3) AND i ? 'scheme' AND i ? 'value'
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.ids)
        .bind(&self.identifiers)
        .bind(inserted.iter().copied().collect::<Vec<Uuid>>())
        .execute(&mut **tx)
        .await?;
        let mut out = Vec::with_capacity(inserted.len());
        for (i, id) in self.ids.iter().enumerate() {
            if inserted.contains(id) {
                out.push(NewEvent {
                    event_id: *id,
                    subject_id: self.subjects[i],
                    event_type: self.types[i].clone(),
                    data_class: self.classes[i].to_string(),
                    source_agency: env.agency.clone(),
                    occurred_at: self.occurred[i],
                    payload: self.payloads[i].clone(),
                });
            }
        }
        Ok(out)
    }
}

async fn record_rejections(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    env: &Envelope,
    position: u32,
    subject: &DraftSubject,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for r in &subject.rejected {
        tracing::warn!(agency = %env.agency, message_id = %env.message_id, position, "identifier not used: {r}");
        sqlx::query(
            "INSERT INTO identifier_rejections (agency, message_id, item_position, scheme, value, reason, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(position as i32)
        .bind(r.scheme.as_str())
        .bind(&r.value)
        .bind(&r.reason)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
