//! Reads of the disclosure log for the demo and the metrics (entries are written and verified by
//! `sharing::log`, which keeps the hash chain).
use sqlx::PgPool;

/// (recipient, decision, decisions) over every decision and re-decision.
pub async fn decisions_per_recipient(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT recipient, decision, count(*) FROM disclosure_log
         WHERE stage IN ('decided', 'redecided', 'retracted') GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}

/// (reason, entries) of every withholding logged.
pub async fn withheld_by_reason(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(reason, ''), count(*) FROM disclosure_log WHERE decision = 'withhold' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}
