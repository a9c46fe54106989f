//! Dead letters: refusals waiting for the broker's confirm on `tracker.dead`. A refusal row is
//! the dead letter's outbox; it is marked once the broker confirmed it, so none is lost and none
//! is published twice.
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreError;
use super::message::Envelope;

/// A refusal to dead-letter (and mark once the broker confirms it).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub refusal_id: i64,
    pub envelope: Envelope,
    pub position: i32,
    pub code: String,
    pub reason: String,
    /// The refused bytes: the item's row, or (for a whole payload) the payload or its first bytes.
    pub raw: Vec<u8>,
    /// The size of what was refused (more than `raw` holds when a large payload was cut short).
    pub full_bytes: usize,
    /// For a whole payload: the raw archive row that keeps it (refusals do not copy it).
    pub archive_id: Option<i64>,
}

/// (id, connector, routing key, item position, code, reason, raw bytes, full size, archive id)
type RefusalRow = (i64, String, String, i32, String, String, Vec<u8>, i32, Option<i64>);

/// Dead letters of a message the broker has not yet confirmed; a whole payload's bytes are read
/// from the archive, at most `body_limit` of them.
pub async fn pending_dead_letters(
    pool: &PgPool,
    env: &Envelope,
    body_limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let rows: Vec<RefusalRow> = sqlx::query_as(
        "SELECT r.id, r.connector, r.routing_key, r.item_position, r.code, r.reason,
                CASE WHEN r.archive_id IS NULL THEN r.raw ELSE substring(a.body FROM 1 FOR $3) END,
                CASE WHEN r.archive_id IS NULL THEN length(r.raw) ELSE length(a.body) END,
                r.archive_id
         FROM refusals r LEFT JOIN raw_archive a ON a.id = r.archive_id
         WHERE r.agency = $1 AND r.message_id = $2 AND r.dead_lettered_at IS NULL ORDER BY r.item_position",
    )
    .bind(&env.agency)
    .bind(&env.message_id)
    .bind(i32::try_from(body_limit).unwrap_or(i32::MAX))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, connector, routing_key, position, code, reason, raw, full_bytes, archive_id)| DeadLetter {
            refusal_id: id,
            envelope: Envelope {
                agency: env.agency.clone(),
                connector: connector.into(),
                routing_key,
                message_id: env.message_id.clone(),
            },
            position,
            code,
            reason,
            raw,
            full_bytes: usize::try_from(full_bytes).unwrap_or_default(),
            archive_id,
        })
        .collect())
}

pub async fn mark_dead_lettered(pool: &PgPool, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query("UPDATE refusals SET dead_lettered_at = $2 WHERE id = ANY($1)")
        .bind(ids)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
