//! The consultation log (DPA 2018 s.62: consultation is logged as disclosure is): who looked at
//! whose record through the hub — a court user's bench summary or court list, an operator's
//! `person show` or subject-access export, an auditor's report detail — when, for which court,
//! for what purpose or hearing, and every attempt refused. Hash-chained like the
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

/// Someone who is not a court user looking at people's records (an operator at the command
/// line, an auditor reading a report's detail), for a purpose, at a time by the hub's clock.
#[derive(Debug, Clone)]
pub struct Looker<'a> {
    pub viewer: &'a str,
    pub role: &'a str,
    pub purpose: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Records a look (shown, with no court) at `subject`'s records, or at records of many people
/// (`None`). The purpose is cut to [`MAX_PURPOSE_CHARS`], control characters dropped; empty
/// reads "none given".
pub async fn record_look(
    pool: &PgPool,
    looker: &Looker<'_>,
    subject: Option<Uuid>,
    view: &str,
) -> Result<i64, sqlx::Error> {
    let consultation = Consultation {
        viewer: looker.viewer.into(),
        role: looker.role.into(),
        court: None,
        subject_id: subject,
        view: view.into(),
        purpose: clean_purpose(looker.purpose),
        outcome: "shown".into(),
        viewed_at: looker.at,
    };
    record(pool, &consultation).await
}

/// The longest purpose kept in the log; a longer one is cut there.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// A purpose as logged: trimmed, without control characters, at most [`MAX_PURPOSE_CHARS`].
pub fn clean_purpose(purpose: &str) -> String {
    let purpose: String = purpose.trim().chars().filter(|c| !c.is_control()).take(MAX_PURPOSE_CHARS).collect();
    if purpose.is_empty() { "none given".into() } else { purpose }
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
