//! A recipient's copy of an update: the stored record with the decision's fields withheld
//! (listed in `redacted`), only the identifiers that recipient may see, the subject id, and the
//! disclosure it rests on.
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::decide::Grant;
use crate::domain::identifiers::Scheme;
use crate::settings::AgencyKind;

/// Whether a recipient of `kind` may see an identifier of `scheme` on an update of `data_class`.
/// PNC and CRO go to everyone; CRN and NOMS to police, courts and probation; treatment ids and
/// NHS numbers only to treatment, and to others only on health updates they are entitled to (a
/// police copy must never reveal that a person is in treatment).
pub fn identifier_visible(scheme: Scheme, kind: AgencyKind, data_class: &str) -> bool {
    match scheme {
        Scheme::Pnc | Scheme::Cro => true,
        Scheme::Crn | Scheme::Noms => kind != AgencyKind::Treatment,
        Scheme::TreatmentClient | Scheme::Nhs => kind == AgencyKind::Treatment || data_class == "health",
    }
}

pub struct CopyFor<'a> {
    pub recipient: &'a str,
    pub kind: AgencyKind,
    pub subject_id: Option<Uuid>,
    pub grant: &'a Grant,
    pub withheld: &'a [String],
    pub catch_up: bool,
}

/// Builds the recipient's copy from the stored update (JSON shape).
pub fn recipient_copy(stored: &Json, c: &CopyFor) -> Json {
    let mut update = stored.clone();
    let data_class = stored["data_class"].as_str().unwrap_or_default().to_string();
    if let Some(payload) = update.get_mut("payload").and_then(Json::as_object_mut) {
        for f in c.withheld {
            payload.insert(f.clone(), Json::Null);
        }
    }
    if let Some(subject) = update.get_mut("subject").and_then(Json::as_object_mut) {
        subject.insert("subject_id".into(), c.subject_id.map_or(Json::Null, |s| Json::String(s.to_string())));
        if let Some(Json::Array(ids)) = subject.get_mut("identifiers") {
            ids.retain(|id| {
                id["scheme"]
                    .as_str()
                    .and_then(Scheme::parse)
                    .is_some_and(|s| identifier_visible(s, c.kind, &data_class))
            });
        }
    }
    update["redacted"] = Json::Array(c.withheld.iter().map(|f| Json::String(format!("payload.{f}"))).collect());
    update["disclosure"] = json!({
        "recipient": c.recipient,
        "agreement": c.grant.agreement,
        "purpose": c.grant.purpose,
        "legal_basis": c.grant.legal_basis,
        "catch_up": c.catch_up,
    });
    update
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn police_never_see_treatment_identifiers_and_treatment_never_sees_crn() {
        assert!(!identifier_visible(Scheme::Nhs, AgencyKind::Police, "court_result"));
        assert!(!identifier_visible(Scheme::TreatmentClient, AgencyKind::Police, "custody"));
        assert!(identifier_visible(Scheme::TreatmentClient, AgencyKind::Court, "health"));
        assert!(!identifier_visible(Scheme::Crn, AgencyKind::Treatment, "supervision"));
        assert!(identifier_visible(Scheme::Pnc, AgencyKind::Treatment, "sentence"));
    }

    #[test]
    fn withheld_fields_are_nulled_and_listed() {
        let stored = json!({"data_class": "custody", "payload": {"address": "1 Road", "station": "05CL"},
            "subject": {"subject_id": null, "identifiers": [{"scheme": "PNC", "value": "x"}, {"scheme": "NHS", "value": "y"}]}});
        let grant = Grant { agreement: "A3".into(), purpose: "p".into(), legal_basis: "l".into(), consent: None };
        let copy = recipient_copy(
            &stored,
            &CopyFor {
                recipient: "treatment",
                kind: AgencyKind::Police,
                subject_id: None,
                grant: &grant,
                withheld: &["address".to_string()],
                catch_up: true,
            },
        );
        assert_eq!(copy["payload"]["address"], Json::Null);
        assert_eq!(copy["payload"]["station"], "05CL");
        assert_eq!(copy["redacted"], json!(["payload.address"]));
        assert_eq!(copy["subject"]["identifiers"].as_array().unwrap().len(), 1);
        assert_eq!(copy["disclosure"]["catch_up"], true);
    }
}
