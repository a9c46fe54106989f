//! Storing one inbound message: the raw archive (first, on its own), then, in the caller's
//! transaction, the inbox row (dedupe), identity links, events (projections follow by trigger),
//! kept items and refusals. Refusals double as the dead-letter outbox. Sharing is not decided
//! here: the runtime (`runtime::apply`) decides it in the same transaction, after this.
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::NewEvent;
use super::StoreError;
use super::dead_letters::DeadLetter;
use super::events::EventRows;
pub use super::message::{Envelope, ReadyEvent, ReadyItem};
use super::refusals::RefusalRows;
use crate::connectors::mapping::DraftSubject;
use crate::identity::{self, Link};
use crate::settings::AgencyKind;

#[derive(Debug)]
pub enum Applied {
    /// First time: what was stored, and the dead letters to publish.
    Stored {
        events: usize,
        refused: usize,
        kept: usize,
        conflicts: usize,
        /// Events stored for the first time (a reprocess stores only what was missing).
        inserted: usize,
        /// Deliveries queued in the outbox.
        queued: usize,
        dead_letters: Vec<DeadLetter>,
    },
    /// Seen before: nothing changed; dead letters not yet confirmed are returned again.
    Duplicate { dead_letters: Vec<DeadLetter> },
}

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

/// What storing a message did, for the runtime to decide sharing on: the events stored for the
/// first time, the stored records that moved to another person, and the dead letters.
pub struct Recorded {
    pub events: usize,
    pub refused: usize,
    pub kept: usize,
    pub conflicts: usize,
    pub stored: Vec<NewEvent>,
    pub moved: Vec<identity::Moved>,
    pub dead_letters: Vec<DeadLetter>,
}

/// Stores a message inside the caller's transaction (a bulk load stores many in one). `None`
/// when the inbox already held it: nothing was written. `kind_of` tells identity what kind of
/// agency issued each record.
pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    env: &Envelope,
    archive_id: i64,
    items: &[ReadyItem],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Option<Recorded>, StoreError> {
    let (mut events, mut refused, mut kept, mut conflicts) = (0usize, 0usize, 0usize, 0usize);
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
    let inbox_sql = match mode {
        Mode::Arrival => {
            "INSERT INTO inbox (agency, message_id, connector, archive_id, outcome, items, events, refused, kept, processed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (agency, message_id) DO NOTHING"
        }
        Mode::Reprocess => {
            "INSERT INTO inbox (agency, message_id, connector, archive_id, outcome, items, events, refused, kept, processed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (agency, message_id) DO UPDATE SET archive_id = excluded.archive_id, outcome = excluded.outcome,
                items = excluded.items, events = excluded.events, refused = excluded.refused, kept = excluded.kept,
                processed_at = excluded.processed_at, detail = 'reprocessed'"
        }
    };
    let first_time = sqlx::query(inbox_sql)
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(&env.connector)
        .bind(archive_id)
        .bind(outcome)
        .bind(items.len() as i32)
        .bind(events as i32)
        .bind(refused as i32)
        .bind(kept as i32)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1;
    if !first_time {
        return Ok(None);
    }
    if events > 0 {
        identity::lock_index(tx).await?;
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
    for item in items {
        match item {
            ReadyItem::Events { position, subject, events } => {
                let link = links.next().unwrap_or(Link::Unidentified);
                record_rejections(tx, env, *position, subject, now).await?;
                let identifiers = Json::Array(
                    subject
                        .identifiers
                        .iter()
                        .map(|i| serde_json::json!({"scheme": i.scheme().as_str(), "value": i.value()}))
                        .collect(),
                );
                for e in events {
                    if let Link::Conflict(subjects) = &link {
                        conflicts += 1;
                        sqlx::query(
                            "INSERT INTO identity_conflicts (event_id, agency, message_id, identifiers, subject_ids, detected_at)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
                        )
                        .bind(e.event_id)
                        .bind(&env.agency)
                        .bind(&env.message_id)
                        .bind(&identifiers)
                        .bind(subjects)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    }
                    rows.push(e, &link, *position, &identifiers, subject);
                }
            }
            ReadyItem::Kept { position, label } => {
                sqlx::query(
                    "INSERT INTO kept_items (agency, connector, message_id, item_position, label, kept_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(&env.agency)
                .bind(&env.connector)
                .bind(&env.message_id)
                .bind(*position as i32)
                .bind(label)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            ReadyItem::Refused { position, refusal, raw } => refusals.push(*position, refusal, raw, archive_id),
        }
    }
    let still_refused = refusals.positions.clone();
    let dead_letters = refusals.insert(tx, env, now).await?;
    if mode == Mode::Reprocess {
        sqlx::query(
            "UPDATE refusals SET resolved_at = $4, resolution = 'reprocessed'
             WHERE agency = $1 AND message_id = $2 AND resolved_at IS NULL AND NOT (item_position = ANY($3))",
        )
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(&still_refused)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let stored = rows.insert(tx, env, now).await?;
    Ok(Some(Recorded { events, refused, kept, conflicts, stored, moved: linking.moved, dead_letters }))
}

async fn record_rejections(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    env: &Envelope,
    position: u32,
    subject: &DraftSubject,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for r in &subject.rejected {
        tracing::warn!(agency = %env.agency, message_id = %env.message_id, position, "identifier not used: {r}");
        sqlx::query(
            "INSERT INTO identifier_rejections (agency, message_id, item_position, scheme, value, reason, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(position as i32)
        .bind(r.scheme.as_str())
        .bind(&r.value)
        .bind(&r.reason)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
