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
    let window_secs = i64::from(months) * 14 * 86_400;
    sqlx::query_as(
        "WITH these AS (SELECT DISTINCT unnest($2::uuid[]) AS event_id),
              named AS (
                  SELECT i.event_id, i.subject_id, i.agency, i.occurred_at, t.event_id IS NOT NULL AS in_these
                  FROM involvements i LEFT JOIN these t ON t.event_id = i.event_id
                  WHERE i.subject_id = ANY($1))
         SELECT event_id, subject_id, agency, occurred_at FROM named WHERE in_these OR $3::bigint = 0
         UNION ALL
         SELECT NULL::uuid, subject_id, agency, unnest(CASE WHEN min(occurred_at) = max(occurred_at)
                THEN ARRAY[min(occurred_at)] ELSE ARRAY[min(occurred_at), max(occurred_at)] END)
         FROM named WHERE NOT in_these AND $3::bigint > 0
         GROUP BY subject_id, agency, date_bin($3::bigint * interval '1 second', occurred_at, timestamptz 'epoch')",
    )
    .bind(subjects)
    .bind(these)
    .bind(window_secs)
    .fetch_all(&mut **tx)
    .await
}
