//! A transaction, orchestrated: `record` stores a run of one agency's messages (inbox, identity,
//! events and projections, the records they correct, kept items, refusals), then sharing retracts
//! what went out about records that moved to another person, decides every update the run stored
//! or moved, and tells the holders of corrected records — all before the one commit. The store and sharing each do their part; neither calls the other.
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

use super::record::{self, Incoming, Mode};
use crate::sharing::Sharing;
use crate::store::StoreError;
use crate::store::dead_letters::DeadLetter;
use crate::store::message::{Envelope, ReadyItem};

/// What applying a message did.
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
        /// Deliveries and notices queued in the outbox by the decisions made with it (those of a
        /// run decided together are counted on the run's first message).
        queued: usize,
        dead_letters: Vec<DeadLetter>,
    },
    /// Seen before: nothing changed; dead letters not yet confirmed are returned again.
    Duplicate { dead_letters: Vec<DeadLetter> },
}

/// Stores and decides a message in one transaction. Nothing is visible until it commits; a
/// message the inbox already holds changes nothing.
pub async fn apply(
    pool: &PgPool,
    sharing: &Sharing,
    env: &Envelope,
    archive_id: i64,
    items: &[ReadyItem],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Applied, StoreError> {
    let mut tx = pool.begin().await?;
    match apply_in(&mut tx, sharing, env, archive_id, items, now, mode).await? {
        Some(applied) => {
            tx.commit().await?;
            Ok(applied)
        }
        None => {
            tx.rollback().await?;
            Ok(Applied::Duplicate {
                dead_letters: crate::store::dead_letters::pending_dead_letters(pool, env, usize::MAX).await?,
            })
        }
    }
}

/// [`apply`] inside the caller's transaction (a bulk load applies many in one). `None` when the
/// inbox already held the message: nothing was written.
pub async fn apply_in(
    tx: &mut Transaction<'_, Postgres>,
    sharing: &Sharing,
    env: &Envelope,
    archive_id: i64,
    items: &[ReadyItem],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Option<Applied>, StoreError> {
    let mut applied = apply_run(tx, sharing, &[Incoming { env, archive_id, items }], now, mode).await?;
    Ok(applied.pop().flatten())
}

/// Stores and decides a run of one agency's messages inside the caller's transaction, each
/// statement once for the run: one outcome per message, in order, `None` where the inbox
/// already held it.
pub async fn apply_run(
    tx: &mut Transaction<'_, Postgres>,
    sharing: &Sharing,
    msgs: &[Incoming<'_>],
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Vec<Option<Applied>>, StoreError> {
    let kind_of = |agency: &str| sharing.kind_of(agency);
    let recorded = record::record(tx, &kind_of, msgs, now, mode).await?;
    // Records that moved to another person: what went out under the old one is retracted, and
    // they are decided again with this run's records.
    let mut queued = crate::sharing::retract_moved(tx, &recorded.moved, now).await?;
    let mut updates = recorded.stored;
    updates.extend(crate::sharing::moved_events(tx, &recorded.moved).await?);
    let moved: std::collections::BTreeSet<uuid::Uuid> = recorded.moved.iter().map(|m| m.event_id).collect();
    // Decided after the whole run is recorded, against the store as it now is.
    queued += crate::sharing::decide_message(tx, sharing, &updates, &moved, now).await?;
    // Records the run corrects: their holders are told (the corrections were decided above).
    queued += crate::sharing::corrections::send_on(tx, &recorded.corrected, now).await?;
    Ok(recorded
        .messages
        .into_iter()
        .map(|m| {
            m.map(|m| Applied::Stored {
                events: m.events,
                refused: m.refused,
                kept: m.kept,
                conflicts: m.conflicts,
                inserted: m.inserted,
                queued: std::mem::take(&mut queued),
                dead_letters: m.dead_letters,
            })
        })
        .collect())
}
