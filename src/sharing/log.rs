//! The disclosure log (DPA 2018 s.62): one entry per decision, hash-chained so that an edited,
//! deleted or reordered entry is detected by `tracker audit verify`.
use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Serialises appends so the chain has one order.
const LOG_LOCK: i64 = 0x0064_6973_636c_6f67;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where in a decision's life an entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The update was first decided for the recipient.
    Decided,
    /// A late fact (or a record moving to another person) decided it again.
    Redecided,
    /// A late fact showed a delivery should not have gone: a retraction notice is queued.
    Retracted,
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
            Stage::Published => "published",
        }
    }
}

/// One entry as stored and chained. Its stage is kept as the stored text (written from
/// [`Stage`]), so that verifying a tampered row reports the tampering rather than failing to read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LogEntry {
    pub event_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub recipient: String,
    /// `decided` when the update was first decided; `redecided` when a late fact decided it
    /// again and it is now delivered; `retracted` when a late fact showed a delivery should not
    /// have gone (a retraction notice is queued); `published` when the publisher changed the
    /// decision (consent withdrawn, or a notice about a delivery that was never sent).
    pub stage: String,
    pub decision: String,
    pub reason: Option<String>,
    pub agreement: Option<String>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub event_type: String,
    pub data_class: String,
    pub fields_disclosed: Vec<String>,
    pub fields_withheld: Vec<String>,
    pub catch_up: bool,
    pub logged_at: DateTime<Utc>,
}

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
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update([0x1e]);
    h.update(entry.content().as_bytes());
    hex::encode(h.finalize())
}

/// Appends entries in order, continuing the chain.
pub async fn append(tx: &mut Transaction<'_, Postgres>, entries: &[LogEntry]) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(LOG_LOCK).execute(&mut **tx).await?;
    let mut prev: String = sqlx::query_scalar("SELECT hash FROM disclosure_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or_else(|| GENESIS.to_string());
    // Hashes are chained here, then every entry goes in with one statement.
    let mut prevs = Vec::with_capacity(entries.len());
    let mut hashes = Vec::with_capacity(entries.len());
    for e in entries {
        let hash = chain(&prev, e);
        prevs.push(std::mem::replace(&mut prev, hash.clone()));
        hashes.push(hash);
    }
    let col = |f: fn(&LogEntry) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
    let list = |f: fn(&LogEntry) -> &Vec<String>| entries.iter().map(|e| serde_json::json!(f(e))).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO disclosure_log (event_id, subject_id, recipient, stage, decision, reason, agreement, purpose,
            legal_basis, event_type, data_class, fields_disclosed, fields_withheld, catch_up, logged_at, prev_hash, hash)
         SELECT t.event_id, t.subject_id, t.recipient, t.stage, t.decision, t.reason, t.agreement, t.purpose, t.legal_basis,
                t.event_type, t.data_class,
                ARRAY(SELECT jsonb_array_elements_text(t.disclosed)), ARRAY(SELECT jsonb_array_elements_text(t.withheld)),
                t.catch_up, t.logged_at, t.prev_hash, t.hash
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::jsonb[], $14::bool[], $15::timestamptz[],
                     $16::text[], $17::text[]) WITH ORDINALITY
              AS t(event_id, subject_id, recipient, stage, decision, reason, agreement, purpose, legal_basis, event_type,
                   data_class, disclosed, withheld, catch_up, logged_at, prev_hash, hash, n)
         ORDER BY t.n",
    )
    .bind(entries.iter().map(|e| e.event_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.subject_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.recipient.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.stage.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.decision.clone()).collect::<Vec<_>>())
    .bind(col(|e| e.reason.clone()))
    .bind(col(|e| e.agreement.clone()))
    .bind(col(|e| e.purpose.clone()))
    .bind(col(|e| e.legal_basis.clone()))
    .bind(entries.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.data_class.clone()).collect::<Vec<_>>())
    .bind(list(|e| &e.fields_disclosed))
    .bind(list(|e| &e.fields_withheld))
    .bind(entries.iter().map(|e| e.catch_up).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.logged_at.trunc_subsecs(6)).collect::<Vec<_>>())
    .bind(&prevs)
    .bind(&hashes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What verification found: the first broken link, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    Intact {
        entries: usize,
    },
    /// The entry's content no longer matches its hash.
    Edited {
        id: i64,
    },
    /// The entry does not follow the one before it: entries were removed before it.
    Deleted {
        before_id: i64,
    },
    /// The entry follows an entry that now stands elsewhere in the log.
    Reordered {
        id: i64,
    },
}

/// A sentence for an operator.
pub fn describe(v: &Verified) -> String {
    match v {
        Verified::Intact { entries } => format!("intact ({entries} entries)"),
        Verified::Edited { id } => format!("entry {id} was edited (its content no longer matches its hash)"),
        Verified::Deleted { before_id } => format!("entries were deleted just before entry {before_id}"),
        Verified::Reordered { id } => {
            format!("entry {id} is out of order (it follows an entry now elsewhere in the log)")
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredEntry {
    id: i64,
    prev_hash: String,
    hash: String,
    #[sqlx(flatten)]
    entry: LogEntry,
}

pub async fn verify(pool: &PgPool) -> Result<Verified, sqlx::Error> {
    verify_with(pool).await
}

/// Verifies the chain as `executor` sees it (a pool, or a transaction).
pub async fn verify_with<'e, E: sqlx::PgExecutor<'e>>(executor: E) -> Result<Verified, sqlx::Error> {
    let rows: Vec<StoredEntry> = sqlx::query_as(
        "SELECT id, prev_hash, hash, event_id, subject_id, recipient, stage, decision, reason, agreement, purpose, legal_basis,
                event_type, data_class, fields_disclosed, fields_withheld, catch_up, logged_at
         FROM disclosure_log ORDER BY id",
    )
    .fetch_all(executor)
    .await?;
    let all_hashes: std::collections::HashSet<&str> = rows.iter().map(|r| r.hash.as_str()).collect();
    let mut expected_prev = GENESIS.to_string();
    for r in &rows {
        if chain(&r.prev_hash, &r.entry) != r.hash {
            return Ok(Verified::Edited { id: r.id });
        }
        if r.prev_hash != expected_prev {
            return Ok(if all_hashes.contains(r.prev_hash.as_str()) {
                Verified::Reordered { id: r.id }
            } else {
                Verified::Deleted { before_id: r.id }
            });
        }
        expected_prev = r.hash.clone();
    }
    Ok(Verified::Intact { entries: rows.len() })
}
