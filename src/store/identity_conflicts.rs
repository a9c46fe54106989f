//! Identity conflicts: records held because their identifiers led to two people, and the
//! operator's decision on them.
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Conflict {
    pub id: i64,
    pub event_id: Uuid,
    pub agency: String,
    pub message_id: String,
    pub identifiers: serde_json::Value,
    pub subject_ids: Vec<Uuid>,
    pub detected_at: DateTime<Utc>,
    pub status: String,
    pub decided_by: Option<String>,
}

const COLUMNS: &str = "id, event_id, agency, message_id, identifiers, subject_ids, detected_at, status, decided_by";

/// Every conflict (or only the open ones), oldest first.
pub async fn list(pool: &PgPool, open_only: bool) -> Result<Vec<Conflict>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identity_conflicts WHERE NOT $1 OR status = 'open' ORDER BY id"
    )))
    .bind(open_only)
    .fetch_all(pool)
    .await
}

/// One conflict, locked for the decision.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<Option<Conflict>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM identity_conflicts WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Records the decision on every record the conflict holds (a message's events share one);
/// returns their event ids.
pub async fn decide_held(
    tx: &mut Transaction<'_, Postgres>,
    conflict: &Conflict,
    status: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE identity_conflicts SET status = $4, decided_by = $5, decided_at = $6
         WHERE status = 'open' AND agency = $1 AND message_id = $2 AND identifiers = $3 RETURNING event_id",
    )
    .bind(&conflict.agency)
    .bind(&conflict.message_id)
    .bind(&conflict.identifiers)
    .bind(status)
    .bind(by)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}
