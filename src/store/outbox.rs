//! The outbox: deliveries and notices decided and waiting for (or confirmed by) the broker.
//! Reads for the demo and the metrics; the publisher's own queries are in `runtime::outbox`.
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Deliveries decided and neither confirmed nor withheld at publish yet.
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL AND withheld_at_publish IS NULL")
        .fetch_one(pool)
        .await
}

/// The backlog and when its oldest entry was decided.
pub async fn backlog_and_oldest(pool: &PgPool) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), min(decided_at) FROM outbox WHERE published_at IS NULL AND withheld_at_publish IS NULL",
    )
    .fetch_one(pool)
    .await
}

/// (recipient, deliveries confirmed).
pub async fn confirmed_deliveries(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT recipient, count(*) FROM outbox WHERE published_at IS NOT NULL AND kind = 'delivery'
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// (recipient, kind, notices confirmed).
pub async fn confirmed_notices(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT recipient, kind, count(*) FROM outbox WHERE published_at IS NOT NULL AND kind <> 'delivery'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}

/// One confirmed delivery or notice as the demo lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Published {
    pub recipient: String,
    /// The person's first known name, or `?`.
    pub person: String,
    /// The event type, or `RETRACTION of <event type>` for a notice.
    pub what: String,
    pub catch_up: bool,
    pub withheld_fields: Vec<String>,
}

/// Everything confirmed, per recipient in publishing order.
pub async fn published(pool: &PgPool) -> Result<Vec<Published>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.recipient,
                coalesce((SELECT name FROM subject_details d WHERE d.subject_id = e.subject_id
                          ORDER BY first_seen_at LIMIT 1), '?') AS person,
                CASE o.kind WHEN 'delivery' THEN e.event_type ELSE 'RETRACTION of ' || e.event_type END AS what,
                o.catch_up, o.withheld_fields
         FROM outbox o JOIN events e USING (event_id) WHERE o.published_at IS NOT NULL ORDER BY o.recipient, o.id",
    )
    .fetch_all(pool)
    .await
}
