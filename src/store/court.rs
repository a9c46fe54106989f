//! What one court has of a person: the updates it was delivered (and not told to disregard), its
//! own records, and what the disclosure log shows was withheld from it. Nothing else is read for
//! a court user's pages.
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::corrections::CURRENT;

/// One update as the court has it: delivered to it (with the fields its delivery left out), or
/// its own record (`own`, nothing left out).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeenRecord {
    pub event_id: Uuid,
    pub subject_id: Uuid,
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

/// Whether `court` has the update `e`: delivered to it (confirmed by the broker, not since
/// retracted) or its own.
/// A delivery `o` that no notice has since taken back (a retraction, or an erasure after a
/// recall). A correction notice does not: the corrected update is delivered as well.
const NOT_TAKEN_BACK: &str =
    "NOT EXISTS (SELECT 1 FROM outbox r WHERE r.event_id = o.event_id AND r.recipient = o.recipient
                          AND r.kind IN ('retraction', 'erasure') AND r.refers_to = o.message_id)";

/// The update `e` is one the court `$1` has: its own, or delivered to it (confirmed) about the
/// same person and not taken back.
fn court_has() -> String {
    format!(
        "(e.agency = $1 OR EXISTS (
        SELECT 1 FROM outbox o WHERE o.event_id = e.event_id AND o.recipient = $1 AND o.kind = 'delivery'
          AND o.published_at IS NOT NULL AND o.subject_id = e.subject_id
          AND {NOT_TAKEN_BACK}))"
    )
}

/// Every update about `subject` that `court` was delivered (confirmed by the broker, not since
/// retracted) or recorded itself, in event time.
pub async fn seen(pool: &PgPool, court: &str, subject: Uuid) -> Result<Vec<SeenRecord>, sqlx::Error> {
    seen_of(pool, court, &[subject]).await
}

/// [`seen`] for several people at once (a court list).
pub async fn seen_of(pool: &PgPool, court: &str, subjects: &[Uuid]) -> Result<Vec<SeenRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT e.event_id, e.subject_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.recorded_at,
                e.person_name, e.date_of_birth, e.identifiers, e.payload, o.withheld_fields, o.catch_up, false AS own
         FROM events e JOIN outbox o ON o.event_id = e.event_id AND o.recipient = $1
         WHERE e.subject_id = ANY($2) AND o.subject_id = e.subject_id AND o.kind = 'delivery'
           AND o.published_at IS NOT NULL AND {NOT_TAKEN_BACK} AND {CURRENT}
         UNION ALL
         SELECT e.event_id, e.subject_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.recorded_at,
                e.person_name, e.date_of_birth, e.identifiers, e.payload, '{{}}'::text[], false, true
         FROM events e WHERE e.subject_id = ANY($2) AND e.agency = $1 AND {CURRENT}
         ORDER BY 6, 1"
    )))
    .bind(court)
    .bind(subjects)
    .fetch_all(pool)
    .await
}

/// (person, event type, data class, reason, how many) of the updates about these people whose
/// latest decision for `court` is to withhold them.
pub async fn withheld(
    pool: &PgPool,
    court: &str,
    subjects: &[Uuid],
) -> Result<Vec<(Uuid, String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.subject_id, e.event_type, e.data_class, coalesce(l.reason, ''), count(*)
         FROM events e
         CROSS JOIN LATERAL (SELECT decision, reason FROM disclosure_log_by_stage
                             WHERE event_id = e.event_id AND recipient = $1 ORDER BY id DESC LIMIT 1) l
         WHERE e.subject_id = ANY($2) AND l.decision = 'withhold'
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4",
    )
    .bind(court)
    .bind(subjects)
    .fetch_all(pool)
    .await
}

/// Why a person is on a court's list for a day: (person, what says so, the event that says it),
/// from records the court has — a result for that day or adjourning to it, a charge or bail
/// decision setting it as the court date, an order's review date. `codes` are the court's codes
/// as the feeds name it (e.g. B05LV00).
pub async fn listed(
    pool: &PgPool,
    court: &str,
    codes: &[String],
    day: NaiveDate,
) -> Result<Vec<(Uuid, String, Uuid)>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH named (subject_id, why, event_id) AS (
             SELECT subject_id, 'a result for this day', event_id FROM hearings
              WHERE court = ANY($2) AND hearing_date = $3
             UNION ALL
             SELECT subject_id, 'adjourned to this day', event_id FROM hearings
              WHERE next_hearing_date = $3 AND coalesce(next_court, court) = ANY($2)
             UNION ALL
             SELECT subject_id, 'charged to appear this day', event_id FROM charges
              WHERE next_court_date = $3 AND next_court = ANY($2)
             UNION ALL
             SELECT subject_id, 'bailed or remanded to this day', event_id FROM bail_decisions
              WHERE next_court_date = $3 AND next_court = ANY($2)
             UNION ALL
             SELECT subject_id, 'order review', event_id FROM orders
              WHERE review_date = $3 AND court = ANY($2))
         SELECT DISTINCT n.subject_id, n.why, n.event_id FROM named n JOIN events e ON e.event_id = n.event_id
         WHERE n.subject_id IS NOT NULL AND e.subject_id = n.subject_id AND {}
         ORDER BY 1, 2",
        court_has()
    )))
    .bind(court)
    .bind(codes)
    .bind(day)
    .fetch_all(pool)
    .await
}
