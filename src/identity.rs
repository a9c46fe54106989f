//! The person index: which records are one person, decided over the whole set of records
//! (`resolve`), whatever order they arrived in. A record whose identifiers lead to two people is
//! linked to neither and raised for review; a later record that changes the picture moves the
//! records it affects.
pub mod resolve;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::connectors::mapping::DraftSubject;
use crate::domain::identifiers::Scheme;
use crate::settings::AgencyKind;
use resolve::{Id, Record, Resolved};

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

/// How far linking follows shared identifiers from a message's records. A person's records are
/// far fewer; a chain longer than this (a data-quality incident) is resolved on what was read, and
/// says so in the log.
const MAX_NEIGHBOURS: usize = 20_000;

/// Person ids derive from the identifier that names the person (UUIDv5 in this namespace), so the
/// same records give the same ids in any arrival order. A person stored before ids were derived
/// keeps its random id.
const PERSON_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a0e_8b47_4d3e_9a55_3c2b_e1d0_7f91);

/// A stored record whose person changed because of this message's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub event_id: Uuid,
    /// The person it was linked to (none if it was held or unidentified).
    pub from: Option<Uuid>,
    pub to: Link,
}

/// What linking a message found: one `Link` per item, and the stored records that moved.
#[derive(Debug, Default)]
pub struct Linking {
    pub links: Vec<Link>,
    pub moved: Vec<Moved>,
}

/// A stored record as linking reads it.
#[derive(sqlx::FromRow)]
struct StoredRecord {
    event_id: Uuid,
    agency: String,
    subject_id: Option<Uuid>,
    identifiers: serde_json::Value,
    status: Option<String>,
}

fn ids_of(json: &serde_json::Value) -> Vec<Id> {
    json.as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| Some((Scheme::parse(i["scheme"].as_str()?)?, i["value"].as_str()?.to_string())))
        .collect()
}

/// Links every item of a message (call with the index locked): resolves who is who over the
/// message's records and every stored record that shares an identifier with them, transitively
/// (`resolve`), so the answer does not depend on which arrived first. Stored records whose person
/// changed are moved (events and projections re-pointed, conflicts opened or resolved) and
/// returned, for sharing to retract and decide again.
pub async fn link_all(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[&DraftSubject],
    agency: &str,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    now: DateTime<Utc>,
) -> Result<Linking, sqlx::Error> {
    let from = kind_of(agency).unwrap_or(AgencyKind::Police);
    let message: Vec<Record> = subjects
        .iter()
        .map(|s| Record {
            from,
            identifiers: s.identifiers.iter().map(|i| (i.scheme(), i.value().to_string())).collect(),
            kept_apart: false,
        })
        .collect();
    let seeds: BTreeSet<Id> = message.iter().flat_map(|r| r.identifiers.iter().cloned()).collect();
    let linking = link(tx, message, seeds, agency, kind_of, now).await?;
    let mut details: Vec<(Uuid, String, Option<NaiveDate>)> = Vec::new();
    for (subject, link) in subjects.iter().zip(&linking.links) {
        if let Link::Subject(id) = link
            && (subject.name.is_some() || subject.date_of_birth.is_some())
        {
            let dob = subject.date_of_birth.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            let row = (*id, subject.name.clone().unwrap_or_default(), dob);
            if !details.contains(&row) {
                details.push(row);
            }
        }
    }
    insert_details(tx, details, agency, now).await?;
    Ok(linking)
}

/// Resolves again who is who around stored records after an operator's decision on them (recorded
/// in their conflict's status before the call): the same rule and the same moves as for a message,
/// with no new records. Call with the index locked.
pub async fn relink(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    now: DateTime<Utc>,
) -> Result<Vec<Moved>, sqlx::Error> {
    let identifiers: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT identifiers FROM events WHERE event_id = ANY($1)")
            .bind(events)
            .fetch_all(&mut **tx)
            .await?;
    let seeds: BTreeSet<Id> = identifiers.iter().flat_map(ids_of).collect();
    Ok(link(tx, Vec::new(), seeds, "tracker", kind_of, now).await?.moved)
}

/// Resolves `message`'s records with every stored record reachable from `seeds` by shared
/// identifiers, stores who each identifier belongs to, and moves the stored records whose person
/// changed.
async fn link(
    tx: &mut Transaction<'_, Postgres>,
    message: Vec<Record>,
    seeds: BTreeSet<Id>,
    agency: &str,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    now: DateTime<Utc>,
) -> Result<Linking, sqlx::Error> {
    let stored = neighbours(tx, seeds).await?;
    let linked: Vec<(Id, Id)> = stored
        .iter()
        .filter(|r| r.status.as_deref() == Some("linked"))
        .flat_map(|r| {
            let ids = ids_of(&r.identifiers);
            let first = ids.first().cloned();
            ids.into_iter().skip(1).filter_map(move |i| Some((first.clone()?, i)))
        })
        .collect();
    // An operator who kept a record apart judged its pairing of identifiers wrong: every record
    // pairing exactly the same identifiers is kept apart the same way.
    let sorted = |ids: &[Id]| -> Vec<Id> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids
    };
    let kept_apart: BTreeSet<Vec<Id>> = stored
        .iter()
        .filter(|r| r.status.as_deref() == Some("kept_apart"))
        .map(|r| sorted(&ids_of(&r.identifiers)))
        .collect();
    let mut records: Vec<Record> = stored
        .iter()
        .map(|r| Record {
            from: kind_of(&r.agency).unwrap_or(AgencyKind::Police),
            identifiers: ids_of(&r.identifiers),
            kept_apart: false,
        })
        .chain(message.iter().cloned())
        .collect();
    for r in &mut records {
        r.kept_apart = kept_apart.contains(&sorted(&r.identifiers));
    }
    let resolution = resolve::resolution(&records, &linked);
    let names: BTreeSet<&Id> = resolution.person_of.values().collect();
    let ids = person_ids(tx, &names).await?;
    let person = |name: &Id| ids.get(name).copied().unwrap_or_else(|| derived_id(name));
    let link_of = |r: &Resolved| match r {
        Resolved::Person(name) => Link::Subject(person(name)),
        Resolved::Conflict(names) => Link::Conflict(names.iter().map(&person).collect()),
        Resolved::Unidentified => Link::Unidentified,
    };
    let (stored_links, message_links) = resolution.records.split_at(stored.len());
    let moved: Vec<Moved> = stored
        .iter()
        .zip(stored_links)
        .filter_map(|(r, resolved)| {
            let to = link_of(resolved);
            let held_now = matches!(to, Link::Conflict(_));
            let held_before = r.status.as_deref() == Some("open");
            let subject_now = match &to {
                Link::Subject(s) => Some(*s),
                _ => None,
            };
            (subject_now != r.subject_id || held_now != held_before).then_some(Moved {
                event_id: r.event_id,
                from: r.subject_id,
                to,
            })
        })
        .collect();
    if !moved.is_empty() {
        tracing::info!(records = moved.len(), "later records changed who is who: records moved");
    }
    let links: Vec<Link> = message_links.iter().map(link_of).collect();
    // Every person named, then every identifier's person.
    let mut people: Vec<Uuid> = names.iter().map(|n| person(n)).collect();
    people.sort();
    people.dedup();
    sqlx::query(
        "INSERT INTO subjects (subject_id, created_at) SELECT id, $2 FROM UNNEST($1::uuid[]) AS t(id) ON CONFLICT DO NOTHING",
    )
    .bind(&people)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let (mut schemes, mut values, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (id, name) in &resolution.person_of {
        schemes.push(id.0.as_str());
        values.push(id.1.clone());
        owners.push(person(name));
    }
    sqlx::query(
        "INSERT INTO subject_identifiers (scheme, value, subject_id, source_agency, first_seen_at)
         SELECT k.scheme, k.value, k.subject_id, $4, $5 FROM UNNEST($1::text[], $2::text[], $3::uuid[]) AS k(scheme, value, subject_id)
         ON CONFLICT (scheme, value) DO UPDATE SET subject_id = excluded.subject_id
         WHERE subject_identifiers.subject_id <> excluded.subject_id",
    )
    .bind(&schemes)
    .bind(&values)
    .bind(&owners)
    .bind(agency)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    apply_moves(tx, &moved, now).await?;
    Ok(Linking { links, moved })
}

/// Every stored record that shares an identifier with `seeds`, transitively.
async fn neighbours(tx: &mut Transaction<'_, Postgres>, seeds: BTreeSet<Id>) -> Result<Vec<StoredRecord>, sqlx::Error> {
    let mut seen = seeds;
    let mut frontier: Vec<Id> = seen.iter().cloned().collect();
    let mut events: BTreeSet<Uuid> = BTreeSet::new();
    while !frontier.is_empty() {
        if events.len() >= MAX_NEIGHBOURS {
            tracing::warn!(
                records = events.len(),
                "identity: shared identifiers reach too many records; resolved on those read"
            );
            break;
        }
        let (schemes, values): (Vec<&str>, Vec<&str>) = frontier.iter().map(|(s, v)| (s.as_str(), v.as_str())).unzip();
        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT DISTINCT r2.event_id, r2.scheme, r2.value
             FROM UNNEST($1::text[], $2::text[]) AS k(scheme, value)
             JOIN record_identifiers r1 ON r1.scheme = k.scheme AND r1.value = k.value
             JOIN record_identifiers r2 ON r2.event_id = r1.event_id",
        )
        .bind(&schemes)
        .bind(&values)
        .fetch_all(&mut **tx)
        .await?;
        frontier = Vec::new();
        for (event, scheme, value) in rows {
            events.insert(event);
            if let Some(s) = Scheme::parse(&scheme)
                && seen.insert((s, value.clone()))
            {
                frontier.push((s, value));
            }
        }
    }
    let events: Vec<Uuid> = events.into_iter().collect();
    sqlx::query_as(
        "SELECT e.event_id, e.agency, e.subject_id, e.identifiers, c.status
         FROM events e LEFT JOIN identity_conflicts c USING (event_id)
         WHERE e.event_id = ANY($1) ORDER BY e.seq",
    )
    .bind(&events)
    .fetch_all(&mut **tx)
    .await
}

/// The ids of the people these identifiers name that differ from the derived one: a person the
/// store knew before ids were derived (a random, version-4 id) keeps it, where that person is
/// known by the naming identifier and no other name here claims it. Every other id is derived
/// (`derived_id`), so it cannot depend on what the store saw first.
async fn person_ids(
    tx: &mut Transaction<'_, Postgres>,
    names: &BTreeSet<&Id>,
) -> Result<HashMap<Id, Uuid>, sqlx::Error> {
    let (schemes, values): (Vec<&str>, Vec<&str>) = names.iter().map(|(s, v)| (s.as_str(), v.as_str())).unzip();
    let rows: Vec<(String, String, Uuid)> = sqlx::query_as(
        "SELECT si.scheme, si.value, si.subject_id FROM subject_identifiers si
         JOIN UNNEST($1::text[], $2::text[]) AS k(scheme, value) ON si.scheme = k.scheme AND si.value = k.value",
    )
    .bind(&schemes)
    .bind(&values)
    .fetch_all(&mut **tx)
    .await?;
    let mut claims: HashMap<Uuid, usize> = HashMap::new();
    for (_, _, s) in &rows {
        *claims.entry(*s).or_default() += 1;
    }
    Ok(rows
        .into_iter()
        .filter(|(_, _, s)| s.get_version_num() == 4 && claims.get(s) == Some(&1))
        .filter_map(|(scheme, value, s)| Some(((Scheme::parse(&scheme)?, value), s)))
        .collect())
}

/// The id of a person the store has not known before: derived from the identifier naming them.
pub fn derived_id(name: &Id) -> Uuid {
    Uuid::new_v5(&PERSON_NAMESPACE, format!("{}\u{1f}{}", name.0.as_str(), name.1).as_bytes())
}

async fn insert_details(
    tx: &mut Transaction<'_, Postgres>,
    details: Vec<(Uuid, String, Option<NaiveDate>)>,
    agency: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if details.is_empty() {
        return Ok(());
    }
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
    Ok(())
}

/// Tables that record what was done under a person at the time (a delivery, a log entry): they
/// keep the subject they recorded when a record moves.
const HISTORY_TABLES: &[&str] = &["outbox", "disclosure_log"];

/// Every table that holds a record's subject by event id (the events, involvements and every
/// projection), read from the catalogue so that a new projection follows its records without
/// being listed anywhere.
pub async fn event_tables(tx: &mut Transaction<'_, Postgres>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT s.table_name::text FROM information_schema.columns s
         JOIN information_schema.columns e ON e.table_schema = s.table_schema AND e.table_name = s.table_name
              AND e.column_name = 'event_id'
         JOIN information_schema.tables t ON t.table_schema = s.table_schema AND t.table_name = s.table_name
              AND t.table_type = 'BASE TABLE'
         WHERE s.table_schema = current_schema() AND s.column_name = 'subject_id' AND s.table_name <> ALL($1)
         ORDER BY (s.table_name <> 'events'), s.table_name",
    )
    .bind(HISTORY_TABLES)
    .fetch_all(&mut **tx)
    .await
}

/// Re-points moved records: their subject in every table keyed by event, their person's details,
/// and their conflict (opened when they are held now, resolved when a later record placed them).
async fn apply_moves(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[Moved],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if moved.is_empty() {
        return Ok(());
    }
    let events: Vec<Uuid> = moved.iter().map(|m| m.event_id).collect();
    let subjects: Vec<Option<Uuid>> = moved
        .iter()
        .map(|m| match m.to {
            Link::Subject(s) => Some(s),
            _ => None,
        })
        .collect();
    // A held record involves no agency with anyone; placed again, sharing records it afresh.
    sqlx::query(
        "DELETE FROM involvements i USING UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id)
         WHERE i.event_id = m.event_id AND m.subject_id IS NULL",
    )
    .bind(&events)
    .bind(&subjects)
    .execute(&mut **tx)
    .await?;
    for table in event_tables(tx).await? {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} t SET subject_id = m.subject_id
             FROM UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id) WHERE t.event_id = m.event_id"
        )))
        .bind(&events)
        .bind(&subjects)
        .execute(&mut **tx)
        .await?;
    }
    // A case belongs to the person of its earliest placed hearing (whatever arrived first).
    sqlx::query(
        "UPDATE cases c SET subject_id = (SELECT h.subject_id FROM hearings h
             WHERE h.case_urn = c.case_urn AND h.court = c.court AND h.subject_id IS NOT NULL
             ORDER BY h.hearing_date, h.event_id LIMIT 1)
         WHERE (c.case_urn, c.court) IN (SELECT case_urn, court FROM hearings WHERE event_id = ANY($1))",
    )
    .bind(&events)
    .execute(&mut **tx)
    .await?;
    // An agency no longer involved with a person the records left is out of scope again: should it
    // become involved later, it gets the history it may see then.
    let left: Vec<Uuid> = moved.iter().filter_map(|m| m.from).collect();
    sqlx::query(
        "DELETE FROM recipient_scope s WHERE s.subject_id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM involvements i WHERE i.subject_id = s.subject_id AND i.agency = s.recipient)",
    )
    .bind(&left)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO subject_details (subject_id, name, date_of_birth, source_agency, first_seen_at)
         SELECT DISTINCT e.subject_id, coalesce(e.person_name, ''), e.date_of_birth, e.agency, $2
         FROM events e WHERE e.event_id = ANY($1) AND e.subject_id IS NOT NULL
           AND (e.person_name IS NOT NULL OR e.date_of_birth IS NOT NULL)
         ON CONFLICT DO NOTHING",
    )
    .bind(&events)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let (held, held_people): (Vec<Uuid>, Vec<serde_json::Value>) = moved
        .iter()
        .filter_map(|m| match &m.to {
            Link::Conflict(people) => Some((m.event_id, serde_json::json!(people))),
            _ => None,
        })
        .unzip();
    sqlx::query(
        "INSERT INTO identity_conflicts (event_id, agency, message_id, identifiers, subject_ids, detected_at)
         SELECT e.event_id, e.agency, e.message_id, e.identifiers,
                ARRAY(SELECT jsonb_array_elements_text(h.people)::uuid), $3
         FROM UNNEST($1::uuid[], $2::jsonb[]) AS h(event_id, people) JOIN events e USING (event_id)
         ON CONFLICT (event_id) DO UPDATE SET status = 'open', subject_ids = excluded.subject_ids,
            detected_at = excluded.detected_at, decided_by = NULL, decided_at = NULL",
    )
    .bind(&held)
    .bind(&held_people)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let placed: Vec<Uuid> = moved.iter().filter(|m| matches!(m.to, Link::Subject(_))).map(|m| m.event_id).collect();
    sqlx::query(
        "UPDATE identity_conflicts SET status = 'resolved', decided_by = 'tracker (a later record)', decided_at = $2
         WHERE event_id = ANY($1) AND status = 'open'",
    )
    .bind(&placed)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Finds the subject an identifier belongs to.
pub async fn find(pool: &sqlx::PgPool, scheme: &str, value: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT subject_id FROM subject_identifiers WHERE scheme = $1 AND value = $2")
        .bind(scheme)
        .bind(value)
        .fetch_optional(pool)
        .await
}
