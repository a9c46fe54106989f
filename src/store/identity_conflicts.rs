//! Identity conflicts: records held because their identifiers led to two people, and the
//! operator's decision on them.
use crate::domain::names::AgencyId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Conflict {
    pub id: i64,
    pub event_id: Uuid,
    pub agency: AgencyId,
    pub message_id: String,
    pub identifiers: serde_json::Value,
    pub subject_ids: Vec<Uuid>,
    pub detected_at: DateTime<Utc>,
    pub status: String,
    pub decided_by: Option<String>,
}

const COLUMNS: &str = "id, event_id, agency, message_id, identifiers, subject_ids, detected_at, status, decided_by";

/// Every conflict (or only the open ones), oldest first.
pub async fn list(pool: &PgPool, open_only: bool) -> Result<Vec<Conflict>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identity_conflicts WHERE NOT $1 OR status = 'open' ORDER BY id"
    )))
    .bind(open_only)
    .fetch_all(pool)
    .await
}

/// One conflict, locked for the decision.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<Option<Conflict>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM identity_conflicts WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Records the decision on every record the conflict holds (a message's events share one);
/// returns their event ids.
pub async fn decide_held(
    tx: &mut Transaction<'_, Postgres>,
    conflict: &Conflict,
    status: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE identity_conflicts SET status = $4, decided_by = $5, decided_at = $6
         WHERE status = 'open' AND agency = $1 AND message_id = $2 AND identifiers = $3 RETURNING event_id",
    )
    .bind(&conflict.agency)
    .bind(&conflict.message_id)
    .bind(&conflict.identifiers)
    .bind(status)
    .bind(by)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// Holds records of a message whose identifiers led to several people: (record, its
/// identifiers, the people) each. A record already held stays as it is.
pub async fn hold_new(
    tx: &mut Transaction<'_, Postgres>,
    agency: &str,
    message_id: &str,
    held: &[(Uuid, serde_json::Value, Vec<Uuid>)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if held.is_empty() {
        return Ok(());
    }
    let events: Vec<Uuid> = held.iter().map(|h| h.0).collect();
    let identifiers: Vec<&serde_json::Value> = held.iter().map(|h| &h.1).collect();
    let people: Vec<serde_json::Value> = held.iter().map(|h| serde_json::json!(h.2)).collect();
    sqlx::query(
        "INSERT INTO identity_conflicts (event_id, agency, message_id, identifiers, subject_ids, detected_at)
         SELECT h.event_id, $4, $5, h.identifiers, ARRAY(SELECT jsonb_array_elements_text(h.people)::uuid), $6
         FROM UNNEST($1::uuid[], $2::jsonb[], $3::jsonb[]) AS h(event_id, identifiers, people)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&events)
    .bind(&identifiers)
    .bind(&people)
    .bind(agency)
    .bind(message_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Holds stored records that a later record made ambiguous: (record, the people) each. A
/// conflict decided before is opened again.
pub async fn hold_stored(
    tx: &mut Transaction<'_, Postgres>,
    held: &[(Uuid, Vec<Uuid>)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if held.is_empty() {
        return Ok(());
    }
    let events: Vec<Uuid> = held.iter().map(|h| h.0).collect();
    let people: Vec<serde_json::Value> = held.iter().map(|h| serde_json::json!(h.1)).collect();
    sqlx::query(
        "INSERT INTO identity_conflicts (event_id, agency, message_id, identifiers, subject_ids, detected_at)
         SELECT e.event_id, e.agency, e.message_id, e.identifiers,
                ARRAY(SELECT jsonb_array_elements_text(h.people)::uuid), $3
         FROM UNNEST($1::uuid[], $2::jsonb[]) AS h(event_id, people) JOIN events e USING (event_id)
         ON CONFLICT (event_id) DO UPDATE SET status = 'open', subject_ids = excluded.subject_ids,
            detected_at = excluded.detected_at, decided_by = NULL, decided_at = NULL",
    )
    .bind(&events)
    .bind(&people)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Resolves the open conflicts of records a later record placed with one person.
pub async fn resolve_placed(
    tx: &mut Transaction<'_, Postgres>,
    placed: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE identity_conflicts SET status = 'resolved', decided_by = 'tracker (a later record)', decided_at = $2
         WHERE event_id = ANY($1) AND status = 'open'",
    )
    .bind(placed)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
