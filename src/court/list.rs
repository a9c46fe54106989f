//! The court list of a sitting day: the defendants with a hearing at the court that day, found
//! from records the court has (results adjourning to the day or for it, charges and bail decisions
//! setting it, order reviews), each with the flags a bench needs at a glance — from the same
//! summary the bench would open.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::summary;
use crate::store::court::SeenRecord;

/// One defendant on the list.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub subject_id: Uuid,
    pub name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub identifiers: Vec<(String, String)>,
    /// Why they are listed ("adjourned to this day", …).
    pub why: Vec<String>,
    pub flags: Vec<String>,
}

/// A court's list for a day.
#[derive(Debug, Clone, Serialize)]
pub struct CourtList {
    pub court: String,
    pub sitting: NaiveDate,
    pub defendants: Vec<Listed>,
    pub as_of: DateTime<Utc>,
}

/// Builds the list from why each person is listed, what the court has of them, and what was
/// withheld from it (as `summary::build` takes them). Ordered by name.
pub fn build(
    court: &str,
    sitting: NaiveDate,
    listed: &[(Uuid, String, Uuid)],
    seen: Vec<SeenRecord>,
    withheld: &[(Uuid, String, String, String, i64)],
    as_of: DateTime<Utc>,
) -> CourtList {
    let mut why: BTreeMap<Uuid, BTreeSet<String>> = BTreeMap::new();
    for (subject, reason, _) in listed {
        why.entry(*subject).or_default().insert(reason.clone());
    }
    let mut records: BTreeMap<Uuid, Vec<SeenRecord>> = why.keys().map(|s| (*s, Vec::new())).collect();
    for r in seen {
        if let Some(list) = records.get_mut(&r.subject_id) {
            list.push(r);
        }
    }
    let mut defendants: Vec<Listed> = records
        .into_iter()
        .map(|(subject, seen)| {
            let s = summary::build(court, subject, seen, withheld, as_of);
            Listed {
                subject_id: subject,
                name: s.name,
                date_of_birth: s.date_of_birth,
                identifiers: s.identifiers,
                why: why.remove(&subject).unwrap_or_default().into_iter().collect(),
                flags: s.flags,
            }
        })
        .collect();
    defendants.sort_by_key(|d| (d.name.as_deref().map(str::to_lowercase), d.subject_id));
    CourtList { court: court.to_string(), sitting, defendants, as_of }
}
