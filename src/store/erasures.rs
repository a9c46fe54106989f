//! Erasure in the store (migration 0018): a record's personal data removed from every table that
//! holds it, in the caller's transaction; the fact of the erasure kept without personal data.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// A stored record as an erasure needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErasableRecord {
    pub event_id: Uuid,
    pub agency: String,
    pub connector: String,
    pub message_id: String,
    pub item_position: i32,
    pub event_type: String,
    pub avro: Vec<u8>,
    pub schema_fingerprint: Vec<u8>,
    pub erased: bool,
}

/// The records, locked for the transaction.
pub async fn records_for_update(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
) -> Result<Vec<ErasableRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.event_id, e.agency, e.connector, e.message_id, e.item_position, e.event_type, e.avro,
                e.schema_fingerprint, EXISTS (SELECT 1 FROM erasures x WHERE x.event_id = e.event_id) AS erased
         FROM events e WHERE e.event_id = ANY($1) ORDER BY e.seq FOR UPDATE OF e",
    )
    .bind(events)
    .fetch_all(&mut **tx)
    .await
}

/// Empties a record's personal data: payload, identifiers, name, date of birth, key, its Avro
/// (replaced by `avro`, the envelope without them, written with `fingerprint`); its identifier
/// index rows, its projections and a held record's identifiers go too; it counts as withdrawn
/// (`corrections`, by nothing) so nothing reads it as current; and the erasure is recorded.
#[allow(clippy::too_many_arguments)]
pub async fn erase(
    tx: &mut Transaction<'_, Postgres>,
    record: &ErasableRecord,
    avro: &[u8],
    fingerprint: &[u8],
    requested_by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Its identifiers no longer link anything: the rows found by the identifiers the record holds
    // (the table is read by identifier only), before they are blanked below.
    sqlx::query(
        "DELETE FROM record_identifiers r
         USING events e CROSS JOIN LATERAL jsonb_array_elements(e.identifiers) AS i
         WHERE e.event_id = $1 AND r.event_id = $1 AND r.scheme = i->>'scheme' AND r.value = i->>'value'",
    )
    .bind(record.event_id)
    .execute(&mut **tx)
    .await?;
    // The append-only trigger lets an erasure through in this transaction only.
    sqlx::query("SET LOCAL tracker.erasing = 'on'").execute(&mut **tx).await?;
    sqlx::query(
        "UPDATE events SET payload = '{}'::jsonb, identifiers = '[]'::jsonb, person_name = NULL, date_of_birth = NULL,
                record_key = NULL, avro = $2, schema_fingerprint = $3
         WHERE event_id = $1",
    )
    .bind(record.event_id)
    .bind(avro)
    .bind(fingerprint)
    .execute(&mut **tx)
    .await?;
    sqlx::query("SET LOCAL tracker.erasing = 'off'").execute(&mut **tx).await?;
    sqlx::query("UPDATE identity_conflicts SET identifiers = '[]'::jsonb WHERE event_id = $1")
        .bind(record.event_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("SELECT forget_projections($1)").bind([record.event_id]).execute(&mut **tx).await?;
    // Deliveries not yet sent are not sent (their notices then have nothing to name).
    sqlx::query(
        "UPDATE outbox SET withheld_at_publish = $2
         WHERE event_id = $1 AND kind = 'delivery' AND published_at IS NULL AND withheld_at_publish IS NULL",
    )
    .bind(record.event_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO corrections (event_id, corrected_by, corrected_at) VALUES ($1, NULL, $2)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(record.event_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO erasures (event_id, agency, event_type, requested_by, reason, erased_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(record.event_id)
    .bind(&record.agency)
    .bind(&record.event_type)
    .bind(requested_by)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every archived copy of a message: (archive id, body).
pub async fn archived_copies(
    tx: &mut Transaction<'_, Postgres>,
    agency: &str,
    message_id: &str,
) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT id, body FROM raw_archive WHERE agency = $1 AND message_id = $2 ORDER BY id FOR UPDATE")
        .bind(agency)
        .bind(message_id)
        .fetch_all(&mut **tx)
        .await
}

/// Replaces an archived copy's body with its redacted form. Its hash stays the original's, so
/// the same message arriving again is recognised and not archived a second time.
pub async fn redact_archived(tx: &mut Transaction<'_, Postgres>, id: i64, body: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE raw_archive SET body = $2 WHERE id = $1").bind(id).bind(body).execute(&mut **tx).await?;
    Ok(())
}
