//! Recipient scope: the (person, recipient) pairs whose catch-up has been made — a recipient
//! newly involved with a person gets the history it may see once.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::domain::names::AgencyId;

/// Brings (person, recipient) pairs into scope.
pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    recipients: &[AgencyId],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recipient_scope (subject_id, recipient, since)
         SELECT s, r, $3 FROM UNNEST($1::uuid[], $2::text[]) AS t(s, r) ON CONFLICT DO NOTHING",
    )
    .bind(subjects)
    .bind(recipients)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (person, recipient) of every pair in scope for these people.
pub async fn of_people(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
) -> Result<Vec<(Uuid, AgencyId)>, sqlx::Error> {
    sqlx::query_as("SELECT subject_id, recipient FROM recipient_scope WHERE subject_id = ANY($1)")
        .bind(subjects)
        .fetch_all(&mut **tx)
        .await
}

/// Takes out of scope, for these people, every recipient no longer involved with them: should it
/// become involved later, it gets the history it may see then.
pub async fn drop_uninvolved(tx: &mut Transaction<'_, Postgres>, subjects: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM recipient_scope s WHERE s.subject_id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM involvements i WHERE i.subject_id = s.subject_id AND i.agency = s.recipient)",
    )
    .bind(subjects)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
