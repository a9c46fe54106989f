//! Who is who, from the whole set of records: a pure function of the records and the operators'
//! decisions, so the same records give the same people and the same conflicts in any arrival
//! order.
//!
//! The rule. A record is *anchored* by its strongest identifier (PNC, then CRO, NOMS, CRN, NHS
//! number, treatment client id). A weaker identifier on a record *joins* the anchor's person when
//! the record comes from the agency that issues it (CRO: police; CRN and NOMS: probation; NHS
//! number and treatment client id: treatment); an identifier no record of its issuer holds joins
//! the anchors other agencies pair it with. People are the groups these joins make (connected, so
//! the order of records cannot matter), each named by its strongest identifier, never by arrival.
//! A record is a *conflict* — held, linked to no one, whether it arrived first or last — when its
//! identifiers fall in more than one group (another agency pairing an identifier with a different
//! anchor), or in a group that holds two different identifiers of one scheme (an issuer pairing
//! one identifier with two people). Operators rule: groups they linked are one person, and a
//! conflict they kept apart goes to the person of its anchor.
use std::collections::{BTreeMap, BTreeSet};

use crate::domain::identifiers::Scheme;
use crate::settings::AgencyKind;

/// An identifier as resolution sees it.
pub type Id = (Scheme, String);

/// The strength of a scheme: lower is stronger.
pub fn rank(scheme: Scheme) -> u8 {
    match scheme {
        Scheme::Pnc => 0,
        Scheme::Cro => 1,
        Scheme::Noms => 2,
        Scheme::Crn => 3,
        Scheme::Nhs => 4,
        Scheme::TreatmentClient => 5,
    }
}

/// The kind of agency that issues identifiers of `scheme` (none for the PNC, which is never
/// weaker than anything).
pub fn issuer(scheme: Scheme) -> Option<AgencyKind> {
    match scheme {
        Scheme::Pnc => None,
        Scheme::Cro => Some(AgencyKind::Police),
        Scheme::Noms | Scheme::Crn => Some(AgencyKind::Probation),
        Scheme::Nhs | Scheme::TreatmentClient => Some(AgencyKind::Treatment),
    }
}

/// One record: the kind of agency it came from, its (checked) identifiers, and whether an
/// operator kept it apart (it then goes to its anchor's person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub from: AgencyKind,
    pub identifiers: Vec<Id>,
    pub kept_apart: bool,
}

/// Where a record belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The person named by this identifier (the strongest of the person's group).
    Person(Id),
    /// Its identifiers lead to these people (their names, strongest first): held for review.
    Conflict(Vec<Id>),
    /// No identifier.
    Unidentified,
}

fn strength(id: &Id) -> (u8, &str) {
    (rank(id.0), id.1.as_str())
}

/// The anchor of a record: its strongest identifier (the smallest value breaks a tie).
pub fn anchor(identifiers: &[Id]) -> Option<&Id> {
    identifiers.iter().min_by(|a, b| strength(a).cmp(&strength(b)))
}

/// Resolves every record, given the pairs of identifiers operators linked as one person. The
/// result depends on the set of records and decisions, never on their order.
pub fn resolve(records: &[Record], linked: &[(Id, Id)]) -> Vec<Resolved> {
    resolution(records, linked).records
}

/// Where each record belongs, and the person each identifier belongs to (named by the strongest
/// identifier of its group).
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub records: Vec<Resolved>,
    pub person_of: BTreeMap<Id, Id>,
}

/// [`resolve`], with the person of every identifier.
pub fn resolution(records: &[Record], linked: &[(Id, Id)]) -> Resolution {
    let issued: BTreeSet<&Id> =
        records.iter().flat_map(|r| r.identifiers.iter().filter(move |id| issuer(id.0) == Some(r.from))).collect();
    // Which anchors each weaker identifier is paired with, by the records that speak for it: its
    // issuer's, or, where the issuer holds none, everyone's. A record an operator kept apart
    // speaks for nothing (its pairing was judged wrong).
    let mut pairings: BTreeMap<&Id, BTreeSet<&Id>> = BTreeMap::new();
    for r in records.iter().filter(|r| !r.kept_apart) {
        let Some(a) = anchor(&r.identifiers) else { continue };
        for id in r.identifiers.iter().filter(|id| *id != a) {
            let speaks = if issued.contains(id) { issuer(id.0) == Some(r.from) } else { rank(id.0) > rank(a.0) };
            if speaks {
                pairings.entry(id).or_default().insert(a);
            }
        }
    }
    let mut groups = Groups::default();
    for id in records.iter().flat_map(|r| r.identifiers.iter()) {
        groups.add(id);
    }
    // Operators' links first: anchors they made one person do not make an identifier ambiguous.
    for (x, y) in linked {
        groups.add(x);
        groups.add(y);
        groups.join(x, y);
    }
    // An identifier paired with two different people's anchors of one scheme (a CRN its issuer
    // gave two PNCs) joins no one: every record holding it with another anchor is held. Judged
    // against the operators' links only, so the order pairings are looked at cannot matter.
    let ambiguous_ids: BTreeSet<&Id> = pairings
        .iter()
        .filter(|(_, anchors)| {
            let mut people: BTreeMap<Scheme, BTreeSet<Id>> = BTreeMap::new();
            for a in anchors.iter() {
                people.entry(a.0).or_default().insert(groups.find(a));
            }
            people.values().any(|p| p.len() > 1)
        })
        .map(|(id, _)| *id)
        .collect();
    for (id, anchors) in &pairings {
        if !ambiguous_ids.contains(id) {
            for a in anchors {
                groups.join(a, id);
            }
        }
    }
    // Each group's name (its strongest identifier) and whether it holds two PNCs: a chain of
    // weaker identifiers that made two PNC-holders one person is in doubt (two CROs, say, are
    // not: another agency may pair an old one, and the issuer's word settles it).
    let mut names: BTreeMap<Id, Id> = BTreeMap::new();
    let mut pncs: BTreeMap<Id, BTreeSet<&Id>> = BTreeMap::new();
    let members: Vec<Id> = groups.parent.keys().cloned().collect();
    for id in &members {
        let group = groups.find(id);
        let name = names.entry(group.clone()).or_insert_with(|| id.clone());
        if strength(id) < strength(name) {
            *name = id.clone();
        }
        if id.0 == Scheme::Pnc {
            pncs.entry(group).or_default().insert(id);
        }
    }
    let ambiguous: BTreeSet<Id> = pncs.into_iter().filter(|(_, p)| p.len() > 1).map(|(g, _)| g).collect();
    let linked_ids: BTreeSet<&Id> = linked.iter().flat_map(|(x, y)| [x, y]).collect();
    let name_of = |id: &Id| names.get(&groups.find(id)).cloned().unwrap_or_else(|| id.clone());
    let resolved = records
        .iter()
        .map(|r| {
            let Some(a) = anchor(&r.identifiers) else { return Resolved::Unidentified };
            let own = name_of(a);
            let mut people: Vec<Id> = r.identifiers.iter().map(&name_of).collect();
            people.sort_by(|x, y| strength(x).cmp(&strength(y)));
            people.dedup();
            // A group an operator linked is one person, even with two identifiers of a scheme.
            let unsure = ambiguous.contains(&groups.find(a)) && !r.identifiers.iter().any(|i| linked_ids.contains(i));
            if r.kept_apart || (people.len() == 1 && !unsure) {
                Resolved::Person(own)
            } else {
                Resolved::Conflict(people)
            }
        })
        .collect();
    let person_of = members.iter().map(|id| (id.clone(), name_of(id))).collect();
    Resolution { records: resolved, person_of }
}

/// Union-find over identifiers (path-free: the sets are one person's handful of identifiers).
#[derive(Default)]
struct Groups {
    parent: BTreeMap<Id, Id>,
}

impl Groups {
    fn add(&mut self, id: &Id) {
        if !self.parent.contains_key(id) {
            self.parent.insert(id.clone(), id.clone());
        }
    }

    fn find(&self, id: &Id) -> Id {
        let mut at = id.clone();
        while let Some(next) = self.parent.get(&at).filter(|next| **next != at) {
            at = next.clone();
        }
        at
    }

    fn join(&mut self, x: &Id, y: &Id) {
        let (rx, ry) = (self.find(x), self.find(y));
        if rx != ry {
            // The stronger stays the root: deterministic whatever the order of joins.
            let (keep, join) = if strength(&rx) < strength(&ry) { (rx, ry) } else { (ry, rx) };
            self.parent.insert(join, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgencyKind::{Court, Police, Probation, Treatment};

    fn id(scheme: Scheme, value: &str) -> Id {
        (scheme, value.to_string())
    }

    fn record(from: AgencyKind, ids: &[(Scheme, &str)]) -> Record {
        Record { from, identifiers: ids.iter().map(|(s, v)| id(*s, v)).collect(), kept_apart: false }
    }

    /// Every order of `records` resolves each record the same way.
    fn same_in_every_order(records: &[Record], linked: &[(Id, Id)]) -> Vec<Resolved> {
        let reference = resolve(records, linked);
        let n = records.len();
        let mut order: Vec<usize> = (0..n).collect();
        // Heap's algorithm over all permutations (n is small).
        let mut c = vec![0; n];
        let mut i = 0;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    order.swap(0, i)
                } else {
                    order.swap(c[i], i)
                }
                let shuffled: Vec<Record> = order.iter().map(|&k| records[k].clone()).collect();
                let got = resolve(&shuffled, linked);
                for (pos, &k) in order.iter().enumerate() {
                    assert_eq!(got[pos], reference[k], "record {k} in order {order:?}");
                }
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        reference
    }

    /// The brothers: two arrests, the elder's probation registration (his PNC and CRN), and a
    /// treatment record carrying the elder's CRN with the younger's PNC. In every order: two
    /// people, and the treatment record held as a conflict.
    #[test]
    fn a_bridging_record_is_a_conflict_whatever_arrives_first() {
        let records = vec![
            record(Police, &[(Scheme::Pnc, "ELDER")]),
            record(Police, &[(Scheme::Pnc, "YOUNGER")]),
            record(Probation, &[(Scheme::Pnc, "ELDER"), (Scheme::Crn, "X1")]),
            record(Treatment, &[(Scheme::Crn, "X1"), (Scheme::Pnc, "YOUNGER"), (Scheme::TreatmentClient, "T1")]),
        ];
        let got = same_in_every_order(&records, &[]);
        assert_eq!(got[0], Resolved::Person(id(Scheme::Pnc, "ELDER")));
        assert_eq!(got[1], Resolved::Person(id(Scheme::Pnc, "YOUNGER")));
        assert_eq!(got[2], Resolved::Person(id(Scheme::Pnc, "ELDER")));
        assert_eq!(got[3], Resolved::Conflict(vec![id(Scheme::Pnc, "ELDER"), id(Scheme::Pnc, "YOUNGER")]));
    }

    /// Records without a PNC join the person their identifiers are bound to.
    #[test]
    fn weaker_identifiers_join_the_person_their_issuer_binds_them_to() {
        let records = vec![
            record(Probation, &[(Scheme::Crn, "X1")]),
            record(Court, &[(Scheme::Cro, "C1")]),
            record(Police, &[(Scheme::Pnc, "P1"), (Scheme::Cro, "C1")]),
            record(Probation, &[(Scheme::Pnc, "P1"), (Scheme::Crn, "X1"), (Scheme::Noms, "N1")]),
            record(Treatment, &[(Scheme::TreatmentClient, "T1"), (Scheme::Nhs, "H1")]),
            record(Treatment, &[(Scheme::Pnc, "P1"), (Scheme::TreatmentClient, "T1")]),
        ];
        let got = same_in_every_order(&records, &[]);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(*r, Resolved::Person(id(Scheme::Pnc, "P1")), "record {i}");
        }
    }

    /// Without the second treatment record, the client with no PNC is a person of their own,
    /// named by their strongest identifier.
    #[test]
    fn a_person_with_no_pnc_is_named_by_their_strongest_identifier() {
        let records = vec![record(Treatment, &[(Scheme::TreatmentClient, "T1"), (Scheme::Nhs, "H1")])];
        assert_eq!(resolve(&records, &[]), vec![Resolved::Person(id(Scheme::Nhs, "H1"))]);
    }

    /// The issuer's own records disagree (one CRO with two PNCs): every record holding the CRO is
    /// held until an operator decides — in every order, not only the one that came second. The
    /// people's other records are theirs.
    #[test]
    fn an_identifier_its_issuer_pairs_with_two_people_holds_their_records() {
        let records = vec![
            record(Police, &[(Scheme::Pnc, "P1"), (Scheme::Cro, "C1")]),
            record(Police, &[(Scheme::Pnc, "P2"), (Scheme::Cro, "C1")]),
            record(Court, &[(Scheme::Pnc, "P1")]),
            record(Court, &[(Scheme::Pnc, "P3")]),
        ];
        let got = same_in_every_order(&records, &[]);
        assert!(got[..2].iter().all(|r| matches!(r, Resolved::Conflict(_))), "{got:?}");
        assert_eq!(got[2], Resolved::Person(id(Scheme::Pnc, "P1")));
        assert_eq!(got[3], Resolved::Person(id(Scheme::Pnc, "P3")));
        let got = same_in_every_order(&records, &[(id(Scheme::Pnc, "P1"), id(Scheme::Pnc, "P2"))]);
        assert!(got[..3].iter().all(|r| *r == Resolved::Person(id(Scheme::Pnc, "P1"))), "{got:?}");
    }

    /// Before the issuer's record is held, another agency's pairing joins; when the issuer's
    /// record arrives it rules, and the other record becomes the conflict.
    #[test]
    fn an_identifier_no_issuer_record_holds_joins_the_anchor_others_pair_it_with() {
        let treatment = record(Treatment, &[(Scheme::Pnc, "YOUNGER"), (Scheme::Crn, "X1")]);
        let got = resolve(std::slice::from_ref(&treatment), &[]);
        assert_eq!(got, vec![Resolved::Person(id(Scheme::Pnc, "YOUNGER"))]);
        let probation = record(Probation, &[(Scheme::Pnc, "ELDER"), (Scheme::Crn, "X1")]);
        let got = same_in_every_order(&[treatment, probation], &[]);
        assert!(matches!(got[0], Resolved::Conflict(_)));
        assert_eq!(got[1], Resolved::Person(id(Scheme::Pnc, "ELDER")));
    }

    /// The issuer outranks the others: a court record pairing a police-issued CRO with another
    /// PNC is the conflict, not the police record.
    #[test]
    fn the_issuer_binds_and_another_agency_pairing_otherwise_is_held() {
        let records = vec![
            record(Police, &[(Scheme::Pnc, "P1"), (Scheme::Cro, "C1")]),
            record(Court, &[(Scheme::Pnc, "P2"), (Scheme::Cro, "C1")]),
        ];
        let got = same_in_every_order(&records, &[]);
        assert_eq!(got[0], Resolved::Person(id(Scheme::Pnc, "P1")));
        assert_eq!(got[1], Resolved::Conflict(vec![id(Scheme::Pnc, "P1"), id(Scheme::Pnc, "P2")]));
    }

    /// Operators rule: linked roots are one person named by the stronger; a record kept apart goes
    /// to its anchor's person.
    #[test]
    fn operators_links_and_keep_apart_decisions_rule() {
        let records = vec![
            record(Police, &[(Scheme::Pnc, "ELDER")]),
            record(Police, &[(Scheme::Pnc, "YOUNGER")]),
            record(Probation, &[(Scheme::Pnc, "ELDER"), (Scheme::Crn, "X1")]),
            record(Treatment, &[(Scheme::Crn, "X1"), (Scheme::Pnc, "YOUNGER")]),
        ];
        let mut kept = records.clone();
        kept[3].kept_apart = true;
        let got = same_in_every_order(&kept, &[]);
        assert_eq!(got[3], Resolved::Person(id(Scheme::Pnc, "YOUNGER")));
        let got = same_in_every_order(&records, &[(id(Scheme::Pnc, "YOUNGER"), id(Scheme::Pnc, "ELDER"))]);
        assert!(got.iter().all(|r| *r == Resolved::Person(id(Scheme::Pnc, "ELDER"))), "{got:?}");
    }

    /// Random records over a small pool of identifiers (so they collide), shuffled: each record
    /// resolves the same way in every order.
    #[test]
    fn random_records_resolve_the_same_in_any_order() {
        let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: u64| rng.u64(..n);
        let kinds = [Police, Court, Probation, Treatment];
        for _ in 0..300 {
            let records: Vec<Record> = (0..1 + next(8))
                .map(|_| {
                    let mut ids: Vec<Id> = Vec::new();
                    for scheme in Scheme::ALL {
                        if next(3) == 0 {
                            ids.push((scheme, format!("{}", next(3))));
                        }
                    }
                    Record { from: kinds[next(4) as usize], identifiers: ids, kept_apart: next(10) == 0 }
                })
                .collect();
            let reference = resolve(&records, &[]);
            for _ in 0..10 {
                let mut order: Vec<usize> = (0..records.len()).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, next(i as u64 + 1) as usize);
                }
                let shuffled: Vec<Record> = order.iter().map(|&k| records[k].clone()).collect();
                let got = resolve(&shuffled, &[]);
                for (pos, &k) in order.iter().enumerate() {
                    assert_eq!(got[pos], reference[k], "{records:?} in order {order:?}");
                }
            }
        }
    }
}
