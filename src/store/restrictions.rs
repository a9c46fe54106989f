//! Restrictions in the store (migration 0020): a record kept but not used while restricted.
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Restricts a record unless it is already; whether it was restricted now. Its projections are
/// removed while the restriction lasts, and deliveries not yet sent are stopped.
pub async fn restrict(
    tx: &mut Transaction<'_, Postgres>,
    event_id: Uuid,
    agency: &str,
    reason: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO restrictions (event_id, agency, reason, restricted_by, restricted_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_id) DO UPDATE SET reason = excluded.reason, restricted_by = excluded.restricted_by,
             restricted_at = excluded.restricted_at, lifted_by = NULL, lifted_at = NULL
         WHERE restrictions.lifted_at IS NOT NULL",
    )
    .bind(event_id)
    .bind(agency)
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("SELECT forget_projections($1)").bind([event_id]).execute(&mut **tx).await?;
    sqlx::query(
        "UPDATE outbox SET withheld_at_publish = $2
         WHERE event_id = $1 AND kind = 'delivery' AND published_at IS NULL AND withheld_at_publish IS NULL",
    )
    .bind(event_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Lifts a record's restriction and projects it again; whether there was one to lift.
pub async fn lift(
    tx: &mut Transaction<'_, Postgres>,
    event_id: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE restrictions SET lifted_by = $2, lifted_at = $3 WHERE event_id = $1 AND lifted_at IS NULL")
            .bind(event_id)
            .bind(by)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    // The projection function runs for the row inserted here, as for an event stored.
    sqlx::query("INSERT INTO reprojections SELECT * FROM events WHERE event_id = $1")
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM reprojections WHERE event_id = $1").bind(event_id).execute(&mut **tx).await?;
    Ok(true)
}

/// A restriction as an auditor sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Restriction {
    pub event_id: Uuid,
    pub agency: String,
    pub event_type: String,
    pub subject_id: Option<Uuid>,
    pub reason: String,
    pub restricted_by: String,
    pub restricted_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
}

/// Every restriction, newest first (lifted ones too).
pub async fn list(pool: &PgPool) -> Result<Vec<Restriction>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.event_id, r.agency, e.event_type, e.subject_id, r.reason, r.restricted_by, r.restricted_at, r.lifted_at
         FROM restrictions r JOIN events e USING (event_id) ORDER BY r.restricted_at DESC, r.event_id",
    )
    .fetch_all(pool)
    .await
}
