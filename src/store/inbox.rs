//! The inbox: one row per message processed, with its outcome and counts. Reads for the demo,
//! the metrics and the tools.
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Whether the hub has committed this message.
pub async fn is_processed(pool: &PgPool, agency: &str, message_id: &str) -> Result<bool, sqlx::Error> {
    let done: Option<i32> = sqlx::query_scalar("SELECT 1 FROM inbox WHERE agency = $1 AND message_id = $2")
        .bind(agency)
        .bind(message_id)
        .fetch_optional(pool)
        .await?;
    Ok(done.is_some())
}

/// Messages per publishing agency.
#[derive(Debug, sqlx::FromRow)]
pub struct AgencyCounts {
    pub agency: String,
    pub messages: i64,
    /// Applied in whole or in part.
    pub applied: i64,
    pub refused: i64,
    pub kept: i64,
    pub events: i64,
}

pub async fn per_agency(pool: &PgPool) -> Result<Vec<AgencyCounts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT agency, count(*) AS messages, count(*) FILTER (WHERE outcome IN ('applied', 'partial')) AS applied,
                sum(refused) AS refused, sum(kept) AS kept, sum(events) AS events
         FROM inbox GROUP BY agency ORDER BY agency",
    )
    .fetch_all(pool)
    .await
}

/// (connector, messages received, messages applied in whole or part or kept).
pub async fn per_connector(pool: &PgPool) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, count(*), count(*) FILTER (WHERE outcome IN ('applied', 'partial', 'kept'))
         FROM inbox GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// (connector, messages, applied in whole or part or kept, refused in whole or part).
pub async fn outcomes_per_connector(pool: &PgPool) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, count(*), count(*) FILTER (WHERE outcome IN ('applied', 'partial', 'kept')),
                count(*) FILTER (WHERE outcome IN ('refused', 'partial'))
         FROM inbox GROUP BY connector ORDER BY connector",
    )
    .fetch_all(pool)
    .await
}

/// When each connector last had a message processed.
pub async fn last_per_connector(pool: &PgPool) -> Result<Vec<(String, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as("SELECT connector, max(processed_at) FROM inbox GROUP BY connector").fetch_all(pool).await
}

/// A message's outcome and counts as the inbox records them.
pub struct InboxRow<'a> {
    pub env: &'a super::message::Envelope,
    pub archive_id: i64,
    /// `applied`, `partial`, `kept` or `refused`.
    pub outcome: &'static str,
    pub items: usize,
    pub events: usize,
    pub refused: usize,
    pub kept: usize,
}

/// Records a message read again from the archive (a replay or reprocess), replacing its outcome.
pub async fn upsert_reprocessed(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    row: &InboxRow<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO inbox (agency, message_id, connector, archive_id, outcome, items, events, refused, kept, processed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (agency, message_id) DO UPDATE SET archive_id = excluded.archive_id, outcome = excluded.outcome,
            items = excluded.items, events = excluded.events, refused = excluded.refused, kept = excluded.kept,
            processed_at = excluded.processed_at, detail = 'reprocessed'",
    )
    .bind(&row.env.agency)
    .bind(&row.env.message_id)
    .bind(&row.env.connector)
    .bind(row.archive_id)
    .bind(row.outcome)
    .bind(row.items as i32)
    .bind(row.events as i32)
    .bind(row.refused as i32)
    .bind(row.kept as i32)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Records messages met for the first time, one statement; one flag per row, in order: false
/// where the inbox already held it (or it repeats an earlier row), and nothing was written.
pub async fn insert_new_many(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    rows: &[InboxRow<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, sqlx::Error> {
    let new: Vec<i64> = sqlx::query_scalar(
        "WITH new AS (
           INSERT INTO inbox (agency, message_id, connector, archive_id, outcome, items, events, refused, kept, processed_at)
           SELECT t.agency, t.message_id, t.connector, t.archive_id, t.outcome, t.items, t.events, t.refused, t.kept, $10
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::int[], $8::int[],
                       $9::int[]) WITH ORDINALITY
                AS t(agency, message_id, connector, archive_id, outcome, items, events, refused, kept, n)
           ORDER BY t.n
           ON CONFLICT (agency, message_id) DO NOTHING
           RETURNING agency, message_id)
         SELECT min(k.n) FROM new JOIN UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k(agency, message_id, n)
              USING (agency, message_id)
         GROUP BY k.agency, k.message_id",
    )
    .bind(rows.iter().map(|r| r.env.agency.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.env.message_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.env.connector.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.archive_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.outcome).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.items as i32).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.events as i32).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.refused as i32).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.kept as i32).collect::<Vec<_>>())
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = vec![false; rows.len()];
    for n in new {
        if let Some(flag) = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)) {
            *flag = true;
        }
    }
    Ok(out)
}

/// Messages and events processed per hour since `since` (hours with none are absent).
pub async fn hourly(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<(DateTime<Utc>, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT date_trunc('hour', processed_at), count(*), coalesce(sum(events), 0)::bigint
         FROM inbox WHERE processed_at >= $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}
