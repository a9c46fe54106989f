//! Retention in the store (migration 0019): which records are past their period or due for
//! review, and the decisions reviews make. Days are London days of `occurred_at`.
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A record not yet erased and not held (by a review's "keep until") beyond `today`.
const KEPT_AND_NOT_HELD: &str = "NOT EXISTS (SELECT 1 FROM erasures x WHERE x.event_id = e.event_id)
    AND NOT EXISTS (SELECT 1 FROM retention_holds h WHERE h.event_id = e.event_id AND h.keep_until > $4)";

/// Every (agency, data class) of records the store holds.
pub async fn classes(pool: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT DISTINCT agency, data_class FROM events ORDER BY 1, 2").fetch_all(pool).await
}

/// The records of `agency` and `data_class` that happened before `cutoff`, kept and not held.
pub async fn expired(
    pool: &PgPool,
    agency: &str,
    data_class: &str,
    cutoff: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT e.event_id FROM events e
         WHERE e.agency = $1 AND e.data_class = $2 AND e.occurred_at < ($3::date)::timestamp AT TIME ZONE 'Europe/London'
           AND {KEPT_AND_NOT_HELD}
         ORDER BY e.seq"
    )))
    .bind(agency)
    .bind(data_class)
    .bind(cutoff)
    .bind(today)
    .fetch_all(pool)
    .await
}

/// How many records of `agency` and `data_class` happened before `review_cutoff` and are kept
/// and not held (due for review), and the oldest.
pub async fn due_count(
    pool: &PgPool,
    agency: &str,
    data_class: &str,
    review_cutoff: NaiveDate,
    today: NaiveDate,
) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), min(e.occurred_at) FROM events e
         WHERE e.agency = $1 AND e.data_class = $2 AND e.occurred_at < ($3::date)::timestamp AT TIME ZONE 'Europe/London'
           AND {KEPT_AND_NOT_HELD}"
    )))
    .bind(agency)
    .bind(data_class)
    .bind(review_cutoff)
    .bind(today)
    .fetch_one(pool)
    .await
}

/// The records [`due_count`] counts.
pub async fn due_ids(
    pool: &PgPool,
    agency: &str,
    data_class: &str,
    review_cutoff: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<Uuid>, sqlx::Error> {
    expired(pool, agency, data_class, review_cutoff, today).await
}

/// Records a review's decision to keep `records` until `until`: one review row, one hold each.
pub async fn hold(
    pool: &PgPool,
    agency: &str,
    data_class: &str,
    records: &[Uuid],
    until: NaiveDate,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let review: i64 = sqlx::query_scalar(
        "INSERT INTO retention_reviews (agency, data_class, decision, keep_until, records, decided_by, decided_at)
         VALUES ($1, $2, 'keep', $3, $4, $5, $6) RETURNING id",
    )
    .bind(agency)
    .bind(data_class)
    .bind(until)
    .bind(records.len() as i32)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO retention_holds (event_id, keep_until, review_id) SELECT unnest($1::uuid[]), $2, $3
         ON CONFLICT (event_id) DO UPDATE SET keep_until = excluded.keep_until, review_id = excluded.review_id",
    )
    .bind(records)
    .bind(until)
    .bind(review)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(review)
}

/// Records a review's decision to erase `records` due records now.
pub async fn record_erase_decision(
    pool: &PgPool,
    agency: &str,
    data_class: &str,
    records: usize,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO retention_reviews (agency, data_class, decision, records, decided_by, decided_at)
         VALUES ($1, $2, 'erase', $3, $4, $5) RETURNING id",
    )
    .bind(agency)
    .bind(data_class)
    .bind(records as i32)
    .bind(by)
    .bind(now)
    .fetch_one(pool)
    .await
}
