//! The decision for one (update, recipient): deliver, deliver with named fields redacted, or
//! withhold with a reason. Pure: the facts about the person are looked up beforehand. Deny by
//! default; a deny beats a permit; consent is needed where a rule says so.
use std::fmt;

use chrono::NaiveDate;
use serde_json::Value as Json;

use super::agreements::{Effect, Fact, FieldCondition, Rule};
use crate::settings::AgencyKind;

/// The update as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub event_type: &'a str,
    pub data_class: &'a str,
    pub source_agency: &'a str,
    pub source_kind: AgencyKind,
    pub payload: &'a Json,
}

#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub agency: &'a str,
    pub kind: AgencyKind,
}

/// What is known about the person: in event time (at the update's `occurred_at`) for the
/// order and treatment, by the hub's clock for consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Facts {
    pub active_order: bool,
    pub in_treatment: bool,
    /// Consent to share health data with courts (scope CRT).
    pub consent_courts: bool,
    /// Consent to share health data with probation (scope PRB).
    pub consent_probation: bool,
}

/// The consent scope a recipient's kind falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentScope {
    Courts,
    Probation,
}

impl ConsentScope {
    pub fn for_kind(kind: AgencyKind) -> Option<ConsentScope> {
        match kind {
            AgencyKind::Court => Some(ConsentScope::Courts),
            AgencyKind::Probation => Some(ConsentScope::Probation),
            AgencyKind::Police | AgencyKind::Treatment => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ConsentScope::Courts => "CRT",
            ConsentScope::Probation => "PRB",
        }
    }

    pub fn parse(code: &str) -> Option<ConsentScope> {
        match code {
            "CRT" => Some(ConsentScope::Courts),
            "PRB" => Some(ConsentScope::Probation),
            _ => None,
        }
    }

    pub fn covered(self, facts: &Facts) -> bool {
        match self {
            ConsentScope::Courts => facts.consent_courts,
            ConsentScope::Probation => facts.consent_probation,
        }
    }
}

/// What a consent record names: one scope, or `ALL` (both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedScope {
    All,
    One(ConsentScope),
}

impl RecordedScope {
    pub fn parse(code: &str) -> Option<RecordedScope> {
        match code {
            "ALL" => Some(RecordedScope::All),
            other => ConsentScope::parse(other).map(RecordedScope::One),
        }
    }

    /// The stored form: `ALL`, `CRT` or `PRB`.
    pub fn code(self) -> &'static str {
        match self {
            RecordedScope::All => "ALL",
            RecordedScope::One(s) => s.code(),
        }
    }

    pub fn covers(self, scope: ConsentScope) -> bool {
        self == RecordedScope::All || self == RecordedScope::One(scope)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithholdReason {
    NoAgreement,
    ConditionNotMet,
    NoConsent,
    Denied,
    /// Deciding failed (a fact could not be looked up): an error means deny.
    Error,
    /// Only in a retraction: the record belongs to another person than the one it was sent
    /// under (a later record changed who is who).
    WrongPerson,
}

impl WithholdReason {
    pub fn code(self) -> &'static str {
        match self {
            WithholdReason::NoAgreement => "no_agreement",
            WithholdReason::ConditionNotMet => "condition_not_met",
            WithholdReason::NoConsent => "no_consent",
            WithholdReason::Denied => "denied",
            WithholdReason::Error => "error",
            WithholdReason::WrongPerson => "wrong_person",
        }
    }
}

impl fmt::Display for WithholdReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WithholdReason::NoAgreement => "no agreement",
            WithholdReason::ConditionNotMet => "condition not met",
            WithholdReason::NoConsent => "no consent",
            WithholdReason::Denied => "denied by rule",
            WithholdReason::Error => "error while deciding",
            WithholdReason::WrongPerson => "the record belongs to another person",
        })
    }
}

/// The agreement a delivery rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
    /// Set when the grant needs consent: re-checked when the update is published.
    pub consent: Option<ConsentScope>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Deliver(Grant),
    Redact { grant: Grant, fields: Vec<String> },
    Withhold { reason: WithholdReason, agreement: Option<String> },
}

impl Decision {
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Deliver(_) => "deliver",
            Decision::Redact { .. } => "redact",
            Decision::Withhold { .. } => "withhold",
        }
    }

    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Decision::Deliver(g) | Decision::Redact { grant: g, .. } => Some(g),
            Decision::Withhold { .. } => None,
        }
    }

    pub fn withheld_fields(&self) -> &[String] {
        match self {
            Decision::Redact { fields, .. } => fields,
            _ => &[],
        }
    }
}

/// Every value at a dotted path; a list on the way contributes each entry.
pub fn values_at<'a>(node: &'a Json, path: &str) -> Vec<&'a Json> {
    let mut current = vec![node];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for n in current {
            match n.get(seg) {
                Some(Json::Array(items)) => next.extend(items.iter()),
                Some(v) => next.push(v),
                None => {}
            }
        }
        current = next
            .into_iter()
            .flat_map(|v| if let Json::Array(items) = v { items.iter().collect() } else { vec![v] })
            .collect();
    }
    current
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn condition_holds(c: &FieldCondition, payload: &Json) -> bool {
    let values: Vec<String> = values_at(payload, &c.field).into_iter().filter_map(text).collect();
    if let Some(present) = c.present
        && values.is_empty() == present
    {
        return false;
    }
    if let Some(want) = &c.equals
        && !values.iter().any(|v| v == want)
    {
        return false;
    }
    if let Some(options) = &c.one_of
        && !values.iter().any(|v| options.contains(v))
    {
        return false;
    }
    true
}

fn conditions_hold(rule: &Rule, event: &EventView, facts: &Facts) -> bool {
    let fields_ok = rule.when_any.is_empty() || rule.when_any.iter().any(|c| condition_holds(c, event.payload));
    let facts_ok = rule.facts.iter().all(|f| match f {
        Fact::ActiveOrder => facts.active_order,
        Fact::InTreatment => facts.in_treatment,
    });
    fields_ok && facts_ok
}

/// The payload fields a rule keeps from the recipient.
pub fn withheld_fields(rule: &Rule, payload: &Json) -> Vec<String> {
    let Some(obj) = payload.as_object() else { return Vec::new() };
    obj.keys()
        .filter(|k| {
            rule.withhold.iter().any(|w| w == *k)
                || rule.only.as_ref().is_some_and(|only| !only.iter().any(|o| o == *k))
        })
        .cloned()
        .collect()
}

pub fn decide(rules: &[Rule], event: &EventView, recipient: &Recipient, facts: &Facts, today: NaiveDate) -> Decision {
    let candidates: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.valid_on(today))
        .filter(|r| r.owners.iter().any(|o| o.matches(event.source_agency, event.source_kind)))
        .filter(|r| r.recipients.iter().any(|p| p.matches(recipient.agency, recipient.kind)))
        .filter(|r| r.covers(event.event_type, event.data_class))
        .collect();
    if let Some(deny) = candidates.iter().find(|r| r.effect == Effect::Deny && conditions_hold(r, event, facts)) {
        return Decision::Withhold { reason: WithholdReason::Denied, agreement: Some(deny.id.clone()) };
    }
    let permits: Vec<&Rule> = candidates.into_iter().filter(|r| r.effect == Effect::Permit).collect();
    let Some(first) = permits.first() else {
        return Decision::Withhold { reason: WithholdReason::NoAgreement, agreement: None };
    };
    let holding: Vec<&Rule> = permits.iter().copied().filter(|r| conditions_hold(r, event, facts)).collect();
    let Some(first_holding) = holding.first() else {
        return Decision::Withhold { reason: WithholdReason::ConditionNotMet, agreement: Some(first.id.clone()) };
    };
    let scope = ConsentScope::for_kind(recipient.kind);
    let consented = |r: &&Rule| !r.consent || scope.is_some_and(|s| s.covered(facts));
    let granting: Vec<&Rule> = holding.iter().copied().filter(consented).collect();
    let Some(rule) = granting.first() else {
        return Decision::Withhold { reason: WithholdReason::NoConsent, agreement: Some(first_holding.id.clone()) };
    };
    let grant = Grant {
        agreement: rule.id.clone(),
        purpose: rule.purpose.clone(),
        legal_basis: rule.legal_basis.clone(),
        consent: if granting.iter().any(|r| r.consent) { scope } else { None },
    };
    // Where several agreements allow the update, every field any of them withholds stays back.
    let mut fields: Vec<String> = granting.iter().flat_map(|r| withheld_fields(r, event.payload)).collect();
    fields.sort();
    fields.dedup();
    if fields.is_empty() { Decision::Deliver(grant) } else { Decision::Redact { grant, fields } }
}

#[cfg(test)]
mod properties;
