//! The canonical event vocabulary: each event type and the data class sharing rules speak of.

/// (event type, data class), the canonical vocabulary.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("Arrested", "custody"),
    ("ReleasedNoFurtherAction", "custody"),
    ("WarrantExecuted", "custody"),
    ("Charged", "charge"),
    ("BailDecision", "charge"),
    ("DrugTestOnArrest", "drug_test_arrest"),
    ("HearingResulted", "court_result"),
    ("WarrantIssued", "court_result"),
    ("OrderMade", "sentence"),
    ("SupervisionStarted", "supervision"),
    ("AppointmentOutcome", "supervision"),
    ("BreachInitiated", "supervision"),
    ("OrderTerminated", "supervision"),
    ("PreSentenceReport", "supervision"),
    ("RiskRegistration", "risk"),
    ("DrugTestResult", "health"),
    ("TreatmentEpisode", "health"),
    ("ConsentChanged", "consent"),
];

/// The data class of an event type, or `None` for a type Tracker does not know.
pub fn data_class(event_type: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|(t, _)| *t == event_type).map(|(_, c)| *c)
}
