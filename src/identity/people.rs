//! Person ids and details: a person's id derives from the identifier that names them (so the
//! same records give the same ids in any order), except a person stored before ids were derived.
use std::collections::{BTreeSet, HashMap};

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::PERSON_NAMESPACE;
use super::resolve::Id;
use crate::domain::identifiers::Scheme;

/// Who the index says each identifier belongs to, for every identifier of the resolution (one
/// statement): what naming people (`person_ids`) and writing only what changed both need.
pub(super) async fn current_owners(
    tx: &mut Transaction<'_, Postgres>,
    identifiers: &[&Id],
) -> Result<HashMap<Id, Uuid>, sqlx::Error> {
    let (schemes, values): (Vec<&str>, Vec<&str>) = identifiers.iter().map(|(s, v)| (s.as_str(), v.as_str())).unzip();
    let rows = crate::store::subjects::owners(tx, &schemes, &values).await?;
    Ok(rows.into_iter().filter_map(|(scheme, value, s)| Some(((Scheme::parse(&scheme)?, value), s))).collect())
}

/// The ids of the people these identifiers name that differ from the derived one: a person the
/// store knew before ids were derived (a random, version-4 id) keeps it, where that person is
/// known by the naming identifier and no other name here claims it. Every other id is derived
/// (`derived_id`), so it cannot depend on what the store saw first.
pub(super) fn person_ids(names: &BTreeSet<&Id>, owners: &HashMap<Id, Uuid>) -> HashMap<Id, Uuid> {
    let named: Vec<(&Id, Uuid)> = names.iter().filter_map(|n| Some((*n, *owners.get(*n)?))).collect();
    let mut claims: HashMap<Uuid, usize> = HashMap::new();
    for (_, s) in &named {
        *claims.entry(*s).or_default() += 1;
    }
    named
        .into_iter()
        .filter(|(_, s)| s.get_version_num() == 4 && claims.get(s) == Some(&1))
        .map(|(name, s)| (name.clone(), s))
        .collect()
}

/// The id of a person the store has not known before: derived from the identifier naming them.
pub fn derived_id(name: &Id) -> Uuid {
    Uuid::new_v5(&PERSON_NAMESPACE, format!("{}\u{1f}{}", name.0.as_str(), name.1).as_bytes())
}
