//! People as the store holds them, to read: one person's identifiers, details and timeline (for
//! `person show` and subject access), and a summary per person for the demo.
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// One person: id, first known name, identifiers, and events per agency.
#[derive(Debug, sqlx::FromRow)]
pub struct PersonSummary {
    pub subject_id: uuid::Uuid,
    pub name: String,
    pub identifiers: Option<String>,
    pub events_per_agency: String,
}

pub async fn summaries(pool: &PgPool) -> Result<Vec<PersonSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.subject_id,
                coalesce((SELECT name FROM subject_details d WHERE d.subject_id = s.subject_id
                          ORDER BY first_seen_at LIMIT 1), '') AS name,
                (SELECT string_agg(scheme || ' ' || value, ', ' ORDER BY scheme) FROM subject_identifiers i
                 WHERE i.subject_id = s.subject_id) AS identifiers,
                coalesce((SELECT string_agg(agency || ' ' || n, ', ' ORDER BY agency)
                          FROM (SELECT agency, count(*) n FROM events e WHERE e.subject_id = s.subject_id
                                GROUP BY agency) a), '') AS events_per_agency
         FROM subjects s ORDER BY 2",
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct LinkedIdentifier {
    pub scheme: String,
    pub value: String,
    pub source_agency: String,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct SeenDetails {
    pub name: String,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub source_agency: String,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TimelineEntry {
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub agency: String,
    pub event_type: String,
    pub event_id: Uuid,
    pub message_id: String,
    pub payload: serde_json::Value,
}

/// A person's identifiers, by scheme and value.
pub async fn identifiers(pool: &PgPool, subject: Uuid) -> Result<Vec<LinkedIdentifier>, sqlx::Error> {
    sqlx::query_as(
        "SELECT scheme, value, source_agency FROM subject_identifiers WHERE subject_id = $1 ORDER BY scheme, value",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
}

/// The names and dates of birth agencies gave for a person, first seen first.
pub async fn details(pool: &PgPool, subject: Uuid) -> Result<Vec<SeenDetails>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, date_of_birth, source_agency FROM subject_details WHERE subject_id = $1 ORDER BY first_seen_at, source_agency",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
}

/// Every event about a person, in event time.
pub async fn timeline(pool: &PgPool, subject: Uuid) -> Result<Vec<TimelineEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT occurred_at, agency, event_type, event_id, message_id, payload FROM events
         WHERE subject_id = $1 ORDER BY occurred_at, seq",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
}

/// Records a subject access export: whose, who asked, when, how long it took, and where it went.
pub async fn record_access_export(
    pool: &PgPool,
    subject: Uuid,
    requester: &str,
    at: chrono::DateTime<chrono::Utc>,
    duration_ms: i64,
    file: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subject_access_exports (subject_id, requester, exported_at, duration_ms, file) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(subject)
    .bind(requester)
    .bind(at)
    .bind(duration_ms)
    .bind(file)
    .execute(pool)
    .await?;
    Ok(())
}
