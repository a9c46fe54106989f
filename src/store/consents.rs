//! Consent records (from the treatment feed, and recorded by operators): an operator's record,
//! a person's history, and the grants about to lapse (for the alerts).
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The grants in force whose last covered day falls between `from` and `to`, soonest first:
/// (subject, scope, expiry date).
pub async fn grants_expiring(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(Uuid, String, NaiveDate)>, sqlx::Error> {
    // The record now in force per subject and scope: a grant whose last covered day is near.
    sqlx::query_as(
        "SELECT subject_id, scope, expiry_date FROM (
           SELECT DISTINCT ON (subject_id, scope) subject_id, scope, decision, expiry_date FROM consents
           WHERE subject_id IS NOT NULL ORDER BY subject_id, scope, ordinal DESC) latest
         WHERE decision = 'G' AND expiry_date IS NOT NULL AND expiry_date >= $1 AND expiry_date <= $2
         ORDER BY expiry_date",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// Records an operator's consent decision (`G` or `W`) for a scope (`ALL`, `CRT`, `PRB`).
#[allow(clippy::too_many_arguments)]
pub async fn insert_operator_record(
    pool: &PgPool,
    subject: Uuid,
    decision: &str,
    scope: &str,
    effective: NaiveDate,
    expiry: Option<NaiveDate>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consents (event_id, subject_id, source, decision, scope, effective_date, expiry_date, recorded_at, decided_by)
         VALUES ($1, $2, 'operator', $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::new_v4())
    .bind(subject)
    .bind(decision)
    .bind(scope)
    .bind(effective)
    .bind(expiry)
    .bind(now)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}

/// One consent record as a person's history shows it.
#[derive(serde::Serialize, sqlx::FromRow)]
pub struct ConsentRow {
    pub source: String,
    pub decision: String,
    pub scope: String,
    pub effective_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
    pub decided_by: Option<String>,
}

/// A person's consent records in the order applied.
pub async fn history(pool: &PgPool, subject: Uuid) -> Result<Vec<ConsentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT source, decision, scope, effective_date, expiry_date, recorded_at, decided_by FROM consents
         WHERE subject_id = $1 ORDER BY ordinal",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
}

/// (event, person, decision, scope, effective, expiry).
pub type ConsentRecordRow = (Uuid, Uuid, String, String, Option<NaiveDate>, Option<NaiveDate>);

/// (event, person, decision, scope, effective, expiry) of every consent record about these people, in
/// the order applied.
pub async fn of_people(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    subjects: &[Uuid],
) -> Result<Vec<ConsentRecordRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, subject_id, decision, scope, effective_date, expiry_date FROM consents WHERE subject_id = ANY($1) ORDER BY ordinal",
    )
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await
}
