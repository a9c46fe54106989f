//! Identity review: records whose identifiers pointed at two different people wait here, linked
//! to no one and shared with no one, until an operator decides — link them as one person, or keep
//! them apart (the record goes to the person its strongest identifier names, and later records
//! naming the same people are resolved the same way). The decision is recorded with who made it,
//! and the person index resolves again around the record (`identity::relink`) exactly as it does
//! for arriving records; moved records are retracted and shared again as the agreements say.
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::hub::Hub;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Conflict {
    pub id: i64,
    pub event_id: Uuid,
    pub agency: String,
    pub message_id: String,
    pub identifiers: serde_json::Value,
    pub subject_ids: Vec<Uuid>,
    pub detected_at: DateTime<Utc>,
    pub status: String,
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Link,
    KeepApart,
}

pub async fn list(hub: &Hub, open_only: bool) -> anyhow::Result<Vec<Conflict>> {
    Ok(sqlx::query_as(
        "SELECT id, event_id, agency, message_id, identifiers, subject_ids, detected_at, status, decided_by
         FROM identity_conflicts WHERE NOT $1 OR status = 'open' ORDER BY id",
    )
    .bind(open_only)
    .fetch_all(&hub.pool)
    .await?)
}

/// Applies an operator's decision on an open conflict. The decision is recorded on every record
/// the conflict holds (a message's events share one) and who is who is resolved again around
/// them by the same rule as for arriving records: a link joins the two people (their records move
/// to the person the strongest identifier names; what went out under the other id is retracted as
/// `wrong_person` and decided again), keep-apart places the record with the person its strongest
/// identifier names. Then the records are shared as the agreements say.
pub async fn decide(hub: &Hub, id: i64, decision: Decision, by: &str) -> anyhow::Result<Uuid> {
    let now = hub.clock.now();
    let mut tx = hub.pool.begin().await?;
    crate::identity::lock_index(&mut tx).await?;
    let conflict: Conflict = sqlx::query_as(
        "SELECT id, event_id, agency, message_id, identifiers, subject_ids, detected_at, status, decided_by
         FROM identity_conflicts WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| anyhow::anyhow!("no identity conflict {id}"))?;
    anyhow::ensure!(conflict.status == "open", "conflict {id} was already decided ({})", conflict.status);
    let status = match decision {
        Decision::Link => "linked",
        Decision::KeepApart => "kept_apart",
    };
    let held: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE identity_conflicts SET status = $4, decided_by = $5, decided_at = $6
         WHERE status = 'open' AND agency = $1 AND message_id = $2 AND identifiers = $3 RETURNING event_id",
    )
    .bind(&conflict.agency)
    .bind(&conflict.message_id)
    .bind(&conflict.identifiers)
    .bind(status)
    .bind(by)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let kind_of = |agency: &str| hub.sharing.kind_of(agency);
    let moved = crate::identity::relink(&mut tx, &held, &kind_of, now).await?;
    let subject: Option<Uuid> = sqlx::query_scalar("SELECT subject_id FROM events WHERE event_id = $1")
        .bind(conflict.event_id)
        .fetch_one(&mut *tx)
        .await?;
    let subject = subject.ok_or_else(|| {
        anyhow::anyhow!("conflict {id}: the record still leads to two people after this decision; nothing was changed")
    })?;
    record_action(&mut tx, by, &format!("identity {status}"), &format!("conflict {id}"), now).await?;
    crate::sharing::retract_moved(&mut tx, &moved, now).await?;
    let events = crate::sharing::moved_events(&mut tx, &moved).await?;
    crate::sharing::decide_message(&mut tx, &hub.sharing, &events, now).await?;
    tx.commit().await?;
    hub.publisher_wakeup.notify_one();
    Ok(subject)
}

/// Records an operator's action with who did it.
pub async fn record_action(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    by: &str,
    action: &str,
    target: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO operator_actions (at, actor, action, target) VALUES ($1, $2, $3, $4)")
        .bind(at)
        .bind(by)
        .bind(action)
        .bind(target)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
