//! The disclosure log (DPA 2018 s.62): one entry per decision, hash-chained so that an edited,
//! deleted or reordered entry is detected by `tracker audit verify`.
use chrono::SubsecRound;
use sqlx::{PgPool, Postgres, Transaction};

use crate::chain::{GENESIS, Stored};
pub use crate::chain::{Verified, describe};
use crate::store;

/// Where in a decision's life an entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The update was first decided for the recipient.
    Decided,
    /// A late fact (or a record moving to another person) decided it again.
    Redecided,
    /// A late fact showed a delivery should not have gone: a retraction notice is queued.
    Retracted,
    /// An operator or auditor recalled a delivery as unlawful or mistaken: an erasure notice is
    /// queued, and the pair is not decided again.
    Recalled,
    /// Its source corrected the record: the recipient's copy is superseded (by a delivery of the
    /// corrected record marked as correcting it, or by a correction notice).
    Corrected,
    /// The owning agency had the record erased: the recipient's copy is named in an erasure
    /// notice.
    Erased,
    /// The owning agency had the record restricted: the recipient's copy is named in a
    /// restriction notice, and nothing more is sent while it lasts.
    Restricted,
    /// The publisher changed the decision (consent withdrawn, or a notice about a delivery that
    /// was never sent).
    Published,
}

impl Stage {
    /// The stored form (`disclosure_log.stage`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decided => "decided",
            Stage::Redecided => "redecided",
            Stage::Retracted => "retracted",
            Stage::Recalled => "recalled",
            Stage::Corrected => "corrected",
            Stage::Erased => "erased",
            Stage::Restricted => "restricted",
            Stage::Published => "published",
        }
    }
}

pub use crate::store::disclosure_log::LogEntry;

impl LogEntry {
    fn content(&self) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        [
            self.event_id.to_string(),
            self.subject_id.map(|s| s.to_string()).unwrap_or_default(),
            self.recipient.clone(),
            self.stage.clone(),
            self.decision.clone(),
            opt(&self.reason),
            opt(&self.agreement),
            opt(&self.purpose),
            opt(&self.legal_basis),
            self.event_type.clone(),
            self.data_class.clone(),
            self.fields_disclosed.join(","),
            self.fields_withheld.join(","),
            self.catch_up.to_string(),
            self.logged_at.trunc_subsecs(6).to_rfc3339(),
        ]
        .join("\u{1f}")
    }
}

fn chain(prev: &str, entry: &LogEntry) -> String {
    crate::chain::link(prev, &entry.content())
}

/// Appends entries in order, continuing the chain.
pub async fn append(tx: &mut Transaction<'_, Postgres>, entries: &[LogEntry]) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    // The chain has one order: appends are serialised (the log's lock, taken with its head).
    let mut prev = store::disclosure_log::lock_and_read_head(tx).await?.unwrap_or_else(|| GENESIS.to_string());
    // Hashes are chained here, then every entry goes in with one statement.
    let mut prevs = Vec::with_capacity(entries.len());
    let mut hashes = Vec::with_capacity(entries.len());
    for e in entries {
        let hash = chain(&prev, e);
        prevs.push(std::mem::replace(&mut prev, hash.clone()));
        hashes.push(hash);
    }
    store::disclosure_log::insert_chained(tx, entries, &prevs, &hashes).await
}

pub async fn verify(pool: &PgPool) -> Result<Verified, sqlx::Error> {
    verify_with(pool).await
}

/// Verifies the chain as `executor` sees it (a pool, or a transaction).
pub async fn verify_with<'e, E: sqlx::PgExecutor<'e>>(executor: E) -> Result<Verified, sqlx::Error> {
    let rows = store::disclosure_log::chained(executor).await?;
    Ok(crate::chain::verify(rows.iter().map(|r| Stored {
        id: r.id,
        prev_hash: &r.prev_hash,
        hash: &r.hash,
        content: r.entry.content(),
    })))
}
