//! Dead letters: refusals waiting for the broker's confirm on `tracker.dead`. A refusal row is
//! the dead letter's outbox; it is marked once the broker confirmed it, so none is lost and none
//! is published twice.
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};

use super::StoreError;
use super::message::Envelope;
use crate::domain::names::AgencyId;

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

/// An open dead letter as the operator lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeadLetterRow {
    pub id: i64,
    pub agency: AgencyId,
    pub connector: String,
    pub message_id: String,
    pub item_position: i32,
    pub code: String,
    pub reason: String,
    pub refused_at: DateTime<Utc>,
}

/// A dead letter in full: the refusal, the refused bytes (a whole payload's from the archive),
/// how the message arrived, and how it was resolved.
#[derive(sqlx::FromRow)]
pub struct FullDeadLetter {
    #[sqlx(flatten)]
    pub row: DeadLetterRow,
    pub raw: Vec<u8>,
    pub routing_key: String,
    pub resolution: Option<String>,
}

/// Open dead letters with an id above `after`, oldest first, at most `limit` (reasons cut to 2,000
/// characters: a page costs the same whatever was refused).
pub async fn open_page(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<DeadLetterRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, agency, connector, message_id, item_position, code, left(reason, 2000) AS reason, refused_at
         FROM refusals WHERE resolved_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every open dead letter, oldest first.
pub async fn open_all(pool: &PgPool) -> Result<Vec<DeadLetterRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, agency, connector, message_id, item_position, code, reason, refused_at FROM refusals
         WHERE resolved_at IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// (connector, code, open dead letters), most first: what a flood is made of.
pub async fn open_by_connector_and_code(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, code, count(*) FROM refusals WHERE resolved_at IS NULL
         GROUP BY connector, code ORDER BY count(*) DESC, connector, code",
    )
    .fetch_all(pool)
    .await
}

pub async fn full(pool: &PgPool, id: i64) -> Result<Option<FullDeadLetter>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.agency, r.connector, r.message_id, r.item_position, r.code, r.reason, r.refused_at,
                COALESCE(a.body, r.raw) AS raw, r.routing_key, r.resolution
         FROM refusals r LEFT JOIN raw_archive a ON a.id = r.archive_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// How many of a message's refusals are still open.
pub async fn open_of_message(pool: &PgPool, message_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM refusals WHERE message_id = $1 AND resolved_at IS NULL")
        .bind(message_id)
        .fetch_one(pool)
        .await
}

/// Whether the refusal of (agency, message, position) is still open.
pub async fn is_open(pool: &PgPool, agency: &str, message_id: &str, position: i32) -> Result<bool, sqlx::Error> {
    let open: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM refusals WHERE agency = $1 AND message_id = $2 AND item_position = $3 AND resolved_at IS NULL",
    )
    .bind(agency)
    .bind(message_id)
    .bind(position)
    .fetch_optional(pool)
    .await?;
    Ok(open.is_some())
}

/// Gives up on these open dead letters (`all`: every open one), by whom; returns how many.
pub async fn purge(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[i64],
    all: bool,
    by: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE refusals SET resolved_at = $3, resolution = 'purged', resolved_by = $4
         WHERE resolved_at IS NULL AND ($2 OR id = ANY($1))",
    )
    .bind(ids)
    .bind(all)
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
