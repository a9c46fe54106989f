//! Events: a batch's events written as column arrays with one statement; projections follow
//! by one statement trigger over the statement's rows (migrations/0031).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::Row;
use uuid::Uuid;

use super::corrections::CURRENT;

use super::NewEvent;
use super::message::{Envelope, ReadyEvent};
use crate::connectors::mapping::DraftSubject;
use crate::domain::names::AgencyId;

/// Events of a batch of messages as column arrays, inserted with one UNNEST statement. The
/// columns borrow from the batch's messages (payloads are shared, not copied: copying them was a
/// fifth of the hub's time recording a batch).
#[derive(Default)]
pub struct EventRows<'a> {
    /// The message (its index in the batch) each row comes from.
    owners: Vec<usize>,
    agencies: Vec<&'a str>,
    connectors: Vec<&'a str>,
    message_ids: Vec<&'a str>,
    ids: Vec<Uuid>,
    types: Vec<&'a str>,
    classes: Vec<&'static str>,
    subjects: Vec<Option<Uuid>>,
    occurred: Vec<DateTime<Utc>>,
    positions: Vec<i32>,
    identifiers: Vec<Json>,
    names: Vec<Option<&'a str>>,
    dobs: Vec<Option<chrono::NaiveDate>>,
    payloads: Vec<&'a Arc<Json>>,
    avro: Vec<&'a [u8]>,
    avro_schemas: Vec<&'a [u8]>,
    record_keys: Vec<Option<&'a str>>,
}

impl<'a> EventRows<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        owner: usize,
        env: &'a Envelope,
        e: &'a ReadyEvent,
        subject_id: Option<Uuid>,
        position: u32,
        identifiers: &Json,
        subject: &'a DraftSubject,
    ) {
        self.owners.push(owner);
        self.agencies.push(env.agency.as_str());
        self.connectors.push(env.connector.as_str());
        self.message_ids.push(env.message_id.as_str());
        self.ids.push(e.event_id);
        self.types.push(&e.event_type);
        self.classes.push(e.data_class);
        self.subjects.push(subject_id);
        self.occurred.push(e.occurred_at);
        self.positions.push(position as i32);
        self.identifiers.push(identifiers.clone());
        self.names.push(subject.name.as_deref());
        self.dobs
            .push(subject.date_of_birth.as_deref().and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()));
        self.payloads.push(&e.payload);
        self.avro.push(&e.avro);
        self.avro_schemas.push(&e.avro_schema);
        self.record_keys.push(e.record_key.as_deref());
    }

    /// Inserts the events and returns those newly stored (a re-read payload stores nothing
    /// twice), each with the message it came from.
    pub async fn insert(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(usize, NewEvent)>, sqlx::Error> {
        if self.ids.is_empty() {
            return Ok(Vec::new());
        }
        // ORDER BY ordinality keeps the item order, so `seq` follows the payload. Each record's
        // identifiers, for linking later records to it (identity::link_all), are written by the
        // same statement from what the insert returns: only records stored for the first time
        // have rows written, so there is no duplicate to refuse and the table has no key
        // (migration 0035). A second statement sent the identifiers again with a flag per row,
        // and cost a round trip and a second parse of every record's identifiers.
        let inserted = sqlx::query(
            "WITH stored AS (
                 INSERT INTO events (event_id, event_type, data_class, subject_id, occurred_at, recorded_at, agency,
                    connector, message_id, item_position, identifiers, person_name, date_of_birth, payload, avro,
                    schema_fingerprint, record_key)
                 SELECT e.id, e.type, e.class, e.subject, e.occurred, $12, e.agency, e.connector, e.message_id, e.position,
                        e.identifiers, e.name, e.dob, e.payload, e.avro, e.avro_schema, e.record_key
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::int[], $7::jsonb[],
                             $8::text[], $9::date[], $10::jsonb[], $11::bytea[], $13::text[], $14::text[], $15::text[],
                             $16::bytea[], $17::text[])
                      WITH ORDINALITY AS e(id, type, class, subject, occurred, position, identifiers, name, dob, payload, avro,
                                           agency, connector, message_id, avro_schema, record_key, n)
                 ORDER BY e.n
                 ON CONFLICT (event_id) DO NOTHING
                 RETURNING event_id, identifiers),
             identified AS (
                 INSERT INTO record_identifiers (event_id, scheme, value)
                 SELECT DISTINCT s.event_id, i->>'scheme', i->>'value'
                 FROM stored s CROSS JOIN LATERAL jsonb_array_elements(s.identifiers) AS i
                 WHERE i ? 'scheme' AND i ? 'value')
             SELECT event_id FROM stored",
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
        .bind(self.payloads.iter().map(|p| &***p).collect::<Vec<&Json>>())
        .bind(&self.avro)
        .bind(now)
        .bind(&self.agencies)
        .bind(&self.connectors)
        .bind(&self.message_ids)
        .bind(&self.avro_schemas)
        .bind(&self.record_keys)
        .fetch_all(&mut **tx)
        .await?;
        let inserted: std::collections::HashSet<Uuid> = inserted.iter().map(|r| r.get::<Uuid, _>(0)).collect();
        let EventRows { owners, agencies, ids, types, classes, subjects, occurred, payloads, .. } = self;
        let mut out = Vec::with_capacity(inserted.len());
        for (i, id) in ids.iter().enumerate() {
            if inserted.contains(id) {
                out.push((
                    owners[i],
                    NewEvent {
                        event_id: *id,
                        subject_id: subjects[i],
                        event_type: types[i].to_string(),
                        data_class: classes[i].to_string(),
                        source_agency: agencies[i].into(),
                        occurred_at: occurred[i],
                        payload: Arc::clone(payloads[i]),
                    },
                ));
            }
        }
        Ok(out)
    }
}

/// The person a stored record belongs to now (none while it is held or unidentified).
pub async fn subject_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    event_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT subject_id FROM events WHERE event_id = $1").bind(event_id).fetch_one(&mut **tx).await
}

/// Stored records as linking reads them: those alike in everything linking reads (agency,
/// identifiers, person, conflict status) come as one group, with their ids and store order.
#[derive(sqlx::FromRow)]
pub struct LinkingRecords {
    pub agency: AgencyId,
    pub identifiers: Json,
    pub subject_id: Option<Uuid>,
    pub status: Option<String>,
    pub event_ids: Vec<Uuid>,
    pub seqs: Vec<i64>,
}

/// Every stored record holding one of these identifiers, other than the records `known`, in
/// groups of records alike.
///
/// Linking walks from identifiers to the records holding them and on to their other identifiers;
/// a step names the records it has already read as `known`, which are left out before their
/// rows are read (read again, each would be an index probe and a heap visit for nothing). `known`
/// is read as `NOT IN (SELECT unnest(..))` so that PostgreSQL hashes it once whatever the plan.
pub async fn for_linking(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    schemes: &[&str],
    values: &[&str],
    known: &[Uuid],
) -> Result<Vec<LinkingRecords>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.agency, e.identifiers, e.subject_id, c.status,
                array_agg(e.event_id ORDER BY e.seq) AS event_ids, array_agg(e.seq ORDER BY e.seq) AS seqs
         FROM events e LEFT JOIN identity_conflicts c USING (event_id)
         WHERE e.event_id IN (SELECT r.event_id FROM UNNEST($1::text[], $2::text[]) AS k(scheme, value)
                              JOIN record_identifiers r ON r.scheme = k.scheme AND r.value = k.value
                              WHERE r.event_id NOT IN (SELECT unnest($3::uuid[])))
         GROUP BY e.agency, e.identifiers, e.subject_id, c.status
         ORDER BY min(e.seq)",
    )
    .bind(schemes)
    .bind(values)
    .bind(known)
    .fetch_all(&mut **tx)
    .await
}

/// The identifiers (as stored, a JSON array) of each of these records.
pub async fn identifiers_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    events: &[Uuid],
) -> Result<Vec<Json>, sqlx::Error> {
    sqlx::query_scalar("SELECT identifiers FROM events WHERE event_id = ANY($1)")
        .bind(events)
        .fetch_all(&mut **tx)
        .await
}

const UPDATE_COLUMNS: &str = "event_id, subject_id, event_type, data_class, agency, occurred_at, payload";

/// These stored updates, in the order they were stored.
pub async fn updates(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    events: &[Uuid],
) -> Result<Vec<NewEvent>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {UPDATE_COLUMNS} FROM events WHERE event_id = ANY($1) ORDER BY seq"
    )))
    .bind(events)
    .fetch_all(&mut **tx)
    .await
}

/// One stored update.
pub async fn update<'e, E: sqlx::PgExecutor<'e>>(executor: E, event_id: Uuid) -> Result<Option<NewEvent>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {UPDATE_COLUMNS} FROM events WHERE event_id = $1")))
        .bind(event_id)
        .fetch_optional(executor)
        .await
}

/// (event, person, event type, occurred at).
pub type OrderMarkRow = (Uuid, Uuid, String, DateTime<Utc>);

/// (event, person, event type, occurred at) of every order mark about these people: supervision
/// started, order terminated, and orders made of the types that begin supervision (community and
/// suspended sentence orders, `CO` and `SSO`). The condition is the partial index's own
/// (`events_order_marks_covering`, migration 0043), which holds all the read returns: the read
/// never visits the events themselves, scattered over the months a person's records arrived in.
pub async fn order_marks(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    subjects: &[Uuid],
) -> Result<Vec<OrderMarkRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT event_id, subject_id, event_type, occurred_at FROM events e
         WHERE subject_id = ANY($1)
           AND (event_type IN ('SupervisionStarted', 'OrderTerminated')
                OR (event_type = 'OrderMade' AND payload->>'order_type' IN ('CO', 'SSO')))
           AND {CURRENT}"
    )))
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await
}

/// An update about a person, for one recipient, as the sharing queries read it.
#[derive(sqlx::FromRow)]
pub struct RecipientUpdate {
    pub person: Uuid,
    pub recipient: AgencyId,
    #[sqlx(flatten)]
    pub event: NewEvent,
}

impl RecipientUpdate {
    pub fn into_parts(self) -> (Uuid, AgencyId, NewEvent) {
        (self.person, self.recipient, self.event)
    }
}

/// For each (person, recipient) pair, in order: updates about the person not in `exclude`, not
/// the recipient's own and not yet decided for it, in `occurred_at` order.
///
/// Each person's updates are looked up by person (a lateral subquery, so through the index on
/// `subject_id`): joined as a whole, the planner hashed a sequential scan of every stored event
/// while the table was under a few hundred thousand rows, 40-65 ms a call that found nothing (most
/// people coming into scope are new). `exclude` (a run's thousands of updates) is read as
/// `NOT IN (SELECT unnest(..))`, which PostgreSQL hashes once: `NOT (id = ANY($3))` is hashed only
/// while the plan is custom, and compares every row with every id once it goes generic.
pub async fn undecided_for(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    subjects: &[Uuid],
    recipients: &[AgencyId],
    exclude: &[Uuid],
) -> Result<Vec<RecipientUpdate>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.subject_id AS person, p.recipient, e.event_id, e.subject_id, e.event_type, e.data_class, e.agency,
                e.occurred_at, e.payload
         FROM UNNEST($1::uuid[], $2::text[]) WITH ORDINALITY AS p(subject_id, recipient, n)
         CROSS JOIN LATERAL (
             SELECT e.event_id, e.subject_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.payload, e.seq
             FROM events e
             WHERE e.subject_id = p.subject_id AND e.agency <> p.recipient
               AND e.event_id NOT IN (SELECT unnest($3::uuid[]))
               AND NOT EXISTS (SELECT 1 FROM disclosure_log l
                               WHERE l.event_id = e.event_id AND l.recipient = p.recipient AND l.stage = 'decided')
               AND {CURRENT}) e
         ORDER BY p.n, e.occurred_at, e.seq"
    )))
    .bind(subjects)
    .bind(recipients)
    .bind(exclude)
    .fetch_all(&mut **tx)
    .await
}
