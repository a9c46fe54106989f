//! Corrections sent on (DPA 2018 s.38(5)(c)): when an agency corrects a record it sent, every
//! agency that holds a copy of the old one — a delivery that stands, not retracted or erased — is
//! told, in the transaction that stores the correction. The corrected record is decided like any
//! update under today's rules; where it is delivered to a holder of the old copy, that delivery
//! is marked as correcting it (naming the old delivery's message id, and the changed fields the
//! recipient may see: one it may no longer see is not named, though the record is still marked
//! changed); where it is not, the holder gets a notice of kind `correction` naming the old
//! delivery. A record its source withdrew reaches each holder as such a notice (reason
//! `withdrawn`). Either way the disclosure log records it (stage `corrected`).
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::log::{self, LogEntry, Stage};
use super::{NewEvent, correction_message_id};
use crate::store;
use crate::store::corrections::Corrected;

/// Sends the run's corrections on; returns how many deliveries and notices they touched.
pub async fn send_on(
    tx: &mut Transaction<'_, Postgres>,
    corrected: &[Corrected],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    if corrected.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = corrected.iter().flat_map(|c| std::iter::once(c.event_id).chain(c.corrected_by)).collect();
    let events = store::events::updates(tx, &ids).await?;
    let standing = store::outbox::standing_deliveries(tx, &ids).await?;
    let event = |id: Uuid| events.iter().find(|e| e.event_id == id);
    let mut entries = Vec::new();
    for c in corrected {
        let Some(old) = event(c.event_id) else { continue };
        let new = c.corrected_by.and_then(event);
        let changed = new.map(|n| changed_fields(&old.payload, &n.payload)).unwrap_or_default();
        for held in standing.iter().filter(|d| d.event_id == old.event_id) {
            let now_delivered =
                new.and_then(|n| standing.iter().find(|d| d.event_id == n.event_id && d.recipient == held.recipient));
            let reason = match now_delivered {
                Some(delivery) => {
                    let visible: Vec<String> =
                        changed.iter().filter(|f| !delivery.withheld_fields.contains(f)).cloned().collect();
                    store::outbox::mark_correcting(tx, delivery.id, held.message_id, &visible).await?;
                    "corrected"
                }
                None => {
                    let why = if new.is_some() { "not_shared" } else { "withdrawn" };
                    let notice = correction_message_id(held.message_id);
                    store::outbox::queue_notice(tx, "correction", &held.as_target(), notice, why, now).await?;
                    if new.is_some() { "corrected_not_shared" } else { "withdrawn" }
                }
            };
            entries.push(entry(old, held, reason, now));
        }
    }
    let touched = entries.len();
    log::append(tx, &entries).await?;
    Ok(touched)
}

/// The payload fields whose values differ between the old and the new record.
fn changed_fields(old: &Json, new: &Json) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter(|k| old.get(*k).unwrap_or(&Json::Null) != new.get(*k).unwrap_or(&Json::Null))
        .cloned()
        .collect()
}

/// The log entry recording that the recipient's copy of `old` was superseded.
fn entry(old: &NewEvent, held: &store::outbox::StandingDelivery, reason: &str, now: DateTime<Utc>) -> LogEntry {
    LogEntry {
        event_id: old.event_id,
        subject_id: held.subject_id,
        recipient: held.recipient.clone(),
        stage: Stage::Corrected.as_str().into(),
        decision: "withhold".into(),
        reason: Some(reason.into()),
        agreement: Some(held.agreement.clone()),
        purpose: Some(held.purpose.clone()),
        legal_basis: Some(held.legal_basis.clone()),
        event_type: old.event_type.clone(),
        data_class: old.data_class.clone(),
        fields_disclosed: Vec::new(),
        fields_withheld: Vec::new(),
        catch_up: held.catch_up,
        logged_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fields_are_those_whose_values_differ_either_way() {
        let old = serde_json::json!({"outcome": "ADJOURNED", "court": "B05LV00", "next_hearing_date": "2026-11-17"});
        let new = serde_json::json!({"outcome": "SENTENCED", "court": "B05LV00", "remand": "UB"});
        assert_eq!(changed_fields(&old, &new), ["next_hearing_date", "outcome", "remand"]);
    }
}
