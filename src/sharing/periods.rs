//! Involvement periods, judged in event time. An agency is involved with a person from an event
//! that names it: a period starts at a naming event and ends `months` calendar months after the
//! last naming event that follows within `months` of the one before it; a naming event after a
//! period has ended opens a new one. Pure: computed from every naming event the hub holds,
//! whatever order they arrived in, so the same records always give the same periods.
use chrono::{DateTime, Months, Utc};

/// One involvement period: from `start` (a naming event) until `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The periods that naming events at `times` (any order) make, earliest first.
pub fn periods(times: &[DateTime<Utc>], months: u32) -> Vec<Period> {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let after = |t: DateTime<Utc>| t.checked_add_months(Months::new(months)).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut out: Vec<Period> = Vec::new();
    for t in sorted {
        match out.last_mut() {
            Some(open) if t < open.end => open.end = open.end.max(after(t)),
            _ => out.push(Period { start: t, end: after(t) }),
        }
    }
    out
}

/// Whether the agency is involved at `t`: some period holds it.
pub fn involved_at(periods: &[Period], t: DateTime<Utc>) -> bool {
    periods.iter().any(|p| p.start <= t && t < p.end)
}

/// The period that covers an update at `t`: the earliest one that has not ended by `t`. An update
/// before that period's start is history for the recipient; one inside it is live.
pub fn covering(periods: &[Period], t: DateTime<Utc>) -> Option<&Period> {
    periods.iter().find(|p| t < p.end)
}

/// Whether a recipient with these periods is subscribed to an update at `t`, judged at `now`: it
/// is involved now (a period still open), and the update happened before the end of one of its
/// periods.
pub fn subscribed(periods: &[Period], t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    involved_at(periods, now) && covering(periods, t).is_some()
}

/// Whether a delivery of an update at `t` is history (catch-up) for a recipient with these
/// periods: it happened strictly before the start of the period that covers it.
pub fn is_history(periods: &[Period], t: DateTime<Utc>) -> bool {
    covering(periods, t).is_some_and(|p| t < p.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}T00:00:00Z")).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn naming_events_within_the_window_extend_one_period_and_a_later_one_opens_another() {
        // 2025-11-01 is within 12 months of 2025-01-10, 2026-06-01 within 12 months of 2025-11-01.
        let ps = periods(&[at("2026-06-01"), at("2025-01-10"), at("2025-11-01")], 12);
        assert_eq!(ps, [Period { start: at("2025-01-10"), end: at("2027-06-01") }]);
        let apart = periods(&[at("2024-01-01"), at("2026-01-01")], 12);
        assert_eq!(apart.len(), 2);
        assert_eq!(apart[0], Period { start: at("2024-01-01"), end: at("2025-01-01") });
        assert_eq!(apart[1], Period { start: at("2026-01-01"), end: at("2027-01-01") });
    }

    #[test]
    fn the_same_events_in_any_order_give_the_same_periods() {
        let times = [at("2026-03-01"), at("2024-02-01"), at("2026-01-05"), at("2025-03-01")];
        let mut reversed = times;
        reversed.reverse();
        assert_eq!(periods(&times, 12), periods(&reversed, 12));
    }

    #[test]
    fn history_is_strictly_before_the_covering_periods_start() {
        let ps = periods(&[at("2026-11-03"), at("2024-01-01")], 12);
        assert!(is_history(&ps, at("2023-06-01")), "before the first period");
        assert!(!is_history(&ps, at("2024-01-01")), "at the start: live");
        assert!(!is_history(&ps, at("2024-06-01")), "inside the first period");
        assert!(is_history(&ps, at("2025-06-01")), "between periods: before the second one's start");
        assert!(!is_history(&ps, at("2026-11-28")));
        assert!(subscribed(&ps, at("2025-06-01"), at("2026-11-28")));
        assert!(!subscribed(&ps, at("2025-06-01"), at("2028-01-01")), "nothing open by then");
        assert!(involved_at(&ps, at("2024-12-31")) && !involved_at(&ps, at("2025-01-01")));
    }
}
