//! Re-pointing stored records at another person: every table that holds a record's subject by
//! event id (the events, involvements and every projection), found in the catalogue so that a new
//! projection follows its records without being listed anywhere.
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Tables that record what was done under a person at the time (a delivery, a log entry): they
/// keep the subject they recorded when a record moves.
const HISTORY_TABLES: &[&str] = &["outbox", "disclosure_log"];

/// Every table holding a record's subject by event id, `events` first.
pub async fn event_tables(tx: &mut Transaction<'_, Postgres>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT s.table_name::text FROM information_schema.columns s
         JOIN information_schema.columns e ON e.table_schema = s.table_schema AND e.table_name = s.table_name
              AND e.column_name = 'event_id'
         JOIN information_schema.tables t ON t.table_schema = s.table_schema AND t.table_name = s.table_name
              AND t.table_type = 'BASE TABLE'
         WHERE s.table_schema = current_schema() AND s.column_name = 'subject_id' AND s.table_name <> ALL($1)
         ORDER BY (s.table_name <> 'events'), s.table_name",
    )
    .bind(HISTORY_TABLES)
    .fetch_all(&mut **tx)
    .await
}

/// Sets each record's subject (none while held) in every table keyed by event.
pub async fn repoint(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    subjects: &[Option<Uuid>],
) -> Result<(), sqlx::Error> {
    for table in event_tables(tx).await? {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} t SET subject_id = m.subject_id
             FROM UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id) WHERE t.event_id = m.event_id"
        )))
        .bind(events)
        .bind(subjects)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A case belongs to the person of its earliest placed hearing (whatever arrived first): the
/// cases of these records' hearings follow them.
pub async fn cases_follow_hearings(tx: &mut Transaction<'_, Postgres>, events: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cases c SET subject_id = (SELECT h.subject_id FROM hearings h
             WHERE h.case_urn = c.case_urn AND h.court = c.court AND h.subject_id IS NOT NULL
             ORDER BY h.hearing_date, h.event_id LIMIT 1)
         WHERE (c.case_urn, c.court) IN (SELECT case_urn, court FROM hearings WHERE event_id = ANY($1))",
    )
    .bind(events)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
