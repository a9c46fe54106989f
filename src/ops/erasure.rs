//! Erasing records at their owning agency's request (DPA 2018 s.47). An operator names the
//! records (event ids) and the agency that asks; only that agency's own records can be erased.
//! In one transaction per request: each record's personal data is removed from the store — the
//! event's payload, identifiers, name and date of birth (its Avro rewritten without them), its
//! identifier index rows, its projections, a held record's identifiers, and its item in every
//! archived copy of the message it came in (blanked in place) — and what stays is the fact that
//! a record of that type existed and was erased, when, why and at whose request. Every agency
//! holding a copy is sent an erasure notice naming its delivery; each is logged (stage `erased`).
//! Erasing a record again changes nothing.
use serde::Serialize;
use uuid::Uuid;

use crate::hub::Hub;
use crate::sharing::log::{self, LogEntry, Stage};
use crate::store;

/// What an erasure request did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// Records erased now.
    pub erased: Vec<Uuid>,
    /// Records erased before (nothing more done).
    pub already: Vec<Uuid>,
    /// Archived copies of messages with an item blanked.
    pub archive_copies: usize,
    /// Erasure notices queued for agencies holding copies.
    pub notices: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("no record has event id {0}")]
    NotFound(Uuid),
    #[error("record {event} belongs to {owner}, not {agency}: only the owning agency can have it erased")]
    NotOwner { event: Uuid, owner: String, agency: String },
    #[error("the reason is required")]
    NoReason,
    #[error("record {0}: {1}")]
    Schema(Uuid, crate::schemas::SchemaError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Erases `events` at `agency`'s request, for `reason`, by `by`.
pub async fn erase(hub: &Hub, events: &[Uuid], agency: &str, reason: &str, by: &str) -> Result<Erased, ErasureError> {
    let reason: String = reason.trim().chars().filter(|c| !c.is_control()).take(500).collect();
    if reason.is_empty() {
        return Err(ErasureError::NoReason);
    }
    let now = hub.clock.now();
    let mut tx = hub.pool.begin().await?;
    // Taking records out of their groups may change where the rest of each group stands: the
    // index is locked first (as linking locks it before it writes events), and the groups are
    // read again by the next record that joins them.
    store::locks::identity_index(&mut tx).await?;
    let records = store::erasures::records_for_update(&mut tx, events).await?;
    for id in events {
        let Some(r) = records.iter().find(|r| r.event_id == *id) else { return Err(ErasureError::NotFound(*id)) };
        if r.agency != agency {
            return Err(ErasureError::NotOwner { event: *id, owner: r.agency.clone(), agency: agency.to_string() });
        }
    }
    crate::identity::forget_groups_of(&mut tx, events).await?;
    let mut done = Erased::default();
    let connectors = hub.connectors();
    let standing = store::outbox::standing_deliveries(&mut tx, events).await?;
    let mut entries = Vec::new();
    for r in &records {
        if r.erased {
            done.already.push(r.event_id);
            continue;
        }
        let stored = hub
            .schemas
            .decode_stored(&r.schema_fingerprint, &r.avro)
            .map_err(|e| ErasureError::Schema(r.event_id, e))?;
        let avro = hub
            .schemas
            .encode_datum(&without_personal_data(stored))
            .map_err(|e| ErasureError::Schema(r.event_id, e))?;
        store::erasures::erase(&mut tx, r, &avro, &hub.schemas.fingerprint, agency, &reason, now).await?;
        // The item in every archived copy of its message.
        if let Some(connector) = connectors.get(&r.connector) {
            for (archive_id, body) in store::erasures::archived_copies(&mut tx, &r.agency, &r.message_id).await? {
                let position = u32::try_from(r.item_position).unwrap_or_default();
                if let Some(redacted) = connector.redact_item(&body, position, &hub.settings.limits.parse) {
                    store::erasures::redact_archived(&mut tx, archive_id, &redacted).await?;
                    done.archive_copies += 1;
                }
            }
        }
        for held in standing.iter().filter(|d| d.event_id == r.event_id) {
            let notice = crate::sharing::erasure_message_id(held.message_id);
            if store::outbox::queue_notice(&mut tx, "erasure", &held.as_target(), notice, "erased_at_source", now)
                .await?
            {
                done.notices += 1;
            }
            entries.push(LogEntry {
                event_id: r.event_id,
                subject_id: held.subject_id,
                recipient: held.recipient.clone(),
                stage: Stage::Erased.as_str().into(),
                decision: "withhold".into(),
                reason: Some("erased_at_source".into()),
                agreement: Some(held.agreement.clone()),
                purpose: Some(held.purpose.clone()),
                legal_basis: Some(held.legal_basis.clone()),
                event_type: r.event_type.clone(),
                data_class: crate::domain::event_types::data_class(&r.event_type).unwrap_or_default().into(),
                fields_disclosed: Vec::new(),
                fields_withheld: Vec::new(),
                catch_up: held.catch_up,
                logged_at: now,
            });
        }
        done.erased.push(r.event_id);
    }
    log::append(&mut tx, &entries).await?;
    let target = format!("{} records of {agency}: {reason}", done.erased.len());
    store::operator_actions::record(&mut tx, by, "erase", &target, now).await?;
    tx.commit().await?;
    hub.publisher_wakeup.notify_one();
    tracing::info!(agency, erased = done.erased.len(), notices = done.notices, by, "records erased");
    Ok(done)
}

/// The stored update with nothing about the person: no identifiers, name, date of birth or
/// payload values (each payload field at its default, null). What stays: its id, type, class,
/// times, source and category.
fn without_personal_data(mut update: serde_json::Value) -> serde_json::Value {
    update["subject"]["identifiers"] = serde_json::json!([]);
    update["subject"]["name"] = serde_json::Value::Null;
    update["subject"]["date_of_birth"] = serde_json::Value::Null;
    update["payload"] = serde_json::json!({});
    update["correction"] = serde_json::Value::Null;
    update
}
