//! Where each signature (an agency and a set of identifiers) stands in the person index
//! (migration 0021): a cache of the last resolution of its group, which identity keeps equal to
//! the resolution and reads instead of the group's records when nothing new touches the group.
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// A signature's place: its person, or the people it is held between.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Standing {
    pub signature: String,
    pub subject_id: Option<Uuid>,
    pub held_between: Option<Vec<Uuid>>,
}

/// The standing of each of these signatures that is known.
pub async fn standing(tx: &mut Transaction<'_, Postgres>, signatures: &[&str]) -> Result<Vec<Standing>, sqlx::Error> {
    sqlx::query_as(
        // Joined from the keys rather than `signature = ANY($1)`: while the table is small (a new
        // store) the planner scans it, and that filter compares every row with every key
        // (2–13 ms a call at a few thousand rows); a join probes the key or hashes the keys.
        "SELECT s.signature, s.subject_id, s.held_between
         FROM (SELECT DISTINCT unnest($1::text[]) AS signature) k
         JOIN identity_signatures s ON s.signature = k.signature",
    )
    .bind(signatures)
    .fetch_all(&mut **tx)
    .await
}

/// Sets these signatures' standing (column arrays of one length; `identifiers` each a
/// unit-separated list of "scheme value" entries).
pub async fn set(
    tx: &mut Transaction<'_, Postgres>,
    signatures: &[&str],
    identifiers: &[String],
    subjects: &[Option<Uuid>],
    held_between: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_signatures (signature, identifiers, subject_id, held_between)
         SELECT s, string_to_array(i, E'\\x1f'), p, NULLIF(h, '')::uuid[]
         FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[]) AS t(s, i, p, h)
         ON CONFLICT (signature) DO UPDATE
            SET subject_id = EXCLUDED.subject_id, held_between = EXCLUDED.held_between",
    )
    .bind(signatures)
    .bind(identifiers)
    .bind(subjects)
    .bind(held_between)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets every signature holding one of these identifiers ("scheme value").
pub async fn forget(tx: &mut Transaction<'_, Postgres>, identifiers: &[String]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM identity_signatures WHERE identifiers && $1::text[]")
        .bind(identifiers)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}
