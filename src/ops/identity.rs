//! Identity review: records whose identifiers pointed at two different people wait here, linked
//! to no one and shared with no one, until an operator decides — link them as one person (the
//! subjects merge), or keep them apart (the record goes to the person its strongest identifier
//! names, and later records naming the same people are resolved the same way). The decision is
//! recorded with who made it; the held record is then shared as the agreements say.
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::identifiers::Scheme;
use crate::pipeline::Hub;

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

/// Tables holding a subject id that follow a merge (the disclosure log keeps what it recorded).
const SUBJECT_TABLES: &[&str] = &[
    "subject_identifiers",
    "events",
    "involvements",
    "consents",
    "outbox",
    "custody_events",
    "charges",
    "bail_decisions",
    "cases",
    "hearings",
    "offences_pleas",
    "orders",
    "warrants",
    "supervisions",
    "appointments",
    "breaches",
    "order_terminations",
    "pre_sentence_reports",
    "risk_registrations",
    "drug_tests",
    "treatment_episodes",
];

/// Projection tables keyed by event, whose rows for the held record wait for a subject.
const EVENT_TABLES: &[&str] = &[
    "custody_events",
    "charges",
    "bail_decisions",
    "hearings",
    "offences_pleas",
    "orders",
    "warrants",
    "supervisions",
    "appointments",
    "breaches",
    "order_terminations",
    "pre_sentence_reports",
    "risk_registrations",
    "drug_tests",
    "treatment_episodes",
    "consents",
];

pub async fn list(hub: &Hub, open_only: bool) -> anyhow::Result<Vec<Conflict>> {
    Ok(sqlx::query_as(
        "SELECT id, event_id, agency, message_id, identifiers, subject_ids, detected_at, status, decided_by
         FROM identity_conflicts WHERE NOT $1 OR status = 'open' ORDER BY id",
    )
    .bind(open_only)
    .fetch_all(&hub.pool)
    .await?)
}

/// Priority of schemes when a record must go to one of two people.
pub fn strongest(schemes: &[Scheme]) -> Option<Scheme> {
    const ORDER: [Scheme; 6] =
        [Scheme::Pnc, Scheme::Cro, Scheme::Noms, Scheme::Crn, Scheme::Nhs, Scheme::TreatmentClient];
    ORDER.into_iter().find(|s| schemes.contains(s))
}

/// Applies an operator's decision on an open conflict.
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
    let subject = match decision {
        Decision::Link => {
            let keeper = conflict.subject_ids[0];
            let others: Vec<Uuid> = conflict.subject_ids[1..].to_vec();
            merge(&mut tx, keeper, &others).await?;
            keeper
        }
        Decision::KeepApart => {
            // The person named by the record's strongest identifier.
            let ids: Vec<(String, String)> = conflict
                .identifiers
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| Some((i["scheme"].as_str()?.to_string(), i["value"].as_str()?.to_string())))
                .collect();
            let schemes: Vec<Scheme> = ids.iter().filter_map(|(s, _)| Scheme::parse(s)).collect();
            let scheme = strongest(&schemes).ok_or_else(|| anyhow::anyhow!("the record has no identifier"))?;
            let value =
                ids.iter().find(|(s, _)| Scheme::parse(s) == Some(scheme)).map(|(_, v)| v.clone()).unwrap_or_default();
            sqlx::query_scalar("SELECT subject_id FROM subject_identifiers WHERE scheme = $1 AND value = $2")
                .bind(scheme.as_str())
                .bind(value)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    let status = match decision {
        Decision::Link => "linked",
        Decision::KeepApart => "kept_apart",
    };
    // Every record held by this conflict (a message's events share one) goes to the person now.
    let held: Vec<Uuid> = sqlx::query_scalar(
        "SELECT event_id FROM identity_conflicts WHERE status = 'open' AND agency = $1 AND message_id = $2
           AND identifiers = $3",
    )
    .bind(&conflict.agency)
    .bind(&conflict.message_id)
    .bind(&conflict.identifiers)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("UPDATE identity_conflicts SET status = $2, decided_by = $3, decided_at = $4 WHERE event_id = ANY($1)")
        .bind(&held)
        .bind(status)
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE events SET subject_id = $2 WHERE event_id = ANY($1)")
        .bind(&held)
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    for table in EVENT_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET subject_id = $2 WHERE event_id = ANY($1)")))
            .bind(&held)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
    }
    record_action(&mut tx, by, &format!("identity {status}"), &format!("conflict {id}"), now).await?;
    // Held until now, the records are decided and shared as the agreements say.
    let events = crate::sharing::facts::updates(&mut tx, &held).await?;
    crate::sharing::decide_message(&mut tx, &hub.sharing, &events, now).await?;
    tx.commit().await?;
    hub.publisher_wakeup.notify_one();
    Ok(subject)
}

/// Moves everything of `others` to `keeper`.
async fn merge(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keeper: Uuid,
    others: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
         SELECT $1, name, date_of_birth, source_agency, first_seen_at FROM subject_details WHERE subject_id = ANY($2)
         ON CONFLICT DO NOTHING",
    )
    .bind(keeper)
    .bind(others)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM subject_details WHERE subject_id = ANY($1)").bind(others).execute(&mut **tx).await?;
    sqlx::query(
        "INSERT INTO recipient_scope (subject_id, recipient, since)
         SELECT $1, recipient, min(since) FROM recipient_scope WHERE subject_id = ANY($2) GROUP BY recipient
         ON CONFLICT DO NOTHING",
    )
    .bind(keeper)
    .bind(others)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM recipient_scope WHERE subject_id = ANY($1)").bind(others).execute(&mut **tx).await?;
    for table in SUBJECT_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET subject_id = $1 WHERE subject_id = ANY($2)")))
            .bind(keeper)
            .bind(others)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM subjects WHERE subject_id = ANY($1)").bind(others).execute(&mut **tx).await?;
    Ok(())
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
