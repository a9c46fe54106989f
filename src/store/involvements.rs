//! Involvements: each record naming a person is an agency's involvement with them at the
//! record's time (sharing reads them as involvement periods).
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::domain::names::AgencyId;

/// (record, agency, person, occurred at) of each record placed with a person.
pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    agencies: &[AgencyId],
    subjects: &[Option<Uuid>],
    times: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO involvements (event_id, agency, subject_id, occurred_at)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[]) ON CONFLICT DO NOTHING",
    )
    .bind(events)
    .bind(agencies)
    .bind(subjects)
    .bind(times)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes the involvements of records now held (`subjects[i]` none): a held record involves no
/// agency with anyone.
pub async fn remove_held(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    subjects: &[Option<Uuid>],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM involvements i USING UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id)
         WHERE i.event_id = m.event_id AND m.subject_id IS NULL",
    )
    .bind(events)
    .bind(subjects)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (event, person, agency, occurred at) of every involvement with these people.
pub async fn of_people(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, AgencyId, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as("SELECT event_id, subject_id, agency, occurred_at FROM involvements WHERE subject_id = ANY($1)")
        .bind(subjects)
        .fetch_all(&mut **tx)
        .await
}
