//! A notice to a recipient about an earlier delivery, named by its message id: today a
//! retraction (records that arrived later show the update should not have gone to it); the
//! same record will carry corrections and erasures. A notice repeats nothing of the update but
//! its type and source, and carries the subject id only, never identifiers: the recipient
//! already holds the delivery it names.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

/// The envelope's event type (and the payload record's name) of a notice.
pub const EVENT_TYPE: &str = "DisclosureNotice";

/// What one retraction notice says.
pub struct Retraction<'a> {
    pub notice_id: Uuid,
    pub recipient: &'a str,
    pub subject_id: Option<Uuid>,
    /// The delivery retracted.
    pub refers_to: Uuid,
    /// Why: a withholding reason code (`condition_not_met`, `denied`).
    pub reason: &'a str,
    /// The agreement the retracted delivery rested on, its purpose and legal basis.
    pub agreement: &'a str,
    pub purpose: &'a str,
    pub legal_basis: &'a str,
    pub decided_at: DateTime<Utc>,
}

/// Builds the notice (JSON shape of `tracker.v1.Update`) from the stored update it is about.
pub fn retraction(stored: &Json, r: &Retraction) -> Json {
    let at = r.decided_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let event_type = stored["event_type"].as_str().unwrap_or_default();
    json!({
        "event_id": r.notice_id.to_string(),
        "event_type": EVENT_TYPE,
        "data_class": "notice",
        "occurred_at": at,
        "recorded_at": at,
        "source": stored["source"].clone(),
        "subject": {
            "subject_id": r.subject_id.map(|s| s.to_string()),
            "identifiers": [],
            "name": null,
            "date_of_birth": null,
        },
        "payload": {
            "kind": "retraction",
            "refers_to_message_id": r.refers_to.to_string(),
            "refers_to_event_id": stored["event_id"].clone(),
            "refers_to_event_type": event_type,
            "reason": r.reason,
            "explanation": explanation(r.reason, r.agreement, event_type),
        },
        "redacted": [],
        "disclosure": {
            "recipient": r.recipient,
            "agreement": r.agreement,
            "purpose": r.purpose,
            "legal_basis": r.legal_basis,
            "catch_up": false,
        },
    })
}

fn explanation(reason: &str, agreement: &str, event_type: &str) -> String {
    match reason {
        "condition_not_met" => format!(
            "The {event_type} update was delivered under agreement {agreement}, but records received since show \
             that the agreement's condition about the person did not hold when it happened. Do not rely on it."
        ),
        "denied" => format!(
            "The {event_type} update was delivered under agreement {agreement}, but records received since show \
             that a sharing rule denies it. Do not rely on it."
        ),
        "wrong_person" => format!(
            "The {event_type} update was delivered under agreement {agreement} about a person it does not belong \
             to: records received since show its identifiers are another person's (or are in doubt and held for \
             review). Do not rely on it; if it is yours to see under its right person, it is sent again."
        ),
        other => format!("The {event_type} update delivered under agreement {agreement} is retracted ({other})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retraction_names_the_delivery_and_carries_no_identifiers() {
        let stored = json!({"event_id": "5e0f6c1e-6c1a-4c55-9c1e-2b1a3c4d5e6f", "event_type": "Arrested",
            "source": {"agency": "police-05", "connector": "custody-csv", "message_id": "m1"},
            "subject": {"identifiers": [{"scheme": "PNC", "value": "x"}], "name": "A Person"},
            "payload": {"offence_code": "TH68001"}});
        let refers_to = Uuid::from_u128(7);
        let notice = retraction(
            &stored,
            &Retraction {
                notice_id: Uuid::from_u128(8),
                recipient: "probation",
                subject_id: Some(Uuid::from_u128(9)),
                refers_to,
                reason: "condition_not_met",
                agreement: "A2",
                purpose: "p",
                legal_basis: "l",
                decided_at: DateTime::<Utc>::UNIX_EPOCH,
            },
        );
        assert_eq!(notice["event_type"], EVENT_TYPE);
        assert_eq!(notice["payload"]["refers_to_message_id"], refers_to.to_string());
        assert_eq!(notice["payload"]["refers_to_event_type"], "Arrested");
        assert_eq!(notice["subject"]["identifiers"], json!([]));
        assert_eq!(notice["subject"]["name"], Json::Null);
        assert!(!notice.to_string().contains("TH68001"), "a notice repeats none of the update's payload");
        let avro = crate::schemas::get().unwrap().encode_single_object(&notice).unwrap();
        let back = crate::schemas::get().unwrap().decode_single_object(&avro).unwrap();
        assert_eq!(back["payload"]["reason"], "condition_not_met");
    }
}
