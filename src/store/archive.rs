//! The raw archive: every payload as it arrived, kept before anything else is done with it, once
//! per (agency, message id, body), so a message can always be read again (replay, reprocess).
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::{PgPool, Row};

use super::StoreError;
use super::message::Envelope;

/// Archives one raw payload, once per (agency, message id, body), on a given connection (or inside
/// a transaction: a bulk load archives each file in the transaction that stores it).
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

/// A statement archiving several payloads carries at most this many body bytes; a larger payload
/// is archived by itself (the statement's memory stays bounded whatever a batch holds).
const MANY_BYTES: usize = 8 * 1024 * 1024;

/// Archives a batch's payloads (`(envelope, body, headers)` each), once per (agency, message id,
/// body), with as few statements as their size allows; returns each one's archive id and whether
/// the inbox already holds its message (committed before: a redelivery or a resend), in order.
/// A batch whose bodies fit one statement (every batch a consumer takes, by
/// `broker.batch_max_bytes`) is archived and looked up in that one statement: a consumer archives
/// each piece it reads while a batch is stored, several a batch at a steady rate, and each round
/// trip saved is one wake-up fewer of both processes on a busy machine.
pub async fn archive_many(
    pool: &PgPool,
    payloads: &[(&Envelope, &[u8], Json)],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, bool)>, StoreError> {
    use sha2::Digest;
    let shas: Vec<String> = payloads.iter().map(|(_, body, _)| hex::encode(sha2::Sha256::digest(body))).collect();
    let chunks = chunks_of(payloads);
    let rows: Vec<(i64, Option<i64>, bool)> = if let [only] = chunks.as_slice() {
        // The rows inserted are found in what the insert returns, those there before in the
        // table. A row another process inserts meanwhile (the same message taken by two hub
        // processes at once, after a redelivery) is in neither: its id is missing, and the batch
        // is retried as transient (below), when it is seen.
        archive_query(
            "WITH k AS MATERIALIZED (
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[])
                      WITH ORDINALITY AS t(agency, connector, routing_key, message_id, sha, body, headers, n)),
             inserted AS (
                 INSERT INTO raw_archive (agency, connector, routing_key, message_id, body_sha256, body, headers, received_at)
                 SELECT k.agency, k.connector, k.routing_key, k.message_id, k.sha, k.body, k.headers, $8
                 FROM k ORDER BY k.n
                 ON CONFLICT (agency, message_id, body_sha256) DO NOTHING
                 RETURNING id, agency, message_id, body_sha256)
             SELECT k.n, coalesce(i.id, a.id),
                    EXISTS (SELECT 1 FROM inbox x WHERE x.agency = k.agency AND x.message_id = k.message_id)
             FROM k
             LEFT JOIN inserted i ON i.agency = k.agency AND i.message_id = k.message_id AND i.body_sha256 = k.sha
             LEFT JOIN raw_archive a ON a.agency = k.agency AND a.message_id = k.message_id AND a.body_sha256 = k.sha",
            &payloads[only.clone()],
            &shas[only.clone()],
            now,
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect::<Result<_, sqlx::Error>>()?
    } else {
        for chunk in chunks {
            archive_query(
                "INSERT INTO raw_archive (agency, connector, routing_key, message_id, body_sha256, body, headers, received_at)
                 SELECT t.agency, t.connector, t.routing_key, t.message_id, t.sha, t.body, t.headers, $8
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[]) WITH ORDINALITY
                      AS t(agency, connector, routing_key, message_id, sha, body, headers, n)
                 ORDER BY t.n
                 ON CONFLICT (agency, message_id, body_sha256) DO NOTHING",
                &payloads[chunk.clone()],
                &shas[chunk],
                now,
            )
            .execute(pool)
            .await?;
        }
        sqlx::query_as(
            "SELECT k.n, a.id, EXISTS (SELECT 1 FROM inbox i WHERE i.agency = k.agency AND i.message_id = k.message_id)
             FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(agency, message_id, sha, n)
             JOIN raw_archive a ON a.agency = k.agency AND a.message_id = k.message_id AND a.body_sha256 = k.sha",
        )
        .bind(payloads.iter().map(|(e, _, _)| e.agency.as_str()).collect::<Vec<_>>())
        .bind(payloads.iter().map(|(e, _, _)| e.message_id.as_str()).collect::<Vec<_>>())
        .bind(&shas)
        .fetch_all(pool)
        .await?
    };
    let mut ids: Vec<Option<(i64, bool)>> = vec![None; payloads.len()];
    for (n, id, committed_before) in rows {
        if let (Some(slot), Some(id)) = (usize::try_from(n - 1).ok().and_then(|i| ids.get_mut(i)), id) {
            *slot = Some((id, committed_before));
        }
    }
    // Every payload was inserted or found above; one missing (deleted meanwhile) is retried.
    ids.into_iter().map(|id| id.ok_or(StoreError::Transient(sqlx::Error::RowNotFound))).collect()
}

/// The payloads' places, in runs of at most `MANY_BYTES` of bodies (a larger body alone).
fn chunks_of(payloads: &[(&Envelope, &[u8], Json)]) -> Vec<std::ops::Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < payloads.len() {
        let mut end = start + 1;
        let mut bytes = payloads[start].1.len();
        while end < payloads.len() && bytes + payloads[end].1.len() <= MANY_BYTES {
            bytes += payloads[end].1.len();
            end += 1;
        }
        chunks.push(start..end);
        start = end;
    }
    chunks
}

/// `sql` with the payloads bound as its arrays `$1`-`$7` (agency, connector, routing key,
/// message id, body digest, body, headers) and the receipt time as `$8`.
fn archive_query<'q>(
    sql: &'static str,
    payloads: &'q [(&Envelope, &[u8], Json)],
    shas: &'q [String],
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(payloads.iter().map(|(e, _, _)| e.agency.as_str()).collect::<Vec<_>>())
        .bind(payloads.iter().map(|(e, _, _)| e.connector.as_str()).collect::<Vec<_>>())
        .bind(payloads.iter().map(|(e, _, _)| e.routing_key.as_str()).collect::<Vec<_>>())
        .bind(payloads.iter().map(|(e, _, _)| e.message_id.as_str()).collect::<Vec<_>>())
        .bind(shas)
        .bind(payloads.iter().map(|(_, b, _)| *b).collect::<Vec<_>>())
        .bind(payloads.iter().map(|(_, _, h)| h).collect::<Vec<_>>())
        .bind(now)
}
