//! A notice to a recipient about an earlier delivery, named by its message id: a retraction
//! (records that arrived later show the update should not have gone to it), an erasure (an
//! operator or auditor found the disclosure unlawful or mistaken: the recipient must erase it),
//! or a correction (the source corrected the record, and the corrected one is not shared with it).
//! A notice repeats nothing of the update but its type and source, and carries the subject id
//! only, never identifiers: the recipient already holds the delivery it names.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

/// The envelope's event type (and the payload record's name) of a notice.
pub const EVENT_TYPE: &str = "DisclosureNotice";

/// What kind of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Stop relying on the delivery: later records show it should not have been sent.
    Retraction,
    /// Erase the delivery: the disclosure was unlawful or made in error (a recall).
    Erasure,
    /// Its source corrected the record, and the corrected record is not shared with this
    /// recipient (a recipient that may see it gets the corrected record, marked as a correction).
    Correction,
    /// Its owning agency restricted the record (kept as evidence, not to be used).
    Restriction,
}

impl Kind {
    /// The stored form (`outbox.kind`) and the notice's `payload.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Retraction => "retraction",
            Kind::Erasure => "erasure",
            Kind::Correction => "correction",
            Kind::Restriction => "restriction",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "retraction" => Some(Kind::Retraction),
            "erasure" => Some(Kind::Erasure),
            "correction" => Some(Kind::Correction),
            "restriction" => Some(Kind::Restriction),
            _ => None,
        }
    }
}

/// What one notice says.
pub struct Notice<'a> {
    pub kind: Kind,
    pub notice_id: Uuid,
    pub recipient: &'a str,
    pub subject_id: Option<Uuid>,
    /// The delivery the notice is about.
    pub refers_to: Uuid,
    /// Why: for a retraction a withholding reason code (`condition_not_met`, `denied`,
    /// `wrong_person`); for an erasure `unlawful` or `mistaken`.
    pub reason: &'a str,
    /// The agreement the delivery rested on, its purpose and legal basis.
    pub agreement: &'a str,
    pub purpose: &'a str,
    pub legal_basis: &'a str,
    pub decided_at: DateTime<Utc>,
}

/// Builds the notice (JSON shape of `tracker.v1.Update`) from the stored update it is about.
pub fn notice(stored: &Json, r: &Notice) -> Json {
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
            "kind": r.kind.as_str(),
            "refers_to_message_id": r.refers_to.to_string(),
            "refers_to_event_id": stored["event_id"].clone(),
            "refers_to_event_type": event_type,
            "reason": r.reason,
            "explanation": match r.kind {
                Kind::Retraction => explanation(r.reason, r.agreement, event_type),
                Kind::Erasure => erasure_explanation(r.reason, r.agreement, event_type),
                Kind::Restriction => format!(
                    "The {event_type} update delivered under agreement {agreement} has been restricted at the request \
                     of the agency that sent it (DPA 2018 s.47(2)): it is kept, but must not be used or passed on.",
                    agreement = r.agreement
                ),
                Kind::Correction if r.reason == "withdrawn" => format!(
                    "The {event_type} update delivered under agreement {agreement} has been withdrawn by the agency \
                     that sent it: the record should not have existed. Erase it and do not rely on it.",
                    agreement = r.agreement
                ),
                Kind::Correction => format!(
                    "The {event_type} update delivered under agreement {agreement} has been corrected by the agency \
                     that sent it. The corrected record is not shared with you under today's agreements: do not rely \
                     on the earlier copy.",
                    agreement = r.agreement
                ),
            },
        },
        "redacted": [],
        "disclosure": {
            "recipient": r.recipient,
            "agreement": r.agreement,
            "purpose": r.purpose,
            "legal_basis": r.legal_basis,
            "catch_up": false,
        },
        // The notice is a fact about a delivery; the category is the update's.
        "subject_category": stored.get("subject_category").cloned().unwrap_or_else(|| json!("unspecified")),
        "nature": "fact",
    })
}

fn erasure_explanation(reason: &str, agreement: &str, event_type: &str) -> String {
    if reason == "erased_at_source" {
        return format!(
            "The {event_type} update delivered under agreement {agreement} has been erased at the request of the \
             agency that sent it (DPA 2018 s.47). Erase it and anything copied from it."
        );
    }
    let why = match reason {
        "unlawful" => "was not lawful",
        "mistaken" => "was made in error",
        _ => "is recalled",
    };
    format!(
        "The {event_type} update delivered under agreement {agreement} {why}: the hub's operators have recalled \
         it (DPA 2018 s.38(5)(c)). Erase it and anything copied from it, and do not rely on it."
    )
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
        let notice = notice(
            &stored,
            &Notice {
                kind: Kind::Retraction,
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
