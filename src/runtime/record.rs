//! Recording one message in the caller's transaction, store call by store call: the inbox row
//! (which recognises a message committed before), identity links (the index locked), the events
//! (projections follow by trigger), held records, kept items, rejected identifiers and refusals.
//! Sharing is decided after this, by `apply`, in the same transaction.
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::connectors::mapping::DraftSubject;
use crate::identity::{self, Link};
use crate::settings::AgencyKind;
use crate::store::dead_letters::DeadLetter;
use crate::store::events::EventRows;
use crate::store::inbox::InboxRow;
use crate::store::message::{Envelope, ReadyItem};
use crate::store::refusals::RefusalRows;
use crate::store::{self, NewEvent, StoreError};

/// Whether a message is met for the first time or read again from the raw archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From the broker: a message the inbox already holds changes nothing.
    Arrival,
    /// A replay or reprocess (after a connector fix): the message goes through again. Event ids
    /// keep it idempotent; refusals that now apply are resolved; only new refusals are
    /// dead-lettered.
    Reprocess,
}

/// What recording a message did, for sharing to decide on: the events stored for the first
/// time, the stored records that moved to another person, and the dead letters.
pub struct Recorded {
    pub events: usize,
    pub refused: usize,
    pub kept: usize,
    pub conflicts: usize,
    pub stored: Vec<NewEvent>,
    pub moved: Vec<identity::Moved>,
    pub dead_letters: Vec<DeadLetter>,
}

/// Records a message inside the caller's transaction. `None` when the inbox already held it:
/// nothing was written. `kind_of` tells identity what kind of agency issued each record.
pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    env: &Envelope,
    archive_id: i64,
    items: &[ReadyItem],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Option<Recorded>, StoreError> {
    let (mut events, mut refused, mut kept) = (0usize, 0usize, 0usize);
    for item in items {
        match item {
            ReadyItem::Events { events: e, .. } => events += e.len(),
            ReadyItem::Refused { .. } => refused += 1,
            ReadyItem::Kept { .. } => kept += 1,
        }
    }
    let outcome = if refused > 0 && events == 0 && kept == 0 {
        "refused"
    } else if refused > 0 {
        "partial"
    } else if events == 0 && kept > 0 {
        "kept"
    } else {
        "applied"
    };
    let inbox = InboxRow { env, archive_id, outcome, items: items.len(), events, refused, kept };
    let first_time = match mode {
        Mode::Arrival => store::inbox::insert_new(tx, &inbox, now).await?,
        Mode::Reprocess => store::inbox::upsert_reprocessed(tx, &inbox, now).await?,
    };
    if !first_time {
        return Ok(None);
    }
    if events > 0 {
        store::locks::identity_index(tx).await?;
    }
    let subjects: Vec<&DraftSubject> = items
        .iter()
        .filter_map(|i| match i {
            ReadyItem::Events { subject, .. } => Some(subject),
            _ => None,
        })
        .collect();
    let linking = identity::link_all(tx, &subjects, &env.agency, kind_of, now).await?;
    let mut rows = EventRows::default();
    let mut links = linking.links.into_iter();
    let mut refusals = RefusalRows::default();
    let mut held: Vec<(Uuid, Json, Vec<Uuid>)> = Vec::new();
    for item in items {
        match item {
            ReadyItem::Events { position, subject, events } => {
                let link = links.next().unwrap_or(Link::Unidentified);
                for rejected in &subject.rejected {
                    tracing::warn!(agency = %env.agency, message_id = %env.message_id, position, "identifier not used: {rejected}");
                    store::refusals::reject_identifier(tx, env, *position, rejected, now).await?;
                }
                let identifiers = identifiers_json(subject);
                let subject_id = match &link {
                    Link::Subject(id) => Some(*id),
                    Link::Conflict(_) | Link::Unidentified => None,
                };
                for e in events {
                    if let Link::Conflict(people) = &link {
                        held.push((e.event_id, identifiers.clone(), people.clone()));
                    }
                    rows.push(e, subject_id, *position, &identifiers, subject);
                }
            }
            ReadyItem::Kept { position, label } => store::refusals::keep_item(tx, env, *position, label, now).await?,
            ReadyItem::Refused { position, refusal, raw } => refusals.push(*position, refusal, raw, archive_id),
        }
    }
    let conflicts = held.len();
    store::identity_conflicts::hold_new(tx, &env.agency, &env.message_id, &held, now).await?;
    let still_refused = refusals.positions.clone();
    let dead_letters = refusals.insert(tx, env, now).await?;
    if mode == Mode::Reprocess {
        store::refusals::resolve_reprocessed(tx, env, &still_refused, now).await?;
    }
    let stored = rows.insert(tx, env, now).await?;
    Ok(Some(Recorded { events, refused, kept, conflicts, stored, moved: linking.moved, dead_letters }))
}

/// An item's identifiers as stored with its events (and matched by later records).
fn identifiers_json(subject: &DraftSubject) -> Json {
    Json::Array(
        subject
            .identifiers
            .iter()
            .map(|i| serde_json::json!({"scheme": i.scheme().as_str(), "value": i.value()}))
            .collect(),
    )
}
