//! The person index: agency identifiers seen together link to one subject. Identifiers that
//! point at two subjects are never merged: the record is linked to neither and raised for review.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::connectors::mapping::DraftSubject;

/// Serialises identity decisions across hub processes (one advisory lock for the index).
const INDEX_LOCK: i64 = 0x0074_7261_636b_6572;

/// What linking an item's identifiers found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Subject(Uuid),
    /// The identifiers belong to these different subjects.
    Conflict(Vec<Uuid>),
    /// No identifier passed its check.
    Unidentified,
}

pub async fn lock_index(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INDEX_LOCK)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Links `subject`'s valid identifiers (call with the index locked).
pub async fn link(
    tx: &mut Transaction<'_, Postgres>,
    subject: &DraftSubject,
    agency: &str,
    now: DateTime<Utc>,
) -> Result<Link, sqlx::Error> {
    if subject.identifiers.is_empty() {
        return Ok(Link::Unidentified);
    }
    let schemes: Vec<&str> = subject
        .identifiers
        .iter()
        .map(|i| i.scheme().as_str())
        .collect();
    let values: Vec<&str> = subject.identifiers.iter().map(|i| i.value()).collect();
    let found: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT si.subject_id FROM subject_identifiers si
         JOIN UNNEST($1::text[], $2::text[]) AS k(scheme, value) ON si.scheme = k.scheme AND si.value = k.value
         ORDER BY 1",
    )
    .bind(&schemes)
    .bind(&values)
    .fetch_all(&mut **tx)
    .await?;
    let subject_id = match found.as_slice() {
        [] => {
            let id = Uuid::new_v4();
            sqlx::query("INSERT INTO subjects (subject_id, created_at) VALUES ($1, $2)")
                .bind(id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            id
        }
        [one] => *one,
        many => return Ok(Link::Conflict(many.to_vec())),
    };
    sqlx::query(
        "INSERT INTO subject_identifiers (scheme, value, subject_id, source_agency, first_seen_at)
         SELECT k.scheme, k.value, $3, $4, $5 FROM UNNEST($1::text[], $2::text[]) AS k(scheme, value)
         ON CONFLICT (scheme, value) DO NOTHING",
    )
    .bind(&schemes)
    .bind(&values)
    .bind(subject_id)
    .bind(agency)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if subject.name.is_some() || subject.date_of_birth.is_some() {
        let dob = subject
            .date_of_birth
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        sqlx::query(
            "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(subject_id)
        .bind(subject.name.clone().unwrap_or_default())
        .bind(dob)
        .bind(agency)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Link::Subject(subject_id))
}

/// Finds the subject an identifier belongs to.
pub async fn find(
    pool: &sqlx::PgPool,
    scheme: &str,
    value: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT subject_id FROM subject_identifiers WHERE scheme = $1 AND value = $2",
    )
    .bind(scheme)
    .bind(value)
    .fetch_optional(pool)
    .await
}
