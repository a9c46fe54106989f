//! `tracker person show`: one person as the hub knows them — every linked identifier, the
//! names and dates of birth seen, and the timeline of events from every agency.
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::identifiers::{Identifier, Scheme};

#[derive(Debug, Serialize)]
pub struct Person {
    pub subject_id: Uuid,
    pub identifiers: Vec<LinkedIdentifier>,
    pub details: Vec<SeenDetails>,
    pub timeline: Vec<TimelineEntry>,
}

pub use crate::store::people::{LinkedIdentifier, SeenDetails, TimelineEntry};

#[derive(Debug, thiserror::Error)]
pub enum PersonError {
    #[error("{0:?} is not SCHEME:VALUE (schemes: PNC, CRO, CRN, NOMS, TREATMENT, NHS)")]
    BadKey(String),
    #[error("{0}")]
    BadIdentifier(String),
    #[error("no person has {0}")]
    NotFound(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Parses `SCHEME:VALUE` into a checked identifier.
pub fn parse_key(key: &str) -> Result<Identifier, PersonError> {
    let (scheme, value) = key.split_once(':').ok_or_else(|| PersonError::BadKey(key.into()))?;
    let scheme = Scheme::parse(scheme).ok_or_else(|| PersonError::BadKey(key.into()))?;
    Identifier::parse(scheme, value).map_err(|e| PersonError::BadIdentifier(e.to_string()))
}

/// The person with `key`, their look logged in the consultation log (`tracker person show`).
pub async fn show(
    pool: &PgPool,
    key: &Identifier,
    looker: &crate::consultations::Looker<'_>,
) -> Result<Person, PersonError> {
    let person = load(pool, key).await?;
    crate::consultations::record_look(pool, looker, Some(person.subject_id), "person show").await?;
    Ok(person)
}

/// The person with `key`: identifiers, details, timeline (unlogged: callers that show it to
/// someone log the look, as [`show`] and the subject-access export do).
pub async fn load(pool: &PgPool, key: &Identifier) -> Result<Person, PersonError> {
    let subject_id = crate::store::subjects::find(pool, key.scheme().as_str(), key.value())
        .await?
        .ok_or_else(|| PersonError::NotFound(key.to_string()))?;
    let identifiers = crate::store::people::identifiers(pool, subject_id).await?;
    let details = crate::store::people::details(pool, subject_id).await?;
    let timeline = crate::store::people::timeline(pool, subject_id).await?;
    Ok(Person { subject_id, identifiers, details, timeline })
}

/// A one-line summary of an event's payload for the timeline table.
fn summary(event_type: &str, p: &serde_json::Value) -> String {
    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match event_type {
        "Arrested" | "DrugTestOnArrest" | "Charged" => {
            let mut parts = vec![s("station"), s("offence_code")];
            if event_type == "DrugTestOnArrest" {
                parts.push(format!("opiates {} cocaine {}", s("opiates"), s("cocaine")));
            }
            if !s("next_court").is_empty() {
                parts.push(format!("to {} on {}", s("next_court"), s("next_court_date")));
            }
            parts.retain(|x| !x.is_empty());
            parts.join(" ")
        }
        "BailDecision" | "WarrantExecuted" => {
            format!("{} to {} on {}", s("bail_status"), s("next_court"), s("next_court_date"))
        }
        "HearingResulted" => {
            format!("{} {} {} {}", s("court"), s("hearing_type"), s("outcome"), s("next_hearing_date"))
        }
        "OrderMade" => format!(
            "{} {} {}",
            s("court"),
            s("order_type"),
            p.get("length_months").map(|v| v.to_string()).unwrap_or_default()
        ),
        "WarrantIssued" => format!("{} {} {}", s("court"), s("warrant_type"), s("reason")),
        "SupervisionStarted" => format!("order {} {} at {}", s("order_id"), s("order_type"), s("court")),
        "AppointmentOutcome" => format!("{} {} {}", s("appointment_type"), s("appointment_date"), s("outcome_code")),
        "BreachInitiated" => format!("order {} to {}", s("order_id"), s("court")),
        "PreSentenceReport" => format!("{} for {}", s("status"), s("court")),
        "RiskRegistration" => format!("{} {}", s("action"), s("register_type")),
        "DrugTestResult" => format!(
            "opiates {} cocaine {} amphetamine {} cannabis {} benzodiazepines {}",
            s("opiates"),
            s("cocaine"),
            s("amphetamine"),
            s("cannabis"),
            s("benzodiazepines")
        ),
        "TreatmentEpisode" => format!("{} {}", s("episode_event"), s("event_date")),
        "ConsentChanged" => {
            format!("{} {} from {} to {}", s("decision"), s("scope"), s("effective_date"), s("expiry_date"))
        }
        _ => String::new(),
    }
}

pub fn render_table(p: &Person) -> String {
    let mut out = format!("Subject {}\n\nIdentifiers:\n", p.subject_id);
    for i in &p.identifiers {
        out.push_str(&format!("  {:<10} {:<16} (first from {})\n", i.scheme, i.value, i.source_agency));
    }
    out.push_str("\nNames and dates of birth seen:\n");
    for d in &p.details {
        let dob = d.date_of_birth.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        out.push_str(&format!("  {:<28} {:<10}  ({})\n", d.name, dob, d.source_agency));
    }
    out.push_str(&format!("\nTimeline ({} events):\n", p.timeline.len()));
    for e in &p.timeline {
        out.push_str(&format!(
            "  {}  {:<14} {:<24} {}\n",
            e.occurred_at.format("%Y-%m-%d %H:%M"),
            e.agency,
            e.event_type,
            summary(&e.event_type, &e.payload).trim()
        ));
    }
    out
}
