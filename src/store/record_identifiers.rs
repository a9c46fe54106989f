//! Each stored record's identifiers (written with the events), for finding the records that
//! share an identifier with new ones.
use sqlx::{Postgres, Transaction};

/// (scheme, value) of every identifier of every record holding one of these identifiers.
pub async fn identifiers_sharing(
    tx: &mut Transaction<'_, Postgres>,
    schemes: &[&str],
    values: &[&str],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT r2.scheme, r2.value
         FROM UNNEST($1::text[], $2::text[]) AS k(scheme, value)
         JOIN record_identifiers r1 ON r1.scheme = k.scheme AND r1.value = k.value
         JOIN record_identifiers r2 ON r2.event_id = r1.event_id",
    )
    .bind(schemes)
    .bind(values)
    .fetch_all(&mut **tx)
    .await
}
