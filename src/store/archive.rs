//! The raw archive: every payload as it arrived, kept before anything else is done with it, once
//! per (agency, message id, body), so a message can always be read again (replay, reprocess).
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::PgPool;

use super::StoreError;
use super::message::Envelope;

/// Archives the raw payload, once per (agency, message id, body).
pub async fn archive(
    pool: &PgPool,
    env: &Envelope,
    body: &[u8],
    headers: &Json,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut conn = pool.acquire().await?;
    archive_with(&mut conn, env, body, headers, now).await
}

/// [`archive`] on a given connection (or inside a transaction: a bulk load archives each file in
/// the transaction that stores it).
pub async fn archive_with(
    conn: &mut sqlx::PgConnection,
    env: &Envelope,
    body: &[u8],
    headers: &Json,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(body));
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO raw_archive (agency, connector, routing_key, message_id, body_sha256, body, headers, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (agency, message_id, body_sha256) DO NOTHING RETURNING id",
    )
    .bind(&env.agency)
    .bind(&env.connector)
    .bind(&env.routing_key)
    .bind(&env.message_id)
    .bind(&sha)
    .bind(body)
    .bind(headers)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => Ok(sqlx::query_scalar(
            "SELECT id FROM raw_archive WHERE agency = $1 AND message_id = $2 AND body_sha256 = $3",
        )
        .bind(&env.agency)
        .bind(&env.message_id)
        .bind(&sha)
        .fetch_one(&mut *conn)
        .await?),
    }
}

/// The headers of a message's latest archived copy.
pub async fn latest_headers(pool: &PgPool, agency: &str, message_id: &str) -> Result<Option<Json>, sqlx::Error> {
    sqlx::query_scalar("SELECT headers FROM raw_archive WHERE agency = $1 AND message_id = $2 ORDER BY id DESC LIMIT 1")
        .bind(agency)
        .bind(message_id)
        .fetch_optional(pool)
        .await
}

/// The latest archived copy of each message these refusals came from: (archive id, agency,
/// message id).
pub async fn latest_of_refusals(pool: &PgPool, refusals: &[i64]) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (a.agency, a.message_id) a.id, a.agency, a.message_id FROM refusals r
         JOIN raw_archive a ON a.agency = r.agency AND a.message_id = r.message_id
         WHERE r.id = ANY($1) ORDER BY a.agency, a.message_id, a.id DESC",
    )
    .bind(refusals)
    .fetch_all(pool)
    .await
}

/// The latest archived copy of every message of a connector received at or after `since`:
/// (archive id, agency, message id).
pub async fn latest_since(
    pool: &PgPool,
    connector: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (agency, message_id) id, agency, message_id FROM raw_archive
         WHERE connector = $1 AND received_at >= $2 ORDER BY agency, message_id, id DESC",
    )
    .bind(connector)
    .bind(since)
    .fetch_all(pool)
    .await
}

/// One archived message: (agency, routing key, message id, body, headers).
pub async fn archived(pool: &PgPool, id: i64) -> Result<(String, String, String, Vec<u8>, Json), sqlx::Error> {
    sqlx::query_as("SELECT agency, routing_key, message_id, body, headers FROM raw_archive WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}
