//! The consultation log (DPA 2018 s.62: consultation is logged as disclosure is): who looked at
//! whose record through the hub — a court user's bench summary or court list — when, for which
//! court, for what purpose or hearing, and every attempt refused. Hash-chained like the
//! disclosure log and verified with it by `tracker audit verify`.
use chrono::SubsecRound;
use sqlx::PgPool;
use uuid::Uuid;

use crate::chain::{GENESIS, Stored, Verified};
pub use crate::store::consultations::Consultation;
use crate::store::{self, consultations::ChainedConsultation};

impl Consultation {
    fn content(&self) -> String {
        [
            self.viewer.clone(),
            self.role.clone(),
            self.court.clone().unwrap_or_default(),
            self.subject_id.map(|s| s.to_string()).unwrap_or_default(),
            self.view.clone(),
            self.purpose.clone(),
            self.outcome.clone(),
            self.viewed_at.trunc_subsecs(6).to_rfc3339(),
        ]
        .join("\u{1f}")
    }
}

/// Appends one consultation to the chain; returns its id. The time is kept to the microsecond,
/// as the store keeps it, so the hash can be checked again.
pub async fn record(pool: &PgPool, consultation: &Consultation) -> Result<i64, sqlx::Error> {
    let mut c = consultation.clone();
    c.viewed_at = c.viewed_at.trunc_subsecs(6);
    let mut tx = pool.begin().await?;
    store::locks::consultation_log(&mut tx).await?;
    let prev = store::consultations::last_hash(&mut tx).await?.unwrap_or_else(|| GENESIS.to_string());
    let hash = crate::chain::link(&prev, &c.content());
    let id = store::consultations::insert_chained(&mut tx, &c, &prev, &hash).await?;
    tx.commit().await?;
    Ok(id)
}

/// Walks the consultation log's chain.
pub async fn verify(pool: &PgPool) -> Result<Verified, sqlx::Error> {
    let rows: Vec<ChainedConsultation> = store::consultations::chained(pool).await?;
    Ok(crate::chain::verify(rows.iter().map(|r| Stored {
        id: r.id,
        prev_hash: &r.prev_hash,
        hash: &r.hash,
        content: r.entry.content(),
    })))
}

/// The latest consultations, newest first (about one person, if given).
pub async fn latest(pool: &PgPool, subject: Option<Uuid>, limit: i64) -> Result<Vec<(i64, Consultation)>, sqlx::Error> {
    store::consultations::latest(pool, subject, limit).await
}
