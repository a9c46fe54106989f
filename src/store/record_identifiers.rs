//! Each stored record's identifiers (written with the events), for finding the records that
//! share an identifier with new ones.
use sqlx::{Postgres, Transaction};

/// (scheme, value) of every identifier of every record holding one of these identifiers: the
/// records found by identifier here, their other identifiers read from the records themselves
/// (the rows here were made from them).
pub async fn identifiers_sharing(
    tx: &mut Transaction<'_, Postgres>,
    schemes: &[&str],
    values: &[&str],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT i->>'scheme', i->>'value'
         FROM UNNEST($1::text[], $2::text[]) AS k(scheme, value)
         JOIN record_identifiers r ON r.scheme = k.scheme AND r.value = k.value
         JOIN events e ON e.event_id = r.event_id
         CROSS JOIN LATERAL jsonb_array_elements(e.identifiers) AS i
         WHERE i ? 'scheme' AND i ? 'value'",
    )
    .bind(schemes)
    .bind(values)
    .fetch_all(&mut **tx)
    .await
}
