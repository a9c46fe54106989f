//! Refusals (the dead-letter outbox) and kept items: writing a message's refusals in one
//! statement, and reads for the demo and the metrics.
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::dead_letters::DeadLetter;
use super::message::Envelope;
use crate::connectors::Refusal;

/// (connector, reason code, refusals).
pub async fn per_connector_and_code(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT connector, code, count(*) FROM refusals GROUP BY 1, 2 ORDER BY 1, 2").fetch_all(pool).await
}

/// Refusals not yet replayed or purged.
pub async fn open(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM refusals WHERE resolved_at IS NULL").fetch_one(pool).await
}

/// Open refusals: how many, and when the oldest was refused.
pub async fn open_and_oldest(pool: &PgPool) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    sqlx::query_as("SELECT count(*), min(refused_at) FROM refusals WHERE resolved_at IS NULL").fetch_one(pool).await
}

/// (connector, reason code, open refusals).
pub async fn open_per_connector_and_code(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, code, count(*) FROM refusals WHERE resolved_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}

/// Each connector's latest refusal: (connector, refused at, reason).
pub async fn latest_per_connector(pool: &PgPool) -> Result<Vec<(String, DateTime<Utc>, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (connector) connector, refused_at, reason FROM refusals
         ORDER BY connector, refused_at DESC, id DESC",
    )
    .fetch_all(pool)
    .await
}

/// Every refusal, oldest first: (connector, message id, item position, reason).
pub async fn all(pool: &PgPool) -> Result<Vec<(String, String, i32, String)>, sqlx::Error> {
    sqlx::query_as("SELECT connector, message_id, item_position, reason FROM refusals ORDER BY id")
        .fetch_all(pool)
        .await
}

/// Items kept and not routed (event types Tracker does not handle): (message id, label).
pub async fn kept_items(pool: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT message_id, label FROM kept_items ORDER BY message_id").fetch_all(pool).await
}

/// Refusals of one message as column arrays, inserted with one statement (a file of 20,000 bad
/// rows is one round trip, not 20,000). A whole payload (position 0) is kept once, in the
/// archive; a refused row keeps its own bytes.
#[derive(Default)]
pub struct RefusalRows<'a> {
    pub positions: Vec<i32>,
    codes: Vec<&'static str>,
    reasons: Vec<&'a str>,
    raws: Vec<&'a [u8]>,
    archive_ids: Vec<Option<i64>>,
    /// The refused bytes, for the dead letters.
    full: Vec<&'a [u8]>,
    seen: std::collections::HashSet<i32>,
}

impl<'a> RefusalRows<'a> {
    pub fn push(&mut self, position: u32, refusal: &'a Refusal, raw: &'a [u8], archive_id: i64) {
        // One refusal per item: a second one for the same place adds nothing an operator needs.
        if !self.seen.insert(position as i32) {
            return;
        }
        let whole_payload = position == 0;
        self.positions.push(position as i32);
        self.codes.push(refusal.code.as_str());
        self.reasons.push(&refusal.reason);
        self.raws.push(if whole_payload { &[] } else { raw });
        self.archive_ids.push(whole_payload.then_some(archive_id));
        self.full.push(raw);
    }

    /// Inserts the refusals; returns the dead letters still to publish. Read again, an item
    /// still refused keeps its row, and is not dead-lettered twice.
    pub async fn insert(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        env: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeadLetter>, sqlx::Error> {
        if self.positions.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i32, Option<DateTime<Utc>>)> = sqlx::query_as(
            "INSERT INTO refusals (agency, connector, routing_key, message_id, item_position, code, reason, raw, refused_at, archive_id)
             SELECT $1, $2, $3, $4, t.position, t.code, t.reason, t.raw, $9, t.archive_id
             FROM UNNEST($5::int[], $6::text[], $7::text[], $8::bytea[], $10::bigint[]) AS t(position, code, reason, raw, archive_id)
             ON CONFLICT (agency, message_id, item_position) DO UPDATE SET code = excluded.code,
                reason = excluded.reason, raw = excluded.raw, archive_id = excluded.archive_id,
                resolved_at = NULL, resolution = NULL, resolved_by = NULL
             RETURNING id, item_position, dead_lettered_at",
        )
        .bind(&env.agency)
        .bind(&env.connector)
        .bind(&env.routing_key)
        .bind(&env.message_id)
        .bind(&self.positions)
        .bind(&self.codes)
        .bind(&self.reasons)
        .bind(&self.raws)
        .bind(now)
        .bind(&self.archive_ids)
        .fetch_all(&mut **tx)
        .await?;
        let fresh: std::collections::HashMap<i32, i64> =
            rows.into_iter().filter(|(_, _, dead)| dead.is_none()).map(|(id, position, _)| (position, id)).collect();
        let mut dead_letters = Vec::with_capacity(fresh.len());
        for (i, position) in self.positions.iter().enumerate() {
            let Some(id) = fresh.get(position) else { continue };
            dead_letters.push(DeadLetter {
                refusal_id: *id,
                envelope: env.clone(),
                position: *position,
                code: self.codes[i].to_string(),
                reason: self.reasons[i].to_string(),
                raw: self.full[i].to_vec(),
                full_bytes: self.full[i].len(),
                archive_id: self.archive_ids[i],
            });
        }
        Ok(dead_letters)
    }
}

/// Resolves a reprocessed message's refusals that no longer apply (every position but
/// `still_refused`).
pub async fn resolve_reprocessed(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    env: &Envelope,
    still_refused: &[i32],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refusals SET resolved_at = $4, resolution = 'reprocessed'
         WHERE agency = $1 AND message_id = $2 AND resolved_at IS NULL AND NOT (item_position = ANY($3))",
    )
    .bind(&env.agency)
    .bind(&env.message_id)
    .bind(still_refused)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps an item the hub does not route (an event type it does not handle), under its label.
pub async fn keep_item(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    env: &Envelope,
    position: u32,
    label: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO kept_items (agency, connector, message_id, item_position, label, kept_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&env.agency)
    .bind(&env.connector)
    .bind(&env.message_id)
    .bind(position as i32)
    .bind(label)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records an identifier an item gave that failed its check (it was not used for linking).
pub async fn reject_identifier(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    env: &Envelope,
    position: u32,
    rejected: &crate::domain::identifiers::IdentifierError,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identifier_rejections (agency, message_id, item_position, scheme, value, reason, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&env.agency)
    .bind(&env.message_id)
    .bind(position as i32)
    .bind(rejected.scheme.as_str())
    .bind(&rejected.value)
    .bind(&rejected.reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refusals (of whole payloads and of items) per hour since `since`.
pub async fn hourly(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<(DateTime<Utc>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT date_trunc('hour', refused_at), count(*) FROM refusals WHERE refused_at >= $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}
