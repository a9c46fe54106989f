//! The person index: agency identifiers seen together link to one subject. Identifiers that
//! point at two subjects are never merged: the record is linked to neither and raised for review.
pub mod resolve;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::connectors::mapping::DraftSubject;

/// Serialises identity decisions across hub processes (one advisory lock for the index).
const INDEX_LOCK: i64 = 0x0074_7261_636b_6572;

/// What linking an item's identifiers found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Subject(Uuid),
    /// The identifiers belong to these different subjects.
    Conflict(Vec<Uuid>),
    /// No identifier passed its check.
    Unidentified,
}

pub async fn lock_index(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INDEX_LOCK).execute(&mut **tx).await?;
    Ok(())
}

/// Links every item's identifiers, in order (call with the index locked). Items of one message
/// that name the same new person share one new subject. Returns one `Link` per item.
pub async fn link_all(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[&DraftSubject],
    agency: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Link>, sqlx::Error> {
    let mut known: HashMap<(&'static str, String), Uuid> = HashMap::new();
    let (schemes, values): (Vec<&str>, Vec<&str>) =
        subjects.iter().flat_map(|s| s.identifiers.iter()).map(|i| (i.scheme().as_str(), i.value())).unzip();
    if !schemes.is_empty() {
        let rows: Vec<(String, String, Uuid)> = sqlx::query_as(
            "SELECT si.scheme, si.value, si.subject_id FROM subject_identifiers si
             JOIN (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[])) AS k(scheme, value)
               ON si.scheme = k.scheme AND si.value = k.value",
        )
        .bind(&schemes)
        .bind(&values)
        .fetch_all(&mut **tx)
        .await?;
        for (scheme, value, subject) in rows {
            if let Some(s) = crate::domain::identifiers::Scheme::parse(&scheme) {
                known.insert((s.as_str(), value), subject);
            }
        }
    }
    let mut links = Vec::with_capacity(subjects.len());
    let mut new_subjects = Vec::new();
    let mut new_ids: (Vec<&str>, Vec<String>, Vec<Uuid>) = Default::default();
    let mut details: Vec<(Uuid, String, Option<NaiveDate>)> = Vec::new();
    for subject in subjects {
        if subject.identifiers.is_empty() {
            links.push(Link::Unidentified);
            continue;
        }
        let mut found: Vec<Uuid> = subject
            .identifiers
            .iter()
            .filter_map(|i| known.get(&(i.scheme().as_str(), i.value().to_string())).copied())
            .collect();
        found.sort();
        found.dedup();
        let id = match found.as_slice() {
            [] => {
                let id = Uuid::new_v4();
                new_subjects.push(id);
                id
            }
            [one] => *one,
            many => match kept_apart(tx, many, subject, &known).await? {
                // An operator kept these people apart before: the strongest identifier decides.
                Some(id) => id,
                None => {
                    links.push(Link::Conflict(many.to_vec()));
                    continue;
                }
            },
        };
        for i in &subject.identifiers {
            let key = (i.scheme().as_str(), i.value().to_string());
            if let std::collections::hash_map::Entry::Vacant(slot) = known.entry(key) {
                slot.insert(id);
                new_ids.0.push(i.scheme().as_str());
                new_ids.1.push(i.value().to_string());
                new_ids.2.push(id);
            }
        }
        if subject.name.is_some() || subject.date_of_birth.is_some() {
            let dob = subject.date_of_birth.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            let row = (id, subject.name.clone().unwrap_or_default(), dob);
            if !details.contains(&row) {
                details.push(row);
            }
        }
        links.push(Link::Subject(id));
    }
    if !new_subjects.is_empty() {
        sqlx::query("INSERT INTO subjects (subject_id, created_at) SELECT id, $2 FROM UNNEST($1::uuid[]) AS t(id)")
            .bind(&new_subjects)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    if !new_ids.0.is_empty() {
        sqlx::query(
            "INSERT INTO subject_identifiers (scheme, value, subject_id, source_agency, first_seen_at)
             SELECT k.scheme, k.value, k.subject_id, $4, $5 FROM UNNEST($1::text[], $2::text[], $3::uuid[]) AS k(scheme, value, subject_id)
             ON CONFLICT (scheme, value) DO NOTHING",
        )
        .bind(&new_ids.0)
        .bind(&new_ids.1)
        .bind(&new_ids.2)
        .bind(agency)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    if !details.is_empty() {
        let (ids, names, dobs): (Vec<Uuid>, Vec<String>, Vec<Option<NaiveDate>>) =
            details.into_iter().fold(Default::default(), |mut acc, (i, n, d)| {
                acc.0.push(i);
                acc.1.push(n);
                acc.2.push(d);
                acc
            });
        sqlx::query(
            "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
             SELECT d.subject_id, d.name, d.dob, $4, $5 FROM UNNEST($1::uuid[], $2::text[], $3::date[]) AS d(subject_id, name, dob)
             ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .bind(&names)
        .bind(&dobs)
        .bind(agency)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(links)
}

/// When an operator decided to keep exactly these subjects apart, the subject the record's
/// strongest identifier names.
async fn kept_apart(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    subject: &DraftSubject,
    known: &HashMap<(&'static str, String), Uuid>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let decided: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM identity_conflicts WHERE status = 'kept_apart' AND subject_ids @> $1 AND subject_ids <@ $1 LIMIT 1",
    )
    .bind(subjects)
    .fetch_optional(&mut **tx)
    .await?;
    if decided.is_none() {
        return Ok(None);
    }
    let known_schemes: Vec<crate::domain::identifiers::Scheme> = subject
        .identifiers
        .iter()
        .filter(|i| known.contains_key(&(i.scheme().as_str(), i.value().to_string())))
        .map(|i| i.scheme())
        .collect();
    let Some(scheme) = crate::ops::identity::strongest(&known_schemes) else { return Ok(None) };
    Ok(subject
        .identifiers
        .iter()
        .find(|i| i.scheme() == scheme)
        .and_then(|i| known.get(&(i.scheme().as_str(), i.value().to_string())).copied()))
}

/// Finds the subject an identifier belongs to.
pub async fn find(pool: &sqlx::PgPool, scheme: &str, value: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT subject_id FROM subject_identifiers WHERE scheme = $1 AND value = $2")
        .bind(scheme)
        .bind(value)
        .fetch_optional(pool)
        .await
}
