//! Recording messages in the caller's transaction, store call by store call: the inbox rows
//! (which recognise a message committed before), identity links (the index locked), the events
//! (projections follow by trigger) and the earlier records they correct, held records, kept
//! items, rejected identifiers and refusals.
//! A run of one agency's messages is recorded together, each statement once for the run; sharing
//! is decided after this, by `apply`, in the same transaction.
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

/// A message read and ready to record.
#[derive(Clone, Copy)]
pub struct Incoming<'a> {
    pub env: &'a Envelope,
    pub archive_id: i64,
    pub items: &'a [ReadyItem],
}

/// What recording one message did.
pub struct MessageRecorded {
    pub events: usize,
    pub refused: usize,
    pub kept: usize,
    pub conflicts: usize,
    /// Its events stored for the first time.
    pub inserted: usize,
    pub dead_letters: Vec<DeadLetter>,
}

/// What recording a run of messages did, for sharing to decide on: per message (`None` where
/// the inbox already held it: nothing was written), the events stored for the first time, and
/// the stored records that moved to another person.
pub struct Recorded {
    pub messages: Vec<Option<MessageRecorded>>,
    pub stored: Vec<NewEvent>,
    pub moved: Vec<identity::Moved>,
    /// Stored records the run's records correct (same agency, type and key), in order.
    pub corrected: Vec<store::corrections::Corrected>,
}

/// Records messages of one agency, in order, inside the caller's transaction. `kind_of` tells
/// identity what kind of agency issued each record.
pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    msgs: &[Incoming<'_>],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Recorded, StoreError> {
    let Some(agency) = msgs.first().map(|m| &m.env.agency) else {
        return Ok(Recorded { messages: Vec::new(), stored: Vec::new(), moved: Vec::new(), corrected: Vec::new() });
    };
    debug_assert!(msgs.iter().all(|m| &m.env.agency == agency), "a run is one agency's");
    let inbox: Vec<InboxRow> = msgs.iter().map(|m| inbox_row(m)).collect();
    let fresh = match mode {
        Mode::Arrival => store::inbox::insert_new_many(tx, &inbox, now).await?,
        Mode::Reprocess => {
            let mut fresh = Vec::with_capacity(inbox.len());
            for row in &inbox {
                fresh.push(store::inbox::upsert_reprocessed(tx, row, now).await?);
            }
            fresh
        }
    };
    let recording: Vec<(usize, &Incoming)> = msgs.iter().enumerate().filter(|(i, _)| fresh[*i]).collect();
    let subjects: Vec<&DraftSubject> = recording
        .iter()
        .flat_map(|(_, m)| m.items.iter())
        .filter_map(|i| match i {
            ReadyItem::Events { subject, .. } => Some(subject),
            _ => None,
        })
        .collect();
    if !subjects.is_empty() {
        store::locks::identity_index(tx).await?;
    }
    let linking = identity::link_all(tx, &subjects, agency, kind_of, now).await?;
    let keyed = keyed_records(tx, agency, &recording).await?;
    let mut withdrawals: Vec<(String, String)> = Vec::new();
    let mut links = linking.links.into_iter();
    let mut rows = EventRows::default();
    let mut messages: Vec<Option<MessageRecorded>> = (0..msgs.len()).map(|_| None).collect();
    for (index, m) in &recording {
        let counts = inbox_row(m);
        let mut refusals = RefusalRows::default();
        let mut held: Vec<(Uuid, Json, Vec<Uuid>)> = Vec::new();
        for item in m.items {
            match item {
                ReadyItem::Events { position, subject, events } => {
                    let link = links.next().unwrap_or(Link::Unidentified);
                    for rejected in &subject.rejected {
                        tracing::warn!(agency = %m.env.agency, message_id = %m.env.message_id, position, "identifier not used: {rejected}");
                        store::refusals::reject_identifier(tx, m.env, *position, rejected, now).await?;
                    }
                    let identifiers = identifiers_json(subject);
                    let subject_id = match &link {
                        Link::Subject(id) => Some(*id),
                        Link::Conflict(_) | Link::Unidentified => None,
                    };
                    for e in events.iter().filter(|e| e.withdraws) {
                        if let Some(key) = &e.record_key {
                            withdrawals.push((e.event_type.clone(), key.clone()));
                        }
                    }
                    for e in events.iter().filter(|e| !e.withdraws && !keyed.repeated.contains(&e.event_id)) {
                        if let Link::Conflict(people) = &link {
                            held.push((e.event_id, identifiers.clone(), people.clone()));
                        }
                        rows.push(*index, m.env, e, subject_id, *position, &identifiers, subject);
                    }
                }
                ReadyItem::Kept { position, label } => {
                    store::refusals::keep_item(tx, m.env, *position, label, now).await?
                }
                ReadyItem::Refused { position, refusal, raw } => refusals.push(*position, refusal, raw, m.archive_id),
            }
        }
        store::identity_conflicts::hold_new(tx, &m.env.agency, &m.env.message_id, &held, now).await?;
        let still_refused = refusals.positions.clone();
        let dead_letters = refusals.insert(tx, m.env, now).await?;
        if mode == Mode::Reprocess {
            store::refusals::resolve_reprocessed(tx, m.env, &still_refused, now).await?;
        }
        messages[*index] = Some(MessageRecorded {
            events: counts.events,
            refused: counts.refused,
            kept: counts.kept,
            conflicts: held.len(),
            inserted: 0,
            dead_letters,
        });
    }
    let mut stored = Vec::new();
    for (owner, event) in rows.insert(tx, now).await? {
        if let Some(Some(m)) = messages.get_mut(owner) {
            m.inserted += 1;
        }
        stored.push(event);
    }
    let may_correct: Vec<Uuid> =
        stored.iter().map(|e| e.event_id).filter(|id| keyed.may_correct.contains(id)).collect();
    let mut corrected = store::corrections::supersede(tx, &may_correct, now).await?;
    corrected.extend(store::corrections::withdraw(tx, agency, &withdrawals, now).await?);
    Ok(Recorded { messages, stored, moved: linking.moved, corrected })
}

/// What the run's keyed records are, against the store and each other.
#[derive(Default)]
struct KeyedRecords {
    /// Records that repeat, unchanged, the record stored with their key (a file sent again under
    /// a new message id): they are not stored again.
    repeated: std::collections::HashSet<Uuid>,
    /// Records whose key a current stored record or an earlier record of the run holds: the only
    /// ones that may correct anything.
    may_correct: std::collections::HashSet<Uuid>,
}

/// Sorts the run's keyed records: keys alone are looked up first (most are new, and nothing
/// more is read for them); payloads are compared only where a key is held.
async fn keyed_records(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    agency: &str,
    recording: &[(usize, &Incoming<'_>)],
) -> Result<KeyedRecords, StoreError> {
    let mut keyed = Vec::new();
    for (_, m) in recording {
        for item in m.items {
            if let ReadyItem::Events { subject, events, .. } = item {
                for e in events.iter().filter(|e| !e.withdraws) {
                    if let Some(key) = &e.record_key {
                        keyed.push((subject, e, key.as_str()));
                    }
                }
            }
        }
    }
    let keys: Vec<(&str, &str, &str)> = keyed.iter().map(|(_, e, key)| (agency, e.event_type.as_str(), *key)).collect();
    let held = store::corrections::keys_held(tx, &keys).await?;
    let mut seen_in_run = std::collections::HashSet::new();
    let mut out = KeyedRecords::default();
    let mut candidates = Vec::new();
    for (i, (subject, e, key)) in keyed.iter().enumerate() {
        let repeats_in_run = !seen_in_run.insert((e.event_type.as_str(), *key));
        if held.contains(&i) || repeats_in_run {
            out.may_correct.insert(e.event_id);
        }
        if held.contains(&i) {
            candidates.push((identifiers_json(subject), *e, *key));
        }
    }
    let records: Vec<store::corrections::KeyedRecord> =
        candidates.iter().map(|(ids, e, key)| (agency, e.event_type.as_str(), *key, &*e.payload, ids)).collect();
    let repeated = store::corrections::unchanged(tx, &records).await?;
    out.repeated = repeated.into_iter().filter_map(|i| candidates.get(i).map(|(_, e, _)| e.event_id)).collect();
    Ok(out)
}

/// A message's inbox row: its outcome and counts.
fn inbox_row<'a>(m: &Incoming<'a>) -> InboxRow<'a> {
    let (mut events, mut refused, mut kept) = (0usize, 0usize, 0usize);
    for item in m.items {
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
    InboxRow { env: m.env, archive_id: m.archive_id, outcome, items: m.items.len(), events, refused, kept }
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
