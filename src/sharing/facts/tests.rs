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

/// Earlier decisions are read back only from the first time a person's facts decide differently:
/// a new order start changes nothing before it, a later termination nothing before that, and
/// consent (judged now) changes every time.
#[test]
fn facts_first_differ_at_the_earliest_mark_that_changes_a_decision() {
    let before = PersonFacts { orders: vec![(at("2026-03-01"), OrderMark::Started)], ..Default::default() };
    assert_eq!(before.first_difference(&before.clone()), None);
    let mut ended = before.clone();
    ended.orders.push((at("2026-09-01"), OrderMark::Terminated));
    assert_eq!(before.first_difference(&ended), Some(at("2026-09-01")));
    let mut earlier = ended.clone();
    earlier.orders.push((at("2025-01-01"), OrderMark::Started));
    assert_eq!(ended.first_difference(&earlier), Some(at("2025-01-01")));
    // A second start inside an active order decides nothing differently.
    let mut again = before.clone();
    again.orders.push((at("2026-04-01"), OrderMark::Started));
    assert_eq!(before.first_difference(&again), None);
    let consented = PersonFacts { consent_courts: true, ..before.clone() };
    assert!(before.first_difference(&consented).is_some_and(|t| t < at("1900-01-01")));
}
