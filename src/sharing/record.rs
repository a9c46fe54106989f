//! Recording decisions, in the transaction that made them: each decision is a disclosure-log
//! entry (hash-chained by `log`), each delivery an outbox row, each retraction a notice queued
//! after the delivery it names.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::decide::Decision;
use super::log::{self, LogEntry, Stage};
use super::{NewEvent, delivery_message_id, facts, retraction_message_id};
use crate::domain::names::AgencyId;
use crate::store;
use crate::store::outbox::{NewDelivery, NewRetraction};

/// A decision made, to log and (when delivering) to queue.
pub(super) struct Decided<'a> {
    pub(super) event: &'a NewEvent,
    pub(super) recipient: AgencyId,
    pub(super) decision: Decision,
    pub(super) catch_up: bool,
    /// `decided` the first time; `redecided` when a late fact changed an earlier decision.
    pub(super) stage: Stage,
    /// The delivery's message id, when it delivers.
    pub(super) message_id: Uuid,
}

impl<'a> Decided<'a> {
    pub(super) fn first(event: &'a NewEvent, recipient: &str, decision: Decision, catch_up: bool) -> Decided<'a> {
        let message_id = delivery_message_id(event.event_id, recipient);
        Decided { event, recipient: recipient.into(), decision, catch_up, stage: Stage::Decided, message_id }
    }
}

/// A delivery that records received later show should not have gone: the recipient gets a
/// notice naming it.
pub(super) struct Retraction<'a> {
    pub(super) event: &'a NewEvent,
    /// Why it is disallowed now (condition not met, denied), with the agreement concerned.
    pub(super) decision: Decision,
    pub(super) delivery: facts::QueuedDelivery,
}

pub(super) async fn write_decisions(
    tx: &mut Transaction<'_, Postgres>,
    decided: &[Decided<'_>],
    retractions: &[Retraction<'_>],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let mut entries = Vec::with_capacity(decided.len() + retractions.len());
    let mut queued = Vec::new();
    // Retractions first: a pair retracted and allowed again in one message cannot happen (one
    // decision per pair per message), but a notice should precede anything decided after it.
    for r in retractions {
        entries.push(log_entry(r.event, &r.delivery.recipient, Stage::Retracted, &r.decision, &[], false, now));
    }
    for d in decided {
        let withheld = d.decision.withheld_fields().to_vec();
        entries.push(log_entry(d.event, &d.recipient, d.stage, &d.decision, &withheld, d.catch_up, now));
        if let Some(grant) = d.decision.grant() {
            queued.push((d, grant, withheld));
        }
    }
    let notices: Vec<NewRetraction> = retractions
        .iter()
        .map(|r| NewRetraction {
            event_id: r.event.event_id,
            subject_id: r.event.subject_id,
            message_id: retraction_message_id(r.delivery.message_id),
            delivery: &r.delivery,
            reason: notice_reason(&r.decision),
        })
        .collect();
    store::outbox::queue_retractions(tx, &notices, now).await?;
    let deliveries: Vec<NewDelivery> = queued
        .iter()
        .map(|(d, grant, withheld)| NewDelivery {
            event_id: d.event.event_id,
            recipient: d.recipient.clone(),
            message_id: d.message_id,
            subject_id: d.event.subject_id,
            withheld_fields: withheld.clone(),
            agreement: grant.agreement.clone(),
            purpose: grant.purpose.clone(),
            legal_basis: grant.legal_basis.clone(),
            consent_scope: grant.consent.map(|c| c.code().to_string()),
            catch_up: d.catch_up,
        })
        .collect();
    store::outbox::queue_deliveries(tx, &deliveries, now).await?;
    log::append(tx, &entries).await?;
    Ok(queued.len() + retractions.len())
}

/// The log entry of one decision about (update, recipient).
fn log_entry(
    event: &NewEvent,
    recipient: &str,
    stage: Stage,
    decision: &Decision,
    withheld: &[String],
    catch_up: bool,
    now: DateTime<Utc>,
) -> LogEntry {
    let disclosed: Vec<String> = match decision {
        Decision::Withhold { .. } => Vec::new(),
        _ => event
            .payload
            .as_object()
            .map(|o| o.keys().filter(|k| !withheld.contains(k)).cloned().collect())
            .unwrap_or_default(),
    };
    let (reason, agreement) = match decision {
        Decision::Withhold { reason, agreement } => (Some(reason.code().to_string()), agreement.clone()),
        other => (None, other.grant().map(|g| g.agreement.clone())),
    };
    LogEntry {
        event_id: event.event_id,
        subject_id: event.subject_id,
        recipient: recipient.to_string(),
        stage: stage.as_str().into(),
        decision: decision.code().into(),
        reason,
        agreement,
        purpose: decision.grant().map(|g| g.purpose.clone()),
        legal_basis: decision.grant().map(|g| g.legal_basis.clone()),
        event_type: event.event_type.clone(),
        data_class: event.data_class.clone(),
        fields_disclosed: disclosed,
        fields_withheld: withheld.to_vec(),
        catch_up,
        logged_at: now,
    }
}

/// The reason code a retraction notice gives.
fn notice_reason(decision: &Decision) -> &'static str {
    match decision {
        Decision::Withhold { reason, .. } => reason.code(),
        _ => "error",
    }
}
