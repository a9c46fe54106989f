//! The subject-access page as its reader needs it: their name and date of birth first, each
//! record as one line in words with its details labelled (codes in words, dates as people write
//! them, agencies by name), every sharing decision in words, and what the remaining terms mean.
//! Built here as plain data; `templates/subject_access.html` lays it out.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value as Json;

use crate::person::Person;
use crate::settings::Settings;
use crate::store::consents::ConsentRow;
use crate::store::disclosure_log::Disclosure;
use crate::words::{headline, in_words, pretty_date, reason_in_words};

#[derive(Serialize)]
pub struct View {
    person: Who,
    produced_at: String,
    requested_by: String,
    json_file: Option<String>,
    identifiers: Vec<IdentifierLine>,
    records: Vec<Record>,
    consents: Vec<ConsentLine>,
    disclosures: Vec<DisclosureLine>,
    glossary: Vec<Term>,
}

#[derive(Serialize)]
struct Who {
    name: Option<String>,
    date_of_birth: Option<String>,
    /// Other names or dates of birth seen, with who recorded them.
    other_names: Vec<NameLine>,
}

#[derive(Serialize)]
struct NameLine {
    name: String,
    date_of_birth: Option<String>,
    agency: String,
}

#[derive(Serialize)]
struct IdentifierLine {
    value: String,
    meaning: String,
    agency: String,
}

#[derive(Serialize)]
struct Record {
    headline: String,
    when: String,
    agency: String,
    details: Vec<Detail>,
}

#[derive(Serialize)]
struct Detail {
    label: String,
    value: String,
}

#[derive(Serialize)]
struct ConsentLine {
    agency: String,
    decision: String,
    scope: String,
    from: String,
    until: String,
}

#[derive(Serialize)]
struct DisclosureLine {
    when: String,
    to: String,
    about: String,
    decision: String,
    shared: bool,
    why: String,
}

#[derive(Serialize)]
struct Term {
    term: String,
    meaning: String,
}

impl View {
    pub fn new(
        settings: &Settings,
        person: &Person,
        consents: &[ConsentRow],
        disclosures: &[Disclosure],
        doc: &Json,
        json_file: &Path,
    ) -> View {
        let agency = |id: &str| settings.agency(id).map(|a| a.name.clone()).unwrap_or_else(|| id.to_string());
        let mut names = person.details.iter().map(|d| NameLine {
            name: d.name.clone(),
            date_of_birth: d.date_of_birth.map(|b| b.format("%-d %B %Y").to_string()),
            agency: agency(&d.source_agency),
        });
        let first = names.next();
        // The same name in other capitals (CHLOË BRENNAN) is not another name.
        let same = |a: &NameLine, b: &NameLine| {
            a.name.to_lowercase() == b.name.to_lowercase() && a.date_of_birth == b.date_of_birth
        };
        let mut other_names: Vec<NameLine> = Vec::new();
        for n in names {
            if !first.as_ref().is_some_and(|f| same(f, &n)) && !other_names.iter().any(|o| same(o, &n)) {
                other_names.push(n);
            }
        }
        let records = person
            .timeline
            .iter()
            .map(|e| {
                let fields: BTreeMap<String, Json> =
                    e.payload.as_object().map(|o| o.clone().into_iter().collect()).unwrap_or_default();
                Record {
                    headline: headline(&e.event_type, &fields),
                    when: e.occurred_at.format("%-d %B %Y, %H:%M UTC").to_string(),
                    agency: agency(&e.agency),
                    details: fields
                        .iter()
                        .map(|(k, v)| Detail { label: label(k), value: value_in_words(k, v) })
                        .filter(|d| !d.value.is_empty())
                        .collect(),
                }
            })
            .collect();
        View {
            produced_at: doc["subject_access_export"]["produced_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.format("%-d %B %Y at %H:%M UTC").to_string())
                .unwrap_or_default(),
            requested_by: doc["subject_access_export"]["requested_by"].as_str().unwrap_or_default().to_string(),
            json_file: json_file.file_name().map(|f| f.to_string_lossy().into_owned()),
            identifiers: person
                .identifiers
                .iter()
                .map(|i| IdentifierLine {
                    value: i.value.clone(),
                    meaning: scheme_in_words(&i.scheme).to_string(),
                    agency: agency(&i.source_agency),
                })
                .collect(),
            records,
            consents: consents
                .iter()
                .map(|c| ConsentLine {
                    agency: agency(&c.source),
                    decision: match c.decision.as_str() {
                        "granted" | "grant" | "given" => "you agreed".into(),
                        "withdrawn" | "withdraw" => "you withdrew your agreement".into(),
                        other => other.replace('_', " "),
                    },
                    scope: c.scope.replace(['_', '-'], " "),
                    from: c.effective_date.map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_default(),
                    until: c.expiry_date.map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_else(|| "—".into()),
                })
                .collect(),
            disclosures: disclosures
                .iter()
                .map(|d| {
                    let (decision, shared) = decision_in_words(d);
                    DisclosureLine {
                        when: d.logged_at.format("%-d %B %Y, %H:%M UTC").to_string(),
                        to: agency(&d.recipient),
                        about: event_in_words(&d.event_type),
                        decision,
                        shared,
                        why: match (&d.purpose, &d.reason) {
                            (Some(purpose), _) if shared => format!("for {purpose}"),
                            (_, Some(reason)) => reason_in_words(reason),
                            (Some(purpose), None) => format!("for {purpose}"),
                            (None, None) => String::new(),
                        },
                    }
                })
                .collect(),
            glossary: glossary(),
            person: Who {
                name: first.as_ref().map(|f| f.name.clone()),
                date_of_birth: first.and_then(|f| f.date_of_birth),
                other_names,
            },
        }
    }
}

/// A field name as a label: `next_court_date` as "Next court date", abbreviations spelt out.
fn label(field: &str) -> String {
    let spelt = match field {
        "asn" => "arrest summons number",
        "custody_ref" => "custody record number",
        "officer_ref" => "officer's number",
        "case_urn" => "case reference",
        "crn" => "probation case reference",
        "pnc" => "Police National Computer number",
        "rar_days" => "rehabilitation activity days",
        _ => "",
    };
    let words = if spelt.is_empty() { field.replace('_', " ") } else { spelt.to_string() };
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A field's value in words: codes the summary knows, dates written out, yes/no, and lists or
/// groups of values as short lines rather than JSON.
fn value_in_words(field: &str, value: &Json) -> String {
    match value {
        Json::String(s) => in_words(field, s),
        Json::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Json::Number(n) => n.to_string(),
        Json::Null => String::new(),
        Json::Array(items) => items.iter().map(|i| value_in_words(field, i)).collect::<Vec<_>>().join("; "),
        Json::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{} {}", label(k).to_lowercase(), value_in_words(k, v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// What kind of update a disclosure was about, in words.
fn event_in_words(event_type: &str) -> String {
    let words = match event_type {
        "Arrested" => "an arrest",
        "Charged" => "a charge",
        "BailDecision" => "a bail decision",
        "ReleasedNoFurtherAction" => "a release without further action",
        "PreSentenceReport" => "a pre-sentence report",
        "HearingResulted" => "a court hearing's result",
        "OrderMade" => "a court order",
        "OrderTerminated" => "the end of an order",
        "SupervisionStarted" => "the start of probation supervision",
        "AppointmentOutcome" => "a probation appointment",
        "BreachInitiated" => "breach proceedings",
        "WarrantIssued" => "a warrant",
        "WarrantExecuted" => "an arrest on a warrant",
        "DrugTestOnArrest" | "DrugTestResult" => "a drug test",
        "TreatmentEpisode" => "drug treatment",
        "RiskRegistration" => "a risk register entry",
        other => return pretty_date(other).unwrap_or_else(|| other.to_string()),
    };
    words.to_string()
}

/// A sharing decision in words, and whether anything was shared.
fn decision_in_words(d: &Disclosure) -> (String, bool) {
    let (words, shared) = match d.decision.as_str() {
        "deliver" => ("shared", true),
        "redact" => ("shared, with some details left out", true),
        "withhold" => ("not shared", false),
        other => return (other.replace('_', " "), false),
    };
    let when = match d.stage.as_str() {
        "decided" => "",
        "published" => " (checked again when sending)",
        "recalled" => " (then recalled: the agency was told to delete it)",
        "erased" => " (then erased: the agency was told to delete it)",
        _ => " (decided again)",
    };
    let withheld = if d.fields_withheld.is_empty() {
        String::new()
    } else {
        format!(
            ": left out {}",
            d.fields_withheld.iter().map(|f| label(f).to_lowercase()).collect::<Vec<_>>().join(", ")
        )
    };
    (format!("{words}{when}{withheld}"), shared)
}

/// What an identifier scheme is.
fn scheme_in_words(scheme: &str) -> &'static str {
    match scheme {
        "PNC" => "Police National Computer number",
        "CRO" => "Criminal Records Office number",
        "CRN" => "probation case reference number",
        "NOMS" => "prison number",
        "TREATMENT" => "your treatment provider's reference",
        "NHS" => "NHS number",
        _ => "a reference number",
    }
}

/// The terms the page still uses, explained.
fn glossary() -> Vec<Term> {
    [
        ("Agency", "A police force, court, probation service or treatment provider that shares information through the hub."),
        (
            "Shared, with some details left out",
            "The agency was sent the record without the details named, because the agreement between the agencies does not allow them.",
        ),
        (
            "Not shared",
            "The agency was not sent the record: no agreement allowed it, or it needed your consent and you had not given it.",
        ),
        ("Offence code", "The Home Office code for an offence, as the police and courts record it."),
        (
            "Consent",
            "Information about drug or alcohol treatment is shared only while you agree to it; you can withdraw your agreement.",
        ),
        (
            "Pre-sentence report",
            "A report the probation service writes for a court before it decides a sentence.",
        ),
    ]
    .into_iter()
    .map(|(term, meaning)| Term { term: term.into(), meaning: meaning.into() })
    .collect()
}
