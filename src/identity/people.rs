//! Person ids and details: a person's id derives from the identifier that names them (so the
//! same records give the same ids in any order), except a person stored before ids were derived.
use std::collections::{BTreeSet, HashMap};

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::PERSON_NAMESPACE;
use super::resolve::Id;
use crate::domain::identifiers::Scheme;

/// The ids of the people these identifiers name that differ from the derived one: a person the
/// store knew before ids were derived (a random, version-4 id) keeps it, where that person is
/// known by the naming identifier and no other name here claims it. Every other id is derived
/// (`derived_id`), so it cannot depend on what the store saw first.
pub(super) async fn person_ids(
    tx: &mut Transaction<'_, Postgres>,
    names: &BTreeSet<&Id>,
) -> Result<HashMap<Id, Uuid>, sqlx::Error> {
    let (schemes, values): (Vec<&str>, Vec<&str>) = names.iter().map(|(s, v)| (s.as_str(), v.as_str())).unzip();
    let rows = crate::store::subjects::owners(tx, &schemes, &values).await?;
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
