//! Records that moved to another person (a later record, or an operator, changed who is who):
//! what went out about them under the person they no longer belong to is retracted
//! (`wrong_person`), and they are decided again under their new person.
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::decide::{Decision, WithholdReason};
use super::record::{Retraction, write_decisions};
use super::{NewEvent, facts};

/// The events of records that moved to a person, as sharing decides them.
pub async fn moved_events(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[crate::identity::Moved],
) -> Result<Vec<NewEvent>, sqlx::Error> {
    let placed: Vec<Uuid> =
        moved.iter().filter(|m| matches!(m.to, crate::identity::Link::Subject(_))).map(|m| m.event_id).collect();
    if placed.is_empty() {
        return Ok(Vec::new());
    }
    facts::updates(tx, &placed).await
}

/// Retracts what went out about records that moved, under the person they no longer belong to
/// (reason `wrong_person`). Returns the notices queued.
pub async fn retract_moved(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[crate::identity::Moved],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    if moved.is_empty() {
        return Ok(0);
    }
    let events: Vec<Uuid> = moved.iter().map(|m| m.event_id).collect();
    let new_subjects: Vec<Option<Uuid>> = moved
        .iter()
        .map(|m| match m.to {
            crate::identity::Link::Subject(s) => Some(s),
            _ => None,
        })
        .collect();
    let live = crate::store::outbox::live_under_other_person(tx, &events, &new_subjects).await?;
    // The log names the person the delivery went out under.
    let updates: Vec<NewEvent> = live
        .iter()
        .map(|l| NewEvent {
            event_id: l.delivery.event_id,
            subject_id: l.subject_id,
            event_type: l.event_type.clone(),
            data_class: l.data_class.clone(),
            source_agency: l.agency.clone(),
            occurred_at: l.occurred_at,
            payload: std::sync::Arc::new(Json::Null),
        })
        .collect();
    let retractions: Vec<Retraction> = live
        .into_iter()
        .zip(&updates)
        .map(|(l, event)| Retraction {
            event,
            decision: Decision::Withhold {
                reason: WithholdReason::WrongPerson,
                agreement: Some(l.delivery.agreement.clone()),
            },
            delivery: l.delivery,
        })
        .collect();
    write_decisions(tx, &[], &retractions, now).await
}
