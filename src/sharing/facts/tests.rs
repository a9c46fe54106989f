//! Tests of `facts`.
use super::*;

fn rec(decision: &str, scope: &str, expiry: Option<&str>) -> ConsentRecord {
    ConsentRecord {
        decision: decision.into(),
        scope: RecordedScope::parse(scope),
        effective: NaiveDate::from_ymd_opt(2026, 11, 1),
        expiry: expiry.map(|e| NaiveDate::parse_from_str(e, "%Y-%m-%d").unwrap()),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}T00:00:00Z")).unwrap().with_timezone(&Utc)
}

#[test]
fn an_order_is_active_between_its_start_and_a_later_termination_in_event_time() {
    let orders = [
        (at("2026-11-17"), OrderMark::Started),
        (at("2027-05-01"), OrderMark::Terminated),
        (at("2027-06-01"), OrderMark::Started),
        (at("2027-06-01"), OrderMark::Terminated),
    ];
    assert!(!active_order_at(&orders, at("2026-10-28")), "an arrest before the order was made");
    assert!(active_order_at(&orders, at("2026-11-17")), "from the instant it is made");
    assert!(active_order_at(&orders, at("2027-04-30")));
    assert!(!active_order_at(&orders, at("2027-05-01")), "terminated");
    assert!(!active_order_at(&orders, at("2027-06-01")), "a termination at the same instant wins");
    let mut shuffled = orders;
    shuffled.reverse();
    assert_eq!(active_order_at(&shuffled, at("2027-04-30")), active_order_at(&orders, at("2027-04-30")));
}

#[test]
fn consent_follows_the_last_record_and_expiry_is_the_last_day_covered() {
    let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    let granted = [rec("G", "ALL", Some("2026-12-01"))];
    assert!(consent_covers(&granted, ConsentScope::Courts, day("2026-12-01")));
    assert!(!consent_covers(&granted, ConsentScope::Courts, day("2026-12-02")));
    let withdrawn = [rec("G", "ALL", None), rec("W", "PRB", None)];
    assert!(consent_covers(&withdrawn, ConsentScope::Courts, day("2026-11-28")));
    assert!(!consent_covers(&withdrawn, ConsentScope::Probation, day("2026-11-28")));
    assert!(!consent_covers(&[rec("R", "ALL", None)], ConsentScope::Courts, day("2026-11-28")));
    assert!(!consent_covers(&[], ConsentScope::Courts, day("2026-11-28")));
}
