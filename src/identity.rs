//! The person index: which records are one person, decided over the whole set of records
//! (`resolve`), whatever order they arrived in. A record whose identifiers lead to two people is
//! linked to neither and raised for review; a later record that changes the picture moves the
//! records it affects.
mod moves;
mod people;
pub mod resolve;
mod signatures;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::connectors::mapping::DraftSubject;
use crate::domain::identifiers::Scheme;
use crate::domain::names::AgencyId;
use crate::settings::AgencyKind;
use crate::store;
use crate::store::events::LinkingRecords;
use moves::apply_moves;
pub use people::derived_id;
use people::{current_owners, person_ids};
use resolve::{Id, Record, Resolved};

/// What linking an item's identifiers found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Subject(Uuid),
    /// The identifiers belong to these different subjects.
    Conflict(Vec<Uuid>),
    /// No identifier passed its check.
    Unidentified,
}

/// How far linking follows shared identifiers from a message's records. A person has a handful;
/// a chain longer than this (a data-quality incident) is resolved on what was read, and says so
/// in the log.
const MAX_IDENTIFIERS: usize = 20_000;

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
    // A record whose signature's place is known needs no reading of its group, unless a new
    // record of this batch joins that group (then the group is resolved again, with it).
    let signatures: Vec<Option<signatures::Signature>> =
        message.iter().map(|r| signatures::of(agency, &r.identifiers)).collect();
    let known = signatures::known(tx, &signatures.iter().flatten().collect::<Vec<_>>()).await?;
    let known: Vec<Option<Link>> =
        signatures.iter().map(|s| s.as_ref().and_then(|s| known.get(&s.key).cloned())).collect();
    let seeds: BTreeSet<Id> = message
        .iter()
        .zip(&known)
        .filter(|(_, known)| known.is_none())
        .flat_map(|(r, _)| r.identifiers.iter().cloned())
        .collect();
    let linking = link(tx, message, known, seeds, agency, kind_of, now).await?;
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
    store::subjects::insert_details(tx, &details, agency, now).await?;
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
    let identifiers = store::events::identifiers_of(tx, events).await?;
    let seeds: BTreeSet<Id> = identifiers.iter().flat_map(ids_of).collect();
    Ok(link(tx, Vec::new(), Vec::new(), seeds, "tracker", kind_of, now).await?.moved)
}

/// Forgets where the records of the groups of these stored records stand (call with the index
/// locked, before an erasure takes them out of their groups): the next record of each group
/// resolves the group again, as it would have before any place was remembered.
pub async fn forget_groups_of(tx: &mut Transaction<'_, Postgres>, events: &[Uuid]) -> Result<(), sqlx::Error> {
    let identifiers = store::events::identifiers_of(tx, events).await?;
    let seeds: BTreeSet<Id> = identifiers.iter().flat_map(ids_of).collect();
    let (seen, _) = neighbours(tx, seeds).await?;
    signatures::forget(tx, &seen.into_iter().collect::<Vec<_>>()).await
}

/// Resolves `message`'s records with every stored record reachable from `seeds` by shared
/// identifiers, stores who each identifier belongs to and where each signature stands, and moves
/// the stored records whose person changed. A message record whose place is `known` and whose
/// identifiers the reading did not reach keeps that place (nothing new joined its group).
async fn link(
    tx: &mut Transaction<'_, Postgres>,
    message: Vec<Record>,
    known: Vec<Option<Link>>,
    seeds: BTreeSet<Id>,
    agency: &str,
    kind_of: &(dyn Fn(&str) -> Option<AgencyKind> + Sync),
    now: DateTime<Utc>,
) -> Result<Linking, sqlx::Error> {
    let (seen, stored) = neighbours(tx, seeds).await?;
    let kept: Vec<Option<Link>> = message
        .iter()
        .zip(known.into_iter().chain(std::iter::repeat(None)))
        .map(|(r, known)| known.filter(|_| !r.identifiers.iter().any(|i| seen.contains(i))))
        .collect();
    let message: Vec<Record> =
        message.into_iter().zip(&kept).filter(|(_, kept)| kept.is_none()).map(|(r, _)| r).collect();
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
    let identifiers: Vec<&Id> = resolution.person_of.keys().chain(names.iter().copied()).collect();
    let owners = current_owners(tx, &identifiers).await?;
    let ids = person_ids(&names, &owners);
    let person = |name: &Id| ids.get(name).copied().unwrap_or_else(|| derived_id(name));
    let link_of = |r: &Resolved| match r {
        Resolved::Person(name) => Link::Subject(person(name)),
        Resolved::Conflict(names) => Link::Conflict(names.iter().map(&person).collect()),
        Resolved::Unidentified => Link::Unidentified,
    };
    let (stored_links, message_links) = resolution.records.split_at(stored.len());
    let mut moved: Vec<(i64, Moved)> =
        stored
            .iter()
            .zip(stored_links)
            .flat_map(|(r, resolved)| {
                let to = link_of(resolved);
                let held_now = matches!(to, Link::Conflict(_));
                let held_before = r.status.as_deref() == Some("open");
                let subject_now = match &to {
                    Link::Subject(s) => Some(*s),
                    _ => None,
                };
                let moves = subject_now != r.subject_id || held_now != held_before;
                r.seqs.iter().zip(&r.event_ids).filter(move |_| moves).map(move |(seq, event_id)| {
                    (*seq, Moved { event_id: *event_id, from: r.subject_id, to: to.clone() })
                })
            })
            .collect();
    // In the order the records were stored, as one by one.
    moved.sort_by_key(|(seq, _)| *seq);
    let moved: Vec<Moved> = moved.into_iter().map(|(_, m)| m).collect();
    if !moved.is_empty() {
        tracing::info!(records = moved.len(), "later records changed who is who: records moved");
    }
    let mut resolved_links = message_links.iter().map(link_of);
    let links: Vec<Link> =
        kept.into_iter().map(|kept| kept.or_else(|| resolved_links.next()).unwrap_or(Link::Unidentified)).collect();
    // Where each signature of the group now stands, for the next record of it.
    let mut places: HashMap<signatures::Signature, Link> = HashMap::new();
    let stored_kinds = stored.iter().map(|r| (r.agency.as_str(), ids_of(&r.identifiers)));
    let message_kinds = message.iter().map(|r| (agency, r.identifiers.clone()));
    for ((of, identifiers), resolved) in stored_kinds.chain(message_kinds).zip(&resolution.records) {
        if let Some(signature) = signatures::of(of, &identifiers) {
            places.insert(signature, link_of(resolved));
        }
    }
    signatures::remember(tx, &places).await?;
    // Every person named the index does not know yet, then every identifier whose person
    // changed (or is new): nothing is written where nothing changed.
    let known: BTreeSet<Uuid> = owners.values().copied().collect();
    let mut people: Vec<Uuid> = names.iter().map(|n| person(n)).filter(|p| !known.contains(p)).collect();
    people.sort();
    people.dedup();
    if !people.is_empty() {
        store::subjects::insert(tx, &people, now).await?;
    }
    let (mut schemes, mut values, mut new_owners) = (Vec::new(), Vec::new(), Vec::new());
    for (id, name) in &resolution.person_of {
        let owner = person(name);
        if owners.get(id) != Some(&owner) {
            schemes.push(id.0.as_str());
            values.push(id.1.clone());
            new_owners.push(owner);
        }
    }
    if !schemes.is_empty() {
        store::subjects::assign_identifiers(tx, &schemes, &values, &new_owners, agency, now).await?;
    }
    apply_moves(tx, &moved, now).await?;
    Ok(Linking { links, moved })
}

/// Every stored record that shares an identifier with `seeds`, transitively, in groups of records
/// alike (a person's records mostly repeat a handful of identifier sets, so what is resolved
/// grows with those, not with the records), ordered by their first record.
///
/// Each step reads the records holding the identifiers reached last and not read before, with
/// their identifiers: the next step follows those it has not seen. A record is read once (a walk
/// of identifiers alone, then a reading of the records it reached, read each record three
/// times); the last step, which finds nothing new, probes the index only.
async fn neighbours(
    tx: &mut Transaction<'_, Postgres>,
    seeds: BTreeSet<Id>,
) -> Result<(BTreeSet<Id>, Vec<LinkingRecords>), sqlx::Error> {
    let mut seen = seeds;
    let mut frontier: Vec<Id> = seen.iter().cloned().collect();
    let mut read: Vec<Uuid> = Vec::new();
    let mut groups: Vec<LinkingRecords> = Vec::new();
    while !frontier.is_empty() {
        let (schemes, values): (Vec<&str>, Vec<&str>) = frontier.iter().map(|(s, v)| (s.as_str(), v.as_str())).unzip();
        let found = store::events::for_linking(tx, &schemes, &values, &read).await?;
        if seen.len() >= MAX_IDENTIFIERS {
            // The records holding what was reached are read; their other identifiers are not followed.
            tracing::warn!(
                identifiers = seen.len(),
                "identity: shared identifiers reach too many others; resolved on those read"
            );
            groups.extend(found);
            break;
        }
        frontier = Vec::new();
        for group in &found {
            read.extend(&group.event_ids);
            for id in ids_of(&group.identifiers) {
                if seen.insert(id.clone()) {
                    frontier.push(id);
                }
            }
        }
        groups.extend(found);
    }
    Ok((seen, merge_alike(groups)))
}

/// Groups read in different steps that are alike (a step finds a group's other records by
/// another identifier) become one, their records in store order; groups in order of their first
/// record, as one reading of them all would give.
fn merge_alike(groups: Vec<LinkingRecords>) -> Vec<LinkingRecords> {
    let mut merged: Vec<LinkingRecords> = Vec::with_capacity(groups.len());
    let mut index: HashMap<(AgencyId, String, Option<Uuid>, Option<String>), usize> = HashMap::new();
    for g in groups {
        let key = (g.agency.clone(), g.identifiers.to_string(), g.subject_id, g.status.clone());
        match index.get(&key) {
            Some(&at) => {
                let into = &mut merged[at];
                let mut records: Vec<(i64, Uuid)> =
                    into.seqs.iter().copied().zip(into.event_ids.iter().copied()).collect();
                records.extend(g.seqs.iter().copied().zip(g.event_ids.iter().copied()));
                records.sort_unstable();
                (into.seqs, into.event_ids) = records.into_iter().unzip();
            }
            None => {
                index.insert(key, merged.len());
                merged.push(g);
            }
        }
    }
    merged.sort_by_key(|g| g.seqs.first().copied());
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(agency: &str, pnc: &str, seqs: &[i64]) -> LinkingRecords {
        LinkingRecords {
            agency: agency.into(),
            identifiers: serde_json::json!([{"scheme": "PNC", "value": pnc}]),
            subject_id: None,
            status: None,
            event_ids: seqs.iter().map(|s| Uuid::from_u128(*s as u128)).collect(),
            seqs: seqs.to_vec(),
        }
    }

    #[test]
    fn groups_read_in_different_steps_merge_in_store_order() {
        // Step one found records 5 and 9 of one group and record 2 of another; step two found
        // record 7 of the first group by another identifier.
        let merged = merge_alike(vec![
            group("police-05", "A", &[5, 9]),
            group("probation-05", "B", &[2]),
            group("police-05", "A", &[7]),
        ]);
        let got: Vec<(String, Vec<i64>)> = merged.iter().map(|g| (g.agency.to_string(), g.seqs.clone())).collect();
        assert_eq!(got, vec![("probation-05".to_string(), vec![2]), ("police-05".to_string(), vec![5, 7, 9])]);
        let ids: Vec<Uuid> = [5u128, 7, 9].into_iter().map(Uuid::from_u128).collect();
        assert_eq!(merged[1].event_ids, ids, "each record keeps its id beside its place in the store");
    }

    #[test]
    fn groups_differing_in_anything_linking_reads_stay_apart() {
        let mut held = group("police-05", "A", &[3]);
        held.status = Some("open".into());
        let merged = merge_alike(vec![group("police-05", "A", &[1]), held, group("police-05", "B", &[2])]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged.iter().map(|g| g.seqs[0]).collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
