//! The console's chart: messages applied and refusals per hour over the last day, as an inline
//! SVG of paired columns (no script, no external file: the page stays one response that
//! refreshes itself). Hours with nothing show as gaps, so a feed that stopped is seen.
use std::fmt::Write as _;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// The hours charted, ending with the current one.
pub const HOURS: i64 = 24;

/// The first hour charted when the hub's clock reads `now`.
pub fn since(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::hours(1)).unwrap_or(now) - Duration::hours(HOURS - 1)
}

/// Columns for `events` (per hour) and `refusals` (per hour), each hour from `since(now)`.
pub fn svg(now: DateTime<Utc>, events: &[(DateTime<Utc>, i64)], refusals: &[(DateTime<Utc>, i64)]) -> String {
    let first = since(now);
    let at = |series: &[(DateTime<Utc>, i64)], hour: i64| {
        let t = first + Duration::hours(hour);
        series.iter().find(|(h, _)| *h == t).map_or(0, |(_, n)| *n)
    };
    let top = (0..HOURS).map(|h| at(events, h).max(at(refusals, h))).max().unwrap_or(0).max(1);
    let (width, height, left, bottom) = (720.0, 160.0, 44.0, 22.0);
    let slot = (width - left) / HOURS as f64;
    let scale = |n: i64| (height - bottom - 8.0) * n as f64 / top as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=throughput-chart viewBox=\"0 0 {width} {height}\" width=\"100%\" role=img \
         aria-label=\"events applied and refusals per hour, last {HOURS} hours\" \
         style=\"font:11px system-ui,sans-serif\">\
         <line x1={left} y1={base} x2={width} y2={base} stroke=\"#9aa5b1\"/>\
         <text x={tx} y=12 text-anchor=end fill=\"#52606d\">{top}</text>\
         <text x={tx} y={base} text-anchor=end fill=\"#52606d\">0</text>",
        base = height - bottom,
        tx = left - 6.0,
    );
    for hour in 0..HOURS {
        let x = left + slot * hour as f64;
        let t = first + Duration::hours(hour);
        for (i, (n, colour, what)) in
            [(at(events, hour), "#457b9d", "events applied"), (at(refusals, hour), "#b23a48", "refusals")]
                .into_iter()
                .enumerate()
        {
            let h = scale(n);
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                 <title>{} {n} {what}</title></rect>",
                x + 2.0 + i as f64 * (slot - 4.0) / 2.0,
                height - bottom - h,
                (slot - 4.0) / 2.0,
                t.format("%Y-%m-%d %H:00 UTC:"),
            );
        }
        if hour % 3 == 0 {
            let _ = write!(s, "<text x=\"{:.1}\" y={height} fill=\"#52606d\">{}</text>", x + 2.0, t.format("%H:00"));
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn each_hour_has_its_columns_and_an_empty_hour_is_a_gap() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 28, 10, 30, 0).unwrap();
        let first = super::since(now);
        assert_eq!(first, chrono::Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap());
        let ten = chrono::Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
        let svg = super::svg(now, &[(ten, 40)], &[(ten, 4)]);
        assert_eq!(svg.matches("<rect").count(), 2 * super::HOURS as usize);
        assert!(svg.contains("2026-11-28 10:00 UTC: 40 events applied"), "{svg}");
        assert!(svg.contains("2026-11-28 10:00 UTC: 4 refusals"));
        assert!(svg.contains("2026-11-28 09:00 UTC: 0 events applied"));
        // Columns scale to the busiest hour: 40 events fill the height, 4 refusals a tenth.
        assert!(svg.contains("height=\"130.0\"") && svg.contains("height=\"13.0\""), "{svg}");
    }
}
