//! The bench summary of one person, built from what one court has (`store::court`): the case
//! before the court, the record, orders and compliance, needs and treatment — each item with the
//! agency it came from and when, what the court's copy left out, and whether it came as history
//! catch-up. Pure: the same records give the same summary.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::domain::identifiers::Scheme;
use crate::settings::AgencyKind;
use crate::sharing::copy::identifier_visible;
use crate::store::court::SeenRecord;
use crate::words::{headline, reason_in_words, result_in_words, text};

/// The four parts, in the order a bench reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Charges, pleas, bail and remand: custody, charge, bail, pre-sentence reports, hearings of
    /// a case not yet sentenced.
    Case,
    /// Previous outcomes and orders: hearings that sentenced, orders made and ended.
    Record,
    /// Supervision, requirements, appointments kept and missed, breaches, warrants, reviews.
    Orders,
    /// Drug tests, treatment episodes, risk registrations.
    Needs,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Case, Part::Record, Part::Orders, Part::Needs];

    pub fn title(self) -> &'static str {
        match self {
            Part::Case => "The case before the court",
            Part::Record => "The record",
            Part::Orders => "Orders and compliance",
            Part::Needs => "Needs and treatment",
        }
    }

    /// The part an update belongs in (`None`: not shown, e.g. consent records).
    fn of(event_type: &str, payload: &Json) -> Option<Part> {
        let outcome = payload.get("outcome").and_then(Json::as_str).unwrap_or_default();
        Some(match event_type {
            "Arrested" | "Charged" | "BailDecision" | "ReleasedNoFurtherAction" | "PreSentenceReport" => Part::Case,
            "HearingResulted" if payload.get("review_outcome").is_some_and(|r| !r.is_null()) => Part::Orders,
            "HearingResulted" if outcome.eq_ignore_ascii_case("sentenced") => Part::Record,
            "HearingResulted" => Part::Case,
            "OrderMade" | "OrderTerminated" => Part::Record,
            "SupervisionStarted" | "AppointmentOutcome" | "BreachInitiated" | "WarrantIssued" | "WarrantExecuted" => {
                Part::Orders
            }
            "DrugTestOnArrest" | "DrugTestResult" | "TreatmentEpisode" | "RiskRegistration" => Part::Needs,
            _ => return None,
        })
    }
}

/// One update as the bench sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub event_id: Uuid,
    pub event_type: String,
    /// The agency it came from (the court itself for its own records).
    pub source: String,
    /// That agency's name, as configured (`name_sources`).
    pub source_name: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// One line a bench can read.
    pub headline: String,
    /// The fields the court has, as sent.
    pub details: BTreeMap<String, Json>,
    /// Fields this court's copy left out (named, never shown).
    pub withheld_fields: Vec<String>,
    /// Sent as history catch-up (it happened before the court became involved).
    pub catch_up: bool,
    /// The court's own record.
    pub own: bool,
}

/// Updates that exist but were withheld from this court, and why (never what they hold).
#[derive(Debug, Clone, Serialize)]
pub struct Withheld {
    pub part: Part,
    /// What was withheld, in words ("drug test results").
    pub what: String,
    pub count: i64,
    /// Why, in words ("no consent").
    pub reason: String,
}

/// Appointments kept and missed under the orders the court can see.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Compliance {
    pub appointments: usize,
    pub kept: usize,
    pub missed: usize,
    /// Kept as a share of appointments, in per cent (none without appointments).
    pub rate_percent: Option<u32>,
    pub breaches: usize,
    pub warrants_issued: usize,
    pub warrants_executed: usize,
}

/// A drug test in the journal.
#[derive(Debug, Clone, Serialize)]
pub struct DrugTest {
    pub date: NaiveDate,
    pub source: String,
    /// Substance → result as sent (e.g. "opiates" → "POS").
    pub results: BTreeMap<String, String>,
    pub positive: bool,
}

/// The bench summary.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSummary {
    pub court: String,
    pub subject_id: Uuid,
    pub name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// Identifiers a court may see (PNC, CRO, CRN, NOMS).
    pub identifiers: Vec<(String, String)>,
    pub parts: BTreeMap<Part, Vec<Item>>,
    pub withheld: Vec<Withheld>,
    pub compliance: Compliance,
    pub drug_tests: Vec<DrugTest>,
    /// At a glance.
    pub flags: Vec<String>,
    pub as_of: DateTime<Utc>,
}

/// Builds the summary from the court's records (in event time) and its withholdings
/// (event type, data class, reason code, count).
pub fn build(
    court: &str,
    subject_id: Uuid,
    seen: Vec<SeenRecord>,
    withheld: &[(Uuid, String, String, String, i64)],
    as_of: DateTime<Utc>,
) -> BenchSummary {
    let mut parts: BTreeMap<Part, Vec<Item>> = Part::ALL.iter().map(|p| (*p, Vec::new())).collect();
    let (mut name, mut date_of_birth) = (None, None);
    let mut identifiers: Vec<(String, String)> = Vec::new();
    let mut compliance = Compliance::default();
    let mut drug_tests = Vec::new();
    for r in seen {
        if r.person_name.is_some() {
            name = r.person_name.clone();
        }
        if r.date_of_birth.is_some() {
            date_of_birth = r.date_of_birth;
        }
        for id in r.identifiers.as_array().into_iter().flatten() {
            let (Some(scheme), Some(value)) = (id["scheme"].as_str(), id["value"].as_str()) else { continue };
            let visible = Scheme::parse(scheme).is_some_and(|s| identifier_visible(s, AgencyKind::Court, "court"));
            let pair = (scheme.to_string(), value.to_string());
            if visible && !identifiers.contains(&pair) {
                identifiers.push(pair);
            }
        }
        let mut details: BTreeMap<String, Json> =
            r.payload.as_object().cloned().unwrap_or_default().into_iter().collect();
        for f in &r.withheld_fields {
            details.remove(f);
        }
        details.retain(|_, v| !v.is_null());
        let Some(part) = Part::of(&r.event_type, &r.payload) else { continue };
        count_compliance(&mut compliance, &r.event_type, &details);
        if let Some(test) = drug_test(&r, &details) {
            drug_tests.push(test);
        }
        let headline = headline(&r.event_type, &details);
        parts.entry(part).or_default().push(Item {
            event_id: r.event_id,
            event_type: r.event_type,
            source_name: r.agency.clone(),
            source: r.agency,
            occurred_at: r.occurred_at,
            recorded_at: r.recorded_at,
            headline,
            details,
            withheld_fields: r.withheld_fields,
            catch_up: r.catch_up,
            own: r.own,
        });
    }
    compliance.rate_percent = (compliance.appointments > 0)
        .then(|| ((compliance.kept * 100 + compliance.appointments / 2) / compliance.appointments) as u32);
    // Only what a summary would show (not, say, consent records themselves), one line per kind
    // of thing and reason.
    let mut grouped: BTreeMap<(Part, String, String), i64> = BTreeMap::new();
    for (_, event_type, data_class, reason, count) in withheld.iter().filter(|w| w.0 == subject_id) {
        if let Some(part) = Part::of(event_type, &Json::Null) {
            *grouped.entry((part, describe_withheld(event_type, data_class), reason_in_words(reason))).or_default() +=
                count;
        }
    }
    let withheld: Vec<Withheld> =
        grouped.into_iter().map(|((part, what, reason), count)| Withheld { part, what, count, reason }).collect();
    let flags = flags(&parts, &compliance, &drug_tests, &withheld);
    BenchSummary {
        court: court.to_string(),
        subject_id,
        name,
        date_of_birth,
        identifiers,
        parts,
        withheld,
        compliance,
        drug_tests,
        flags,
        as_of,
    }
}

impl BenchSummary {
    /// Names each item's source agency with `name_of` (the configured agency names).
    pub fn name_sources(&mut self, name_of: impl Fn(&str) -> Option<String>) {
        for item in self.parts.values_mut().flatten() {
            if let Some(name) = name_of(&item.source) {
                item.source_name = name;
            }
        }
    }
}

fn count_compliance(c: &mut Compliance, event_type: &str, details: &BTreeMap<String, Json>) {
    match event_type {
        "AppointmentOutcome" => {
            c.appointments += 1;
            // Kept: attended and complied (an acceptable absence counts as neither kept nor a
            // failure in the probation feed; it is shown, not counted as missed).
            let attended = details.get("attended").and_then(Json::as_bool);
            let complied = details.get("complied").and_then(Json::as_bool);
            match (attended, complied) {
                (Some(true), Some(false)) | (Some(false), _) => c.missed += 1,
                (Some(true), _) => c.kept += 1,
                _ => {}
            }
        }
        "BreachInitiated" => c.breaches += 1,
        "WarrantIssued" => c.warrants_issued += 1,
        "WarrantExecuted" => c.warrants_executed += 1,
        _ => {}
    }
}

fn drug_test(r: &SeenRecord, details: &BTreeMap<String, Json>) -> Option<DrugTest> {
    if r.event_type != "DrugTestOnArrest" && r.event_type != "DrugTestResult" {
        return None;
    }
    let substances = ["opiates", "cocaine", "amphetamine", "cannabis", "benzodiazepines"];
    let results: BTreeMap<String, String> =
        substances.iter().filter_map(|s| Some((s.to_string(), text(details, s)?.to_string()))).collect();
    let positive = results.values().any(|v| result_in_words(v) == Some("positive"));
    Some(DrugTest { date: r.occurred_at.date_naive(), source: r.agency.clone(), results, positive })
}

fn describe_withheld(event_type: &str, data_class: &str) -> String {
    match (event_type, data_class) {
        (_, "health") => "treatment details".to_string(),
        (t, _) => format!("{t} updates"),
    }
}

fn flags(
    parts: &BTreeMap<Part, Vec<Item>>,
    compliance: &Compliance,
    tests: &[DrugTest],
    withheld: &[Withheld],
) -> Vec<String> {
    let mut flags = Vec::new();
    if compliance.warrants_issued > compliance.warrants_executed {
        flags.push("outstanding warrant".to_string());
    }
    if compliance.breaches > 0 {
        flags.push("breach proceedings".to_string());
    }
    let all = || parts.values().flatten();
    // Supervised orders (a community or suspended sentence order), as sharing counts them.
    let supervised = |i: &&Item| match i.event_type.as_str() {
        "SupervisionStarted" => true,
        "OrderMade" => matches!(i.details.get("order_type").and_then(Json::as_str), Some("CO" | "SSO")),
        _ => false,
    };
    let started = all().filter(supervised).map(|i| i.occurred_at).max();
    let ended = all().filter(|i| i.event_type == "OrderTerminated").map(|i| i.occurred_at).max();
    if started.is_some_and(|s| ended.is_none_or(|e| s > e)) {
        flags.push("on an order".to_string());
    }
    let last_hearing = all().filter(|i| i.event_type == "HearingResulted").map(|i| i.occurred_at.date_naive()).max();
    let positives = tests.iter().filter(|t| t.positive && last_hearing.is_none_or(|h| t.date > h)).count();
    if positives > 0 {
        flags.push(format!("{positives} positive drug test(s) since the last hearing"));
    }
    if withheld.iter().any(|w| w.reason == "no consent") {
        flags.push("consent-limited: some health data withheld".to_string());
    }
    flags
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn seen(event_type: &str, day: u32, agency: &str, payload: Json, withheld: &[&str]) -> SeenRecord {
        SeenRecord {
            event_id: Uuid::new_v4(),
            subject_id: Uuid::nil(),
            event_type: event_type.into(),
            data_class: "x".into(),
            agency: agency.into(),
            occurred_at: format!("2026-11-{day:02}T10:00:00Z").parse().unwrap(),
            recorded_at: format!("2026-11-{day:02}T11:00:00Z").parse().unwrap(),
            person_name: Some("A Person".into()),
            date_of_birth: None,
            identifiers: json!([{"scheme": "PNC", "value": "2019/0012345G"}, {"scheme": "TRK", "value": "T1"}]),
            payload,
            withheld_fields: withheld.iter().map(|f| f.to_string()).collect(),
            catch_up: false,
            own: agency == "court-b05lv00",
        }
    }

    #[test]
    fn parts_compliance_flags_and_withholdings_come_from_what_the_court_has() {
        let rows = vec![
            seen("Arrested", 1, "police-05", json!({"station": "05CL", "address": "1 Road"}), &["address"]),
            seen("HearingResulted", 3, "court-b05lv00", json!({"outcome": "adjourned", "hearing_type": "FIRST"}), &[]),
            seen(
                "HearingResulted",
                17,
                "court-b05lv00",
                json!({"outcome": "sentenced", "hearing_type": "SENTENCE"}),
                &[],
            ),
            seen("OrderMade", 17, "court-b05lv00", json!({"order_type": "CO", "length_months": 12}), &[]),
            seen("AppointmentOutcome", 19, "probation", json!({"attended": true, "complied": true}), &[]),
            seen("AppointmentOutcome", 20, "probation", json!({"attended": true, "complied": true}), &[]),
            seen("AppointmentOutcome", 24, "probation", json!({"attended": false}), &[]),
            seen("DrugTestResult", 20, "treatment", json!({"opiates": "P", "cocaine": "N", "cannabis": "X"}), &[]),
            seen("ConsentChanged", 18, "treatment", json!({"decision": "G"}), &[]),
        ];
        let withheld = vec![
            (Uuid::nil(), "DrugTestResult".to_string(), "health".to_string(), "no_consent".to_string(), 2),
            (Uuid::nil(), "TreatmentEpisode".to_string(), "health".to_string(), "no_consent".to_string(), 1),
            (Uuid::nil(), "ConsentChanged".to_string(), "health".to_string(), "no_agreement".to_string(), 1),
            (Uuid::max(), "DrugTestResult".to_string(), "health".to_string(), "no_consent".to_string(), 5),
        ];
        let s = build("court-b05lv00", Uuid::nil(), rows, &withheld, "2026-11-28T00:00:00Z".parse().unwrap());
        let kinds = |p: Part| s.parts[&p].iter().map(|i| i.event_type.as_str()).collect::<Vec<_>>();
        assert_eq!(kinds(Part::Case), ["Arrested", "HearingResulted"]);
        assert_eq!(kinds(Part::Record), ["HearingResulted", "OrderMade"]);
        assert_eq!(kinds(Part::Orders), ["AppointmentOutcome"; 3]);
        assert_eq!(kinds(Part::Needs), ["DrugTestResult"]);
        // A withheld field is named, never shown; a treatment id never reaches a court's page.
        let arrest = &s.parts[&Part::Case][0];
        assert!(!arrest.details.contains_key("address") && arrest.withheld_fields == ["address"]);
        assert_eq!(s.identifiers, [("PNC".to_string(), "2019/0012345G".to_string())]);
        assert_eq!((s.compliance.appointments, s.compliance.kept, s.compliance.missed), (3, 2, 1));
        assert_eq!(s.compliance.rate_percent, Some(67));
        assert_eq!(s.drug_tests.len(), 1);
        assert!(s.drug_tests[0].positive);
        assert_eq!(s.parts[&Part::Needs][0].headline, "Drug test: opiates positive, cocaine negative");
        // One line per kind and reason; consent records themselves are not a summary's business.
        assert_eq!(s.withheld.len(), 1, "{:?}", s.withheld);
        assert_eq!((s.withheld[0].what.as_str(), s.withheld[0].count), ("treatment details", 3));
        assert_eq!(
            s.flags,
            [
                "on an order",
                "1 positive drug test(s) since the last hearing",
                "consent-limited: some health data withheld"
            ]
        );
    }
}
