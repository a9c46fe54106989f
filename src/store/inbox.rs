//! The inbox: one row per message processed, with its outcome and counts. Reads for the demo,
//! the metrics and the tools.
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Whether the hub has committed this message.
pub async fn is_processed(pool: &PgPool, agency: &str, message_id: &str) -> Result<bool, sqlx::Error> {
    let done: Option<i32> = sqlx::query_scalar("SELECT 1 FROM inbox WHERE agency = $1 AND message_id = $2")
        .bind(agency)
        .bind(message_id)
        .fetch_optional(pool)
        .await?;
    Ok(done.is_some())
}

/// Messages per publishing agency.
#[derive(Debug, sqlx::FromRow)]
pub struct AgencyCounts {
    pub agency: String,
    pub messages: i64,
    /// Applied in whole or in part.
    pub applied: i64,
    pub refused: i64,
    pub kept: i64,
    pub events: i64,
}

pub async fn per_agency(pool: &PgPool) -> Result<Vec<AgencyCounts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT agency, count(*) AS messages, count(*) FILTER (WHERE outcome IN ('applied', 'partial')) AS applied,
                sum(refused) AS refused, sum(kept) AS kept, sum(events) AS events
         FROM inbox GROUP BY agency ORDER BY agency",
    )
    .fetch_all(pool)
    .await
}

/// (connector, messages received, messages applied in whole or part or kept).
pub async fn per_connector(pool: &PgPool) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, count(*), count(*) FILTER (WHERE outcome IN ('applied', 'partial', 'kept'))
         FROM inbox GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// (connector, messages, applied in whole or part or kept, refused in whole or part).
pub async fn outcomes_per_connector(pool: &PgPool) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, count(*), count(*) FILTER (WHERE outcome IN ('applied', 'partial', 'kept')),
                count(*) FILTER (WHERE outcome IN ('refused', 'partial'))
         FROM inbox GROUP BY connector ORDER BY connector",
    )
    .fetch_all(pool)
    .await
}

/// When each connector last had a message processed.
pub async fn last_per_connector(pool: &PgPool) -> Result<Vec<(String, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as("SELECT connector, max(processed_at) FROM inbox GROUP BY connector").fetch_all(pool).await
}
