//! Generated updates, agreements and consents against a small reference evaluator written
//! straight from the written sharing rules: no delivered field is one a rule withholds, and the
//! decisions agree.
use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use crate::domain::event_types::EVENT_TYPES;
use crate::sharing::agreements::{Effect, Fact, FieldCondition, Party, Rule};

/// Seeded draws for the random rules below (the same rules on every run).
struct Rng(fastrand::Rng);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.usize(..items.len())]
    }
    fn subset(&mut self, items: &[&str], percent: u64) -> Vec<String> {
        items.iter().filter(|_| self.chance(percent)).map(|s| s.to_string()).collect()
    }
}

const KINDS: [AgencyKind; 4] = [AgencyKind::Police, AgencyKind::Court, AgencyKind::Probation, AgencyKind::Treatment];
const FIELDS: [&str; 5] = ["a", "b", "c", "d", "x"];

fn agency_of(kind: AgencyKind) -> &'static str {
    match kind {
        AgencyKind::Police => "police-05",
        AgencyKind::Court => "court-b05lv00",
        AgencyKind::Probation => "probation",
        AgencyKind::Treatment => "treatment",
    }
}

/// A rule that, more often than not, concerns the generated update and recipient.
fn rule(rng: &mut Rng, n: usize, event: (&str, &str, AgencyKind), recipient: AgencyKind) -> Rule {
    let types: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
    let classes: Vec<&str> = EVENT_TYPES.iter().map(|(_, c)| *c).collect();
    let by_type = rng.chance(50);
    let on_topic = rng.chance(70);
    let (event_type, data_class) = if on_topic { (event.0, event.1) } else { (*rng.pick(&types), *rng.pick(&classes)) };
    let mut recipients: Vec<Party> = KINDS.iter().filter(|_| rng.chance(30)).map(|k| Party::Kind(*k)).collect();
    if rng.chance(70) {
        recipients.push(Party::Kind(recipient));
    }
    Rule {
        id: format!("R{n}"),
        effect: if rng.chance(15) { Effect::Deny } else { Effect::Permit },
        file: "generated.toml".into(),
        owners: vec![Party::Kind(if rng.chance(70) { event.2 } else { *rng.pick(&KINDS) })],
        recipients,
        event_types: if by_type { vec![event_type.to_string()] } else { Vec::new() },
        data_classes: if by_type { Vec::new() } else { vec![data_class.to_string()] },
        when_any: if rng.chance(40) {
            vec![FieldCondition {
                field: "x".into(),
                equals: Some(rng.pick(&["A", "B"]).to_string()),
                one_of: None,
                present: None,
            }]
        } else {
            Vec::new()
        },
        facts: if rng.chance(25) { vec![Fact::ActiveOrder] } else { Vec::new() },
        withhold: rng.subset(&FIELDS, 30),
        only: if rng.chance(30) { Some(rng.subset(&FIELDS, 50)) } else { None },
        consent: rng.chance(30),
        purpose: "p".into(),
        legal_basis: "l".into(),
        valid_from: if rng.chance(20) { NaiveDate::from_ymd_opt(2026, 12, 1) } else { None },
        valid_to: if rng.chance(20) { NaiveDate::from_ymd_opt(2026, 11, 1) } else { None },
    }
}

/// The reference: which payload fields the recipient may see, or `None` to withhold.
fn reference(rules: &[Rule], e: &EventView, r: &Recipient, f: &Facts, day: NaiveDate) -> Option<BTreeSet<String>> {
    let applies = |rule: &&Rule| {
        rule.valid_from.is_none_or(|d| d <= day)
            && rule.valid_to.is_none_or(|d| day <= d)
            && rule.owners.iter().any(|o| o.matches(e.source_agency, e.source_kind))
            && rule.recipients.iter().any(|p| p.matches(r.agency, r.kind))
            && (rule.event_types.iter().any(|t| t == e.event_type)
                || rule.data_classes.iter().any(|c| c == e.data_class))
    };
    let holds = |rule: &&Rule| {
        (rule.when_any.is_empty() || rule.when_any.iter().any(|c| e.payload["x"].as_str() == c.equals.as_deref()))
            && (rule.facts.is_empty() || f.active_order)
    };
    let consent_ok = |rule: &&Rule| {
        !rule.consent
            || match r.kind {
                AgencyKind::Court => f.consent_courts,
                AgencyKind::Probation => f.consent_probation,
                _ => false,
            }
    };
    let applicable: Vec<&Rule> = rules.iter().filter(applies).collect();
    if applicable.iter().any(|rule| rule.effect == Effect::Deny && holds(rule)) {
        return None;
    }
    let granting: Vec<&Rule> =
        applicable.into_iter().filter(|rule| rule.effect == Effect::Permit).filter(holds).filter(consent_ok).collect();
    if granting.is_empty() {
        return None;
    }
    let keys: BTreeSet<String> = e.payload.as_object().unwrap().keys().cloned().collect();
    Some(
        keys.into_iter()
            .filter(|k| {
                granting
                    .iter()
                    .all(|rule| !rule.withhold.contains(k) && rule.only.as_ref().is_none_or(|only| only.contains(k)))
            })
            .collect(),
    )
}

#[test]
fn no_delivered_field_is_one_a_rule_withholds() {
    let cases: u64 = std::env::var("TRACKER_PROPERTY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let mut rng = Rng(fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15));
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let mut delivered = 0;
    for case in 0..cases {
        let (event_type, data_class) = *rng.pick(EVENT_TYPES);
        let source_kind = *rng.pick(&KINDS);
        let kind = *rng.pick(&KINDS);
        let rules: Vec<Rule> = (0..1 + rng.below(4) as usize)
            .map(|n| rule(&mut rng, n, (event_type, data_class, source_kind), kind))
            .collect();
        let mut payload = serde_json::Map::new();
        for f in FIELDS {
            if rng.chance(80) {
                payload.insert(f.into(), if f == "x" { json!(rng.pick(&["A", "B"])) } else { json!("v") });
            }
        }
        let payload = Json::Object(payload);
        let event =
            EventView { event_type, data_class, source_agency: agency_of(source_kind), source_kind, payload: &payload };
        let recipient = Recipient { agency: agency_of(kind), kind };
        let facts = Facts {
            active_order: rng.chance(50),
            in_treatment: false,
            consent_courts: rng.chance(50),
            consent_probation: rng.chance(50),
        };
        let got = decide(&rules, &event, &recipient, &facts, day);
        let want = reference(&rules, &event, &recipient, &facts, day);
        let got_fields: Option<BTreeSet<String>> = got.grant().map(|_| {
            payload.as_object().unwrap().keys().filter(|k| !got.withheld_fields().contains(k)).cloned().collect()
        });
        assert_eq!(
            got_fields, want,
            "case {case}: rules {rules:#?} event {event:?} recipient {recipient:?} facts {facts:?}"
        );
        if let Some(fields) = &got_fields {
            delivered += 1;
            for rule in rules.iter().filter(|r| r.effect == Effect::Permit) {
                if got.grant().is_some_and(|g| g.agreement == rule.id) {
                    assert!(fields.iter().all(|f| !rule.withhold.contains(f)), "case {case}: withheld field delivered");
                }
            }
        }
    }
    assert!(delivered > cases / 20, "the generator exercises deliveries ({delivered} of {cases})");
}
