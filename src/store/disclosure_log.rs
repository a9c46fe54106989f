//! The disclosure log as stored: entries appended with their chained hashes (computed by
//! `sharing::log`, which keeps the chain), the reads sharing decides on, and counts for the demo
//! and the metrics.
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::corrections::CURRENT;

use crate::domain::names::AgencyId;

/// One entry as stored and chained. Its stage is kept as the stored text (written from
/// `sharing::log::Stage`), so that verifying a tampered row reports the tampering rather than
/// failing to read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LogEntry {
    pub event_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub recipient: String,
    /// `decided` when the update was first decided; `redecided` when a late fact decided it
    /// again and it is now delivered; `retracted` when a late fact showed a delivery should not
    /// have gone (a retraction notice is queued); `recalled` when an operator or auditor recalled
    /// a delivery (an erasure notice is queued); `published` when the publisher changed the
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

/// An entry with its place in the chain.
#[derive(sqlx::FromRow)]
pub struct ChainedEntry {
    pub id: i64,
    pub prev_hash: String,
    pub hash: String,
    #[sqlx(flatten)]
    pub entry: LogEntry,
}

/// Locks the chain for the rest of the transaction (`store::locks`), then reads the hash of its
/// last entry (none while the log is empty). One round trip: both statements go as one simple
/// query, each with its own snapshot, so the head is read after the lock is granted and sees
/// every entry committed before it — as two round trips did, once for every batch stored.
pub async fn lock_and_read_head(tx: &mut Transaction<'_, Postgres>) -> Result<Option<String>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT pg_advisory_xact_lock({}); SELECT hash FROM disclosure_log ORDER BY id DESC LIMIT 1",
        super::locks::DISCLOSURE_LOG
    )))
    .fetch_all(&mut **tx)
    .await?;
    // The lock's row has no `hash`; the head's row, if the log has one, does.
    rows.iter().find(|r| r.try_column("hash").is_ok()).map(|r| r.try_get("hash")).transpose()
}

/// Appends entries in order with their chain links (`prevs[i]`, `hashes[i]`), one statement.
pub async fn insert_chained(
    tx: &mut Transaction<'_, Postgres>,
    entries: &[LogEntry],
    prevs: &[String],
    hashes: &[String],
) -> Result<(), sqlx::Error> {
    let col = |f: fn(&LogEntry) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
    let list =
        |f: fn(&LogEntry) -> &Vec<String>| entries.iter().map(|e| super::text_array_literal(f(e))).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO disclosure_log (event_id, subject_id, recipient, stage, decision, reason, agreement, purpose,
            legal_basis, event_type, data_class, fields_disclosed, fields_withheld, catch_up, logged_at, prev_hash, hash)
         SELECT t.event_id, t.subject_id, t.recipient, t.stage, t.decision, t.reason, t.agreement, t.purpose, t.legal_basis,
                t.event_type, t.data_class,
                t.disclosed::text[], t.withheld::text[],
                t.catch_up, t.logged_at, t.prev_hash, t.hash
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bool[], $15::timestamptz[],
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
    .bind(prevs)
    .bind(hashes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every entry with its chain links, in log order, as `executor` sees it (a pool, or a
/// transaction).
pub async fn chained<'e, E: sqlx::PgExecutor<'e>>(executor: E) -> Result<Vec<ChainedEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, prev_hash, hash, event_id, subject_id, recipient, stage, decision, reason, agreement, purpose, legal_basis,
                event_type, data_class, fields_disclosed, fields_withheld, catch_up, logged_at
         FROM disclosure_log ORDER BY id",
    )
    .fetch_all(executor)
    .await
}

/// A recipient's latest decision on an update about a person (the update itself is read only
/// for the decisions that may change).
#[derive(sqlx::FromRow)]
pub struct LatestDecision {
    pub person: Uuid,
    pub recipient: AgencyId,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub decision: String,
    pub reason: Option<String>,
}

/// Every recipient's latest decision (decided, redecided or retracted) on each update about these
/// people that happened at or after the paired time (`since`, one per person), except the updates
/// in `exclude` (hashed once: see `events::undecided_for`).
pub async fn latest_decisions(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    since: &[DateTime<Utc>],
    exclude: &[Uuid],
) -> Result<Vec<LatestDecision>, sqlx::Error> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT e.subject_id AS person, l.recipient, e.event_id, e.occurred_at, l.decision, l.reason
         FROM UNNEST($1::uuid[], $3::timestamptz[]) AS p(subject_id, since)
         JOIN events e ON e.subject_id = p.subject_id AND e.occurred_at >= p.since
         CROSS JOIN LATERAL (SELECT DISTINCT ON (recipient) recipient, decision, reason FROM disclosure_log_by_stage
                             WHERE event_id = e.event_id AND stage IN ('decided', 'redecided', 'retracted', 'recalled')
                             ORDER BY recipient, id DESC) l
         WHERE e.event_id NOT IN (SELECT unnest($2::uuid[])) AND {CURRENT}"
    )))
    .bind(subjects)
    .bind(exclude)
    .bind(since)
    .fetch_all(&mut **tx)
    .await
}

/// (update, recipient, deliveries queued) of every pair of these updates decided before.
pub async fn decided_with_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
) -> Result<Vec<(Uuid, AgencyId, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.event_id, l.recipient,
                (SELECT count(*) FROM outbox o WHERE o.event_id = l.event_id AND o.recipient = l.recipient
                   AND o.kind = 'delivery')
         FROM disclosure_log l WHERE l.event_id = ANY($1) AND l.stage = 'decided'",
    )
    .bind(events)
    .fetch_all(&mut **tx)
    .await
}

/// One entry as an operator's explanation lists it.
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct PairEntry {
    pub stage: String,
    pub decision: String,
    pub reason: Option<String>,
    pub agreement: Option<String>,
    pub catch_up: bool,
    pub logged_at: DateTime<Utc>,
}

/// Every entry about (update, recipient), in log order.
pub async fn of_pair(pool: &PgPool, event_id: Uuid, recipient: &str) -> Result<Vec<PairEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT stage, decision, reason, agreement, catch_up, logged_at FROM disclosure_log_by_stage
         WHERE event_id = $1 AND recipient = $2 ORDER BY id",
    )
    .bind(event_id)
    .bind(recipient)
    .fetch_all(pool)
    .await
}

/// Every (update, recipient) pair decided, in log order.
pub async fn decided_pairs(pool: &PgPool) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT event_id, recipient FROM disclosure_log WHERE stage = 'decided' ORDER BY id")
        .fetch_all(pool)
        .await
}

/// The highest entry id visible now, and the decisions (recipient, decision, entries) logged
/// after entry `after` up to it — the stages that decide (decided, redecided, retracted).
pub async fn decisions_since(pool: &PgPool, after: i64) -> Result<(i64, Vec<(String, String, i64)>), sqlx::Error> {
    let top: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM disclosure_log").fetch_one(pool).await?;
    let counts = sqlx::query_as(
        "SELECT recipient, decision, count(*) FROM disclosure_log
         WHERE id > $1 AND id <= $2 AND stage IN ('decided', 'redecided', 'retracted') GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(after)
    .bind(top)
    .fetch_all(pool)
    .await?;
    Ok((top, counts))
}

/// (reason, entries) of every withholding logged.
pub async fn withheld_by_reason(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(reason, ''), count(*) FROM disclosure_log WHERE decision = 'withhold' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// One disclosure of a person's records, as subject access lists it.
#[derive(sqlx::FromRow)]
pub struct Disclosure {
    pub logged_at: chrono::DateTime<chrono::Utc>,
    pub recipient: String,
    pub event_type: String,
    pub stage: String,
    pub decision: String,
    pub reason: Option<String>,
    pub agreement: Option<String>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub fields_disclosed: Vec<String>,
    pub fields_withheld: Vec<String>,
}

/// Every entry about a person, in log order.
pub async fn of_person(pool: &PgPool, subject: Uuid) -> Result<Vec<Disclosure>, sqlx::Error> {
    sqlx::query_as(
        "SELECT logged_at, recipient, event_type, stage, decision, reason, agreement, purpose, legal_basis, fields_disclosed, fields_withheld
         FROM disclosure_log WHERE subject_id = $1 ORDER BY id",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
}
