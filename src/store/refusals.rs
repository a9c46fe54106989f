//! Refusals (the dead-letter outbox) and kept items: reads for the demo and the metrics.
use sqlx::PgPool;

/// (connector, reason code, refusals).
pub async fn per_connector_and_code(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT connector, code, count(*) FROM refusals GROUP BY 1, 2 ORDER BY 1, 2").fetch_all(pool).await
}

/// Refusals not yet replayed or purged.
pub async fn open(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM refusals WHERE resolved_at IS NULL").fetch_one(pool).await
}

/// Every refusal, oldest first: (connector, message id, item position, reason).
pub async fn all(pool: &PgPool) -> Result<Vec<(String, String, i32, String)>, sqlx::Error> {
    sqlx::query_as("SELECT connector, message_id, item_position, reason FROM refusals ORDER BY id")
        .fetch_all(pool)
        .await
}

/// Items kept and not routed (event types Tracker does not handle): (message id, label).
pub async fn kept_items(pool: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT message_id, label FROM kept_items ORDER BY message_id").fetch_all(pool).await
}
