//! What operators did (replay, purge, identity decisions), with who did it.
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// Records an operator's action with who did it, in the transaction that does it.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    by: &str,
    action: &str,
    target: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO operator_actions (at, actor, action, target) VALUES ($1, $2, $3, $4)")
        .bind(at)
        .bind(by)
        .bind(action)
        .bind(target)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The latest `limit` actions, newest first: (at, actor, action, target).
pub async fn latest(pool: &PgPool, limit: i64) -> Result<Vec<(DateTime<Utc>, String, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT at, actor, action, target FROM operator_actions ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(pool)
        .await
}
