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

/// The naming events of these people that involvement periods are made from: (event, person,
/// agency, occurred at). The records in `these` come one row each, with their event id (the
/// caller judges facts with and without them). Of the others, only what periods can tell apart
/// comes back, without event ids: the first and the last time of each person's and agency's
/// naming events in each window of `14 × months` days. Dropping the times between changes no
/// period — two times in one window are less than 28 days a month apart, so always within
/// `months` calendar months of each other, and a time from `these` that falls between two kept
/// times is within reach of both, as it was of the times dropped — and a person known for years
/// comes back as a few rows per agency, not one per record (a year's load read 26 million rows).
/// `months` 0 (no period joins another) drops nothing.
pub async fn naming_of_people(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    these: &[Uuid],
    months: u32,
) -> Result<Vec<(Option<Uuid>, Uuid, AgencyId, DateTime<Utc>)>, sqlx::Error> {
    if months == 0 {
        return sqlx::query_as(
            "SELECT event_id, subject_id, agency, occurred_at FROM involvements WHERE subject_id = ANY($1)",
        )
        .bind(subjects)
        .fetch_all(&mut **tx)
        .await;
    }
    let window_secs = i64::from(months) * 14 * 86_400;
    // One pass: each record of `these` is a group of its own (its event id is part of the key),
    // the others group by window. Reading the rows once into a CTE and grouping them in a second
    // pass cost a quarter more (psql, 300 people of a generated year, 60 alternated runs: median
    // 27.0 ms against 20.3).
    sqlx::query_as(
        "SELECT t.event_id, i.subject_id, i.agency, unnest(CASE WHEN min(i.occurred_at) = max(i.occurred_at)
                THEN ARRAY[min(i.occurred_at)] ELSE ARRAY[min(i.occurred_at), max(i.occurred_at)] END)
         FROM involvements i LEFT JOIN (SELECT DISTINCT unnest($2::uuid[]) AS event_id) t ON t.event_id = i.event_id
         WHERE i.subject_id = ANY($1)
         GROUP BY i.subject_id, i.agency, date_bin($3::bigint * interval '1 second', i.occurred_at, timestamptz 'epoch'),
                  t.event_id",
    )
    .bind(subjects)
    .bind(these)
    .bind(window_secs)
    .fetch_all(&mut **tx)
    .await
}
