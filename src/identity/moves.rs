//! Moving stored records when who is who changes: their subject is re-pointed in every table
//! that holds it by event id, their person's details follow, and their conflict is opened (held
//! now) or resolved (placed now). Sharing then retracts and decides them again.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Link, Moved};

/// Tables that record what was done under a person at the time (a delivery, a log entry): they
/// keep the subject they recorded when a record moves.
const HISTORY_TABLES: &[&str] = &["outbox", "disclosure_log"];

/// Every table that holds a record's subject by event id (the events, involvements and every
/// projection), read from the catalogue so that a new projection follows its records without
/// being listed anywhere.
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

/// Re-points moved records: their subject in every table keyed by event, their person's details,
/// and their conflict (opened when they are held now, resolved when a later record placed them).
pub(super) async fn apply_moves(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[Moved],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if moved.is_empty() {
        return Ok(());
    }
    let events: Vec<Uuid> = moved.iter().map(|m| m.event_id).collect();
    let subjects: Vec<Option<Uuid>> = moved
        .iter()
        .map(|m| match m.to {
            Link::Subject(s) => Some(s),
            _ => None,
        })
        .collect();
    // A held record involves no agency with anyone; placed again, sharing records it afresh.
    sqlx::query(
        "DELETE FROM involvements i USING UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id)
         WHERE i.event_id = m.event_id AND m.subject_id IS NULL",
    )
    .bind(&events)
    .bind(&subjects)
    .execute(&mut **tx)
    .await?;
    for table in event_tables(tx).await? {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} t SET subject_id = m.subject_id
             FROM UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id) WHERE t.event_id = m.event_id"
        )))
        .bind(&events)
        .bind(&subjects)
        .execute(&mut **tx)
        .await?;
    }
    // A case belongs to the person of its earliest placed hearing (whatever arrived first).
    sqlx::query(
        "UPDATE cases c SET subject_id = (SELECT h.subject_id FROM hearings h
             WHERE h.case_urn = c.case_urn AND h.court = c.court AND h.subject_id IS NOT NULL
             ORDER BY h.hearing_date, h.event_id LIMIT 1)
         WHERE (c.case_urn, c.court) IN (SELECT case_urn, court FROM hearings WHERE event_id = ANY($1))",
    )
    .bind(&events)
    .execute(&mut **tx)
    .await?;
    // An agency no longer involved with a person the records left is out of scope again: should it
    // become involved later, it gets the history it may see then.
    let left: Vec<Uuid> = moved.iter().filter_map(|m| m.from).collect();
    sqlx::query(
        "DELETE FROM recipient_scope s WHERE s.subject_id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM involvements i WHERE i.subject_id = s.subject_id AND i.agency = s.recipient)",
    )
    .bind(&left)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
         SELECT DISTINCT e.subject_id, coalesce(e.person_name, ''), e.date_of_birth, e.agency, $2
         FROM events e WHERE e.event_id = ANY($1) AND e.subject_id IS NOT NULL
           AND (e.person_name IS NOT NULL OR e.date_of_birth IS NOT NULL)
         ON CONFLICT DO NOTHING",
    )
    .bind(&events)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let (held, held_people): (Vec<Uuid>, Vec<serde_json::Value>) = moved
        .iter()
        .filter_map(|m| match &m.to {
            Link::Conflict(people) => Some((m.event_id, serde_json::json!(people))),
            _ => None,
        })
        .unzip();
    sqlx::query(
        "INSERT INTO identity_conflicts (event_id, agency, message_id, identifiers, subject_ids, detected_at)
         SELECT e.event_id, e.agency, e.message_id, e.identifiers,
                ARRAY(SELECT jsonb_array_elements_text(h.people)::uuid), $3
         FROM UNNEST($1::uuid[], $2::jsonb[]) AS h(event_id, people) JOIN events e USING (event_id)
         ON CONFLICT (event_id) DO UPDATE SET status = 'open', subject_ids = excluded.subject_ids,
            detected_at = excluded.detected_at, decided_by = NULL, decided_at = NULL",
    )
    .bind(&held)
    .bind(&held_people)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let placed: Vec<Uuid> = moved.iter().filter(|m| matches!(m.to, Link::Subject(_))).map(|m| m.event_id).collect();
    sqlx::query(
        "UPDATE identity_conflicts SET status = 'resolved', decided_by = 'tracker (a later record)', decided_at = $2
         WHERE event_id = ANY($1) AND status = 'open'",
    )
    .bind(&placed)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
