//! Plain words for what the feeds send in codes: one line describing each kind of update, codes
//! (bail status, treatment modality, test results, reasons for withholding) in words, dates as
//! people write them, and field names as labels. Shared by the court's bench summary and the
//! subject-access page (whose reader is the person themselves, not a lawyer). Pure.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value as Json;

/// A field of an update's details, as text.
pub fn text<'a>(details: &'a BTreeMap<String, Json>, field: &str) -> Option<&'a str> {
    details.get(field).and_then(Json::as_str)
}

/// A test result as the feeds code it (police POS/NEG/NT, treatment P/N/X), in words; `None`
/// for not tested.
pub fn result_in_words(code: &str) -> Option<&'static str> {
    match code {
        "POS" | "P" => Some("positive"),
        "NEG" | "N" => Some("negative"),
        _ => None,
    }
}

/// A feed's code in words, where the summary knows it; otherwise the code as sent.
pub fn in_words(field: &str, code: &str) -> String {
    if let Some(words) = code_in_words(field, code) {
        return words.to_string();
    }
    let words = match (field, code) {
        ("episode_event", "REF") => "referred",
        ("episode_event", "TRI") => "triage",
        ("episode_event", "STA") => "treatment started",
        ("episode_event", "DIS") => "discharged",
        ("modality", "PHA") => "pharmacological",
        ("modality", "PSY") => "psychosocial",
        ("modality", "RES") => "residential",
        ("bail_status" | "remand", "UB") => "unconditional bail",
        ("bail_status" | "remand", "CB") => "conditional bail",
        ("bail_status" | "remand", "RIC") => "remanded in custody",
        _ => return pretty_date(code).unwrap_or_else(|| code.to_string()),
    };
    words.to_string()
}

/// 2026-11-03 as 03 Nov 2026.
pub fn pretty_date(text: &str) -> Option<String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.format("%d %b %Y").to_string())
}

/// One line per update, from the fields the court has (a withheld field is simply absent).
pub fn headline(event_type: &str, d: &BTreeMap<String, Json>) -> String {
    let t = |f: &str| text(d, f).map(|v| in_words(f, v)).unwrap_or_else(|| "?".to_string());
    let opt = |f: &str, before: &str| text(d, f).map(|v| format!("{before}{}", in_words(f, v))).unwrap_or_default();
    match event_type {
        "Arrested" => format!("Arrested{}{}", opt("station", " at "), opt("offence_code", " for ")),
        "Charged" => format!("Charged{}{}", opt("offence_code", " with "), opt("next_court_date", "; to appear ")),
        "BailDecision" => format!("Bail: {}{}", t("bail_status"), opt("next_court_date", "; next court ")),
        "ReleasedNoFurtherAction" => "Released, no further action".to_string(),
        "PreSentenceReport" => format!("Pre-sentence report {}", t("status")),
        "HearingResulted" => {
            let offences = d.get("offences").and_then(Json::as_array).map(|o| {
                o.iter()
                    .map(|o| {
                        format!(
                            "{}{}{}",
                            o["code"].as_str().unwrap_or("?"),
                            o["plea"].as_str().map(|p| format!(" plea {p}")).unwrap_or_default(),
                            o["verdict"].as_str().map(|v| format!(" verdict {v}")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            format!(
                "{} hearing{}: {}{}{}{}",
                t("hearing_type"),
                opt("court", " at "),
                t("outcome"),
                offences.map(|o| format!(" ({o})")).unwrap_or_default(),
                opt("remand", "; remand "),
                opt("next_hearing_date", "; next hearing ")
            )
        }
        "OrderMade" => format!(
            "Order made: {}{}",
            t("order_type"),
            d.get("length_months").map(|m| format!(", {m} months")).unwrap_or_default()
        ),
        "OrderTerminated" => format!("Order ended{}", opt("reason", ": ")),
        "SupervisionStarted" => format!("Supervision started: {}{}", t("order_type"), opt("team", ", team ")),
        "AppointmentOutcome" => {
            let kept = d.get("attended").and_then(Json::as_bool) == Some(true)
                && d.get("complied").and_then(Json::as_bool) != Some(false);
            format!(
                "Appointment{}{}: {}",
                opt("appointment_type", " "),
                opt("appointment_date", " on "),
                if kept { "kept" } else { "missed or not complied" }
            )
        }
        "BreachInitiated" => format!("Breach proceedings{}{}", opt("court", " at "), opt("reason", ": ")),
        "WarrantIssued" => format!("Warrant issued{}{}", opt("warrant_type", " "), opt("reason", ": ")),
        "WarrantExecuted" => "Warrant executed (arrested on warrant)".to_string(),
        "DrugTestOnArrest" | "DrugTestResult" => {
            let results: Vec<String> = ["opiates", "cocaine", "amphetamine", "cannabis", "benzodiazepines"]
                .iter()
                .filter_map(|s| Some(format!("{s} {}", result_in_words(text(d, s)?)?)))
                .collect();
            format!("Drug test: {}", if results.is_empty() { "results not shared".into() } else { results.join(", ") })
        }
        "TreatmentEpisode" => format!("Treatment: {}{}", t("episode_event"), opt("modality", ", ")),
        "RiskRegistration" => format!("Risk register: {} {}", t("action"), t("register_type")),
        other => other.to_string(),
    }
}

/// Why an update was withheld, in words.
pub fn reason_in_words(code: &str) -> String {
    match code {
        "no_consent" => "no consent".into(),
        "no_agreement" => "no agreement covers it".into(),
        "condition_not_met" => "the agreement's condition does not hold".into(),
        "denied" => "an agreement's rule denies it".into(),
        "wrong_person" => "it belonged to another person".into(),
        "" => "withheld".into(),
        other => other.replace('_', " "),
    }
}

/// Codes the person would otherwise have to look up: sex, ethnicity (the police's 2011 census
/// categories), drug test results, pleas, verdicts.
fn code_in_words(field: &str, code: &str) -> Option<&'static str> {
    let words = match (field, code) {
        ("sex", "F") => "female",
        ("sex", "M") => "male",
        ("sex", "X" | "U") => "not stated",
        ("opiates" | "cocaine" | "amphetamine" | "cannabis" | "benzodiazepines", c) => {
            return result_in_words(c).or(Some("not tested"));
        }
        ("plea", "G") => "guilty",
        ("plea", "NG") => "not guilty",
        ("verdict", "G") => "guilty",
        ("verdict", "NG") => "not guilty",
        ("ethnicity", c) => match c {
            "W1" => "White – English, Welsh, Scottish, Northern Irish or British",
            "W2" => "White – Irish",
            "W3" => "White – any other White background",
            "W9" => "White – Gypsy or Irish Traveller",
            "M1" => "Mixed – White and Black Caribbean",
            "M2" => "Mixed – White and Black African",
            "M3" => "Mixed – White and Asian",
            "M9" => "Mixed – any other mixed background",
            "A1" => "Asian – Indian",
            "A2" => "Asian – Pakistani",
            "A3" => "Asian – Bangladeshi",
            "A4" => "Asian – Chinese",
            "A9" => "Asian – any other Asian background",
            "B1" => "Black – Caribbean",
            "B2" => "Black – African",
            "B9" => "Black – any other Black background",
            "O2" => "Arab",
            "O9" => "any other ethnic group",
            "NS" => "not stated",
            _ => return None,
        },
        _ => return None,
    };
    Some(words)
}
