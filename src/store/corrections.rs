//! Corrections: a stored record superseded by a later one from the same agency with the same
//! type and key (migration 0017). Events stay append-only; the supersession is a row in
//! `corrections`, and the corrected record's projections are removed.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// A record corrected by a later one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Corrected {
    /// The record corrected.
    pub event_id: Uuid,
    /// The record that corrects it; none when its source withdrew it.
    pub corrected_by: Option<Uuid>,
}

/// For each of `stored` (just inserted) that has a key, the latest earlier record of its agency,
/// type and key not yet corrected is corrected by it, in store order (so within one batch each
/// corrects the one before). Their projections are removed. Returns the pairs, in order.
pub async fn supersede(
    tx: &mut Transaction<'_, Postgres>,
    stored: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Corrected>, sqlx::Error> {
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: Vec<Corrected> = sqlx::query_as(
        "WITH fresh AS (
             SELECT n.event_id, n.agency, n.event_type, n.record_key, n.seq FROM events n
             WHERE n.event_id = ANY($1) AND n.record_key IS NOT NULL),
         earlier AS (
             SELECT DISTINCT ON (o.event_id) o.event_id, f.event_id AS corrected_by, f.seq
             FROM fresh f
             JOIN events o ON o.agency = f.agency AND o.event_type = f.event_type AND o.record_key = f.record_key
                          AND o.seq < f.seq
             WHERE NOT EXISTS (SELECT 1 FROM corrections c WHERE c.event_id = o.event_id)
             ORDER BY o.event_id, f.seq)
         INSERT INTO corrections (event_id, corrected_by, corrected_at)
         SELECT event_id, corrected_by, $2 FROM earlier ORDER BY seq
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id, corrected_by",
    )
    .bind(stored)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    if !pairs.is_empty() {
        let old: Vec<Uuid> = pairs.iter().map(|p| p.event_id).collect();
        sqlx::query("SELECT forget_projections($1)").bind(&old).execute(&mut **tx).await?;
    }
    Ok(pairs)
}

/// Withdraws the current record of `agency` with each (event type, key): its source deleted it.
/// Returns the records withdrawn (a key with no current record withdraws nothing).
pub async fn withdraw(
    tx: &mut Transaction<'_, Postgres>,
    agency: &str,
    keys: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Vec<Corrected>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let withdrawn: Vec<Corrected> = sqlx::query_as(
        "INSERT INTO corrections (event_id, corrected_by, corrected_at)
         SELECT e.event_id, NULL, $4
         FROM UNNEST($2::text[], $3::text[]) AS k(event_type, record_key)
         JOIN events e ON e.agency = $1 AND e.event_type = k.event_type AND e.record_key = k.record_key
         WHERE NOT EXISTS (SELECT 1 FROM corrections c WHERE c.event_id = e.event_id)
         ORDER BY e.seq
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id, corrected_by",
    )
    .bind(agency)
    .bind(keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    if !withdrawn.is_empty() {
        let old: Vec<Uuid> = withdrawn.iter().map(|p| p.event_id).collect();
        sqlx::query("SELECT forget_projections($1)").bind(&old).execute(&mut **tx).await?;
    }
    Ok(withdrawn)
}

/// The event `e` is current: not corrected, withdrawn or erased (`corrections`), and not
/// restricted (`restrictions`, while not lifted) — a predicate for every query that shares,
/// decides on or shows records.
pub const CURRENT: &str = "NOT EXISTS (SELECT 1 FROM corrections c WHERE c.event_id = e.event_id)
    AND NOT EXISTS (SELECT 1 FROM restrictions r WHERE r.event_id = e.event_id AND r.lifted_at IS NULL)";

/// A keyed record about to be stored: (agency, event type, key, payload, identifiers).
pub type KeyedRecord<'a> = (&'a str, &'a str, &'a str, &'a serde_json::Value, &'a serde_json::Value);

/// Which of these keys (agency, event type, key; by index) have a current stored record: only
/// those can be repeats or corrections. Keys only, so the common case (every key new) sends no
/// payloads. One probe of `events_record_key` per key (the `LIMIT 1` keeps it a probe): written
/// as `EXISTS`, the planner hashed every current keyed record of the store for a batch's 2,500
/// keys while the store was small (72 ms a batch over 35,500 events).
pub async fn keys_held(
    tx: &mut Transaction<'_, Postgres>,
    keys: &[(&str, &str, &str)],
) -> Result<std::collections::HashSet<usize>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Default::default());
    }
    let found: Vec<(i64,)> = sqlx::query_as(
        "SELECT r.n FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(agency, event_type, record_key, n)
         CROSS JOIN LATERAL (
             SELECT 1 FROM events e
             WHERE e.agency = r.agency AND e.event_type = r.event_type AND e.record_key = r.record_key
               AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.event_id = e.event_id)
             LIMIT 1) AS held",
    )
    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.2).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    Ok(found.into_iter().map(|(n,)| n as usize - 1).collect())
}

/// Which of `records` (by index) repeat, unchanged, the current stored record with their key
/// (same payload and identifiers): a file sent again, not a correction. They are not stored
/// again, so nobody is told anything.
pub async fn unchanged(
    tx: &mut Transaction<'_, Postgres>,
    records: &[KeyedRecord<'_>],
) -> Result<std::collections::HashSet<usize>, sqlx::Error> {
    if records.is_empty() {
        return Ok(Default::default());
    }
    let found: Vec<(i64,)> = sqlx::query_as(
        "SELECT r.n FROM UNNEST($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[]) WITH ORDINALITY
                AS r(agency, event_type, record_key, payload, identifiers, n)
         WHERE EXISTS (SELECT 1 FROM events e
                       WHERE e.agency = r.agency AND e.event_type = r.event_type AND e.record_key = r.record_key
                         AND e.payload = r.payload AND e.identifiers = r.identifiers
                         AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.event_id = e.event_id))",
    )
    .bind(records.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.3).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.4).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    Ok(found.into_iter().map(|(n,)| n as usize - 1).collect())
}
