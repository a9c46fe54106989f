//! What one court has of a person: the updates it was delivered (and not told to disregard), its
//! own records, and what the disclosure log shows was withheld from it. Nothing else is read for
//! a court user's pages.
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;
use sqlx::PgPool;
use uuid::Uuid;

/// One update as the court has it: delivered to it (with the fields its delivery left out), or
/// its own record (`own`, nothing left out).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeenRecord {
    pub event_id: Uuid,
    pub event_type: String,
    pub data_class: String,
    pub agency: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub person_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub identifiers: Json,
    pub payload: Json,
    pub withheld_fields: Vec<String>,
    pub catch_up: bool,
    pub own: bool,
}

/// Every update about `subject` that `court` was delivered (confirmed by the broker, not since
/// retracted) or recorded itself, in event time.
pub async fn seen(pool: &PgPool, court: &str, subject: Uuid) -> Result<Vec<SeenRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.event_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.recorded_at, e.person_name,
                e.date_of_birth, e.identifiers, e.payload, o.withheld_fields, o.catch_up, false AS own
         FROM events e JOIN outbox o ON o.event_id = e.event_id AND o.recipient = $1
         WHERE e.subject_id = $2 AND o.subject_id = $2 AND o.kind = 'delivery' AND o.published_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.event_id = o.event_id AND r.recipient = o.recipient
                           AND r.kind = 'retraction' AND r.refers_to = o.message_id)
         UNION ALL
         SELECT e.event_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.recorded_at, e.person_name,
                e.date_of_birth, e.identifiers, e.payload, '{}'::text[], false, true
         FROM events e WHERE e.subject_id = $2 AND e.agency = $1
         ORDER BY 5, 1",
    )
    .bind(court)
    .bind(subject)
    .fetch_all(pool)
    .await
}

/// (event type, data class, reason, how many) of the updates about `subject` whose latest
/// decision for `court` is to withhold them.
pub async fn withheld(
    pool: &PgPool,
    court: &str,
    subject: Uuid,
) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.event_type, e.data_class, coalesce(l.reason, ''), count(*)
         FROM events e
         CROSS JOIN LATERAL (SELECT decision, reason FROM disclosure_log
                             WHERE event_id = e.event_id AND recipient = $1 ORDER BY id DESC LIMIT 1) l
         WHERE e.subject_id = $2 AND l.decision = 'withhold'
         GROUP BY 1, 2, 3 ORDER BY 1, 3",
    )
    .bind(court)
    .bind(subject)
    .fetch_all(pool)
    .await
}
