//! The consultation log's rows: appended one at a time under the chain's lock, read in order to
//! verify the chain and listed for auditors.
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// One consultation, as stored and hashed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Consultation {
    pub viewer: String,
    pub role: String,
    pub court: Option<String>,
    pub subject_id: Option<Uuid>,
    pub view: String,
    pub purpose: String,
    /// `shown` or `refused`.
    pub outcome: String,
    pub viewed_at: DateTime<Utc>,
}

/// A stored entry with its chain links.
#[derive(sqlx::FromRow)]
pub struct ChainedConsultation {
    pub id: i64,
    pub prev_hash: String,
    pub hash: String,
    #[sqlx(flatten)]
    pub entry: Consultation,
}

/// The hash of the last entry (none while the log is empty). Call with the chain locked.
pub async fn last_hash(tx: &mut Transaction<'_, Postgres>) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT hash FROM consultation_log ORDER BY id DESC LIMIT 1").fetch_optional(&mut **tx).await
}

pub async fn insert_chained(
    tx: &mut Transaction<'_, Postgres>,
    c: &Consultation,
    prev_hash: &str,
    hash: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO consultation_log (viewer, role, court, subject_id, view, purpose, outcome, viewed_at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(&c.viewer)
    .bind(&c.role)
    .bind(&c.court)
    .bind(c.subject_id)
    .bind(&c.view)
    .bind(&c.purpose)
    .bind(&c.outcome)
    .bind(c.viewed_at)
    .bind(prev_hash)
    .bind(hash)
    .fetch_one(&mut **tx)
    .await
}

/// Every entry with its chain links, in log order.
pub async fn chained(pool: &PgPool) -> Result<Vec<ChainedConsultation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, prev_hash, hash, viewer, role, court, subject_id, view, purpose, outcome, viewed_at
         FROM consultation_log ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// The latest entries, newest first, optionally about one person.
pub async fn latest(pool: &PgPool, subject: Option<Uuid>, limit: i64) -> Result<Vec<(i64, Consultation)>, sqlx::Error> {
    let rows: Vec<ChainedConsultation> = sqlx::query_as(
        "SELECT id, prev_hash, hash, viewer, role, court, subject_id, view, purpose, outcome, viewed_at
         FROM consultation_log WHERE $1::uuid IS NULL OR subject_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.entry)).collect())
}
