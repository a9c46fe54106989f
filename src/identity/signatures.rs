//! Signatures: an agency and a set of identifiers. Where a record stands (its person, or the
//! people it is held between) depends only on its signature and the rest of its connected group,
//! so every record of one signature stands in the same place. Linking writes each signature's
//! place when it resolves a group and reads it back for a new record whose group nothing new
//! touches — instead of reading that group's records, which grow with a person's history.
use std::collections::HashMap;

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::Link;
use super::resolve::Id;
use crate::store;

/// A record's signature: the key it is cached under, and its identifiers as the table lists
/// them (for forgetting a group's signatures).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Signature {
    pub key: String,
    entries: Vec<String>,
}

/// Separates scheme from value, entries from each other, and the agency from the entries:
/// control characters no checked identifier or agency id holds.
const WITHIN: char = '\u{1e}';
const BETWEEN: char = '\u{1f}';
const AGENCY: char = '\u{1d}';

fn entry(id: &Id) -> String {
    format!("{}{WITHIN}{}", id.0.as_str(), id.1)
}

/// The signature of a record of `agency` with these identifiers (none without identifiers: such
/// a record is unidentified, whatever else is stored).
pub(super) fn of(agency: &str, identifiers: &[Id]) -> Option<Signature> {
    if identifiers.is_empty() {
        return None;
    }
    let mut entries: Vec<String> = identifiers.iter().map(entry).collect();
    entries.sort();
    entries.dedup();
    let key = format!("{agency}{AGENCY}{}", entries.join(&BETWEEN.to_string()));
    Some(Signature { key, entries })
}

/// The place each of these signatures holds, where it is known.
pub(super) async fn known(
    tx: &mut Transaction<'_, Postgres>,
    signatures: &[&Signature],
) -> Result<HashMap<String, Link>, sqlx::Error> {
    let keys: Vec<&str> = signatures.iter().map(|s| s.key.as_str()).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = store::identity_signatures::standing(tx, &keys).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let link = match (row.subject_id, row.held_between) {
                (Some(subject), _) => Link::Subject(subject),
                (None, Some(people)) => Link::Conflict(people),
                (None, None) => Link::Unidentified,
            };
            (row.signature, link)
        })
        .collect())
}

/// Writes the place of each signature resolved, where it differs from what was known.
pub(super) async fn remember(
    tx: &mut Transaction<'_, Postgres>,
    resolved: &HashMap<Signature, Link>,
) -> Result<(), sqlx::Error> {
    let signatures: Vec<&Signature> = resolved.keys().collect();
    let before = known(tx, &signatures).await?;
    let (mut keys, mut identifiers, mut subjects, mut held) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (signature, link) in resolved {
        if before.get(&signature.key) == Some(link) {
            continue;
        }
        keys.push(signature.key.as_str());
        identifiers.push(signature.entries.join(&BETWEEN.to_string()));
        match link {
            Link::Subject(s) => {
                subjects.push(Some(*s));
                held.push(String::new());
            }
            Link::Conflict(people) => {
                subjects.push(None);
                let people: Vec<String> = people.iter().map(Uuid::to_string).collect();
                held.push(format!("{{{}}}", people.join(",")));
            }
            Link::Unidentified => {
                subjects.push(None);
                held.push(String::new());
            }
        }
    }
    if !keys.is_empty() {
        store::identity_signatures::set(tx, &keys, &identifiers, &subjects, &held).await?;
    }
    Ok(())
}

/// Forgets the place of every signature in the groups holding these identifiers (before an
/// erasure takes a record out of its group, whose other records may then stand elsewhere): the
/// next record of the group reads the group again.
pub(super) async fn forget(tx: &mut Transaction<'_, Postgres>, identifiers: &[Id]) -> Result<(), sqlx::Error> {
    let entries: Vec<String> = identifiers.iter().map(entry).collect();
    if !entries.is_empty() {
        store::identity_signatures::forget(tx, &entries).await?;
    }
    Ok(())
}
