//! People in the index: `subjects` (one row per person), `subject_identifiers` (who each
//! identifier belongs to) and `subject_details` (names and dates of birth as agencies gave them).
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The person an identifier belongs to.
pub async fn find(pool: &PgPool, scheme: &str, value: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT subject_id FROM subject_identifiers WHERE scheme = $1 AND value = $2")
        .bind(scheme)
        .bind(value)
        .fetch_optional(pool)
        .await
}

/// (scheme, value, person) of each of these identifiers the index holds.
pub async fn owners(
    tx: &mut Transaction<'_, Postgres>,
    schemes: &[&str],
    values: &[&str],
) -> Result<Vec<(String, String, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT si.scheme, si.value, si.subject_id FROM subject_identifiers si
         JOIN UNNEST($1::text[], $2::text[]) AS k(scheme, value) ON si.scheme = k.scheme AND si.value = k.value",
    )
    .bind(schemes)
    .bind(values)
    .fetch_all(&mut **tx)
    .await
}

/// Adds the people not yet known.
pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    people: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subjects (subject_id, created_at) SELECT id, $2 FROM UNNEST($1::uuid[]) AS t(id) ON CONFLICT DO NOTHING",
    )
    .bind(people)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records who each identifier belongs to (column arrays of one length), moving an identifier
/// whose person changed.
pub async fn assign_identifiers(
    tx: &mut Transaction<'_, Postgres>,
    schemes: &[&str],
    values: &[String],
    owners: &[Uuid],
    agency: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subject_identifiers (scheme, value, subject_id, source_agency, first_seen_at)
         SELECT k.scheme, k.value, k.subject_id, $4, $5 FROM UNNEST($1::text[], $2::text[], $3::uuid[]) AS k(scheme, value, subject_id)
         ON CONFLICT (scheme, value) DO UPDATE SET subject_id = excluded.subject_id
         WHERE subject_identifiers.subject_id <> excluded.subject_id",
    )
    .bind(schemes)
    .bind(values)
    .bind(owners)
    .bind(agency)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds (person, name, date of birth) details as an agency gave them.
pub async fn insert_details(
    tx: &mut Transaction<'_, Postgres>,
    details: &[(Uuid, String, Option<NaiveDate>)],
    agency: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if details.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = details.iter().map(|d| d.0).collect();
    let names: Vec<&str> = details.iter().map(|d| d.1.as_str()).collect();
    let dobs: Vec<Option<NaiveDate>> = details.iter().map(|d| d.2).collect();
    sqlx::query(
        "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
         SELECT d.subject_id, d.name, d.dob, $4, $5 FROM UNNEST($1::uuid[], $2::text[], $3::date[]) AS d(subject_id, name, dob)
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&names)
    .bind(&dobs)
    .bind(agency)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The details these stored records carry, under the person each belongs to now (after a move).
pub async fn insert_details_of_records(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
         SELECT DISTINCT e.subject_id, coalesce(e.person_name, ''), e.date_of_birth, e.agency, $2
         FROM events e WHERE e.event_id = ANY($1) AND e.subject_id IS NOT NULL
           AND (e.person_name IS NOT NULL OR e.date_of_birth IS NOT NULL)
         ON CONFLICT DO NOTHING",
    )
    .bind(events)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
