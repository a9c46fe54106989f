//! Events: a message's events written as column arrays with one statement; projections follow
//! by trigger (migrations/0002).
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::Row;
use uuid::Uuid;

use super::NewEvent;
use super::message::{Envelope, ReadyEvent};
use crate::connectors::mapping::DraftSubject;
use crate::identity::Link;

/// Events of one message as column arrays, inserted with one UNNEST statement.
#[derive(Default)]
pub(super) struct EventRows {
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
    pub(super) fn push(
        &mut self,
        e: &ReadyEvent,
        link: &Link,
        position: u32,
        identifiers: &Json,
        subject: &DraftSubject,
    ) {
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
    pub(super) async fn insert(
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
                    source_agency: env.agency.to_string(),
                    occurred_at: self.occurred[i],
                    payload: self.payloads[i].clone(),
                });
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
