//! Progress of a long command, as a line on stderr every ten seconds: how far it is, how fast
//! and how long is left at that rate (a backload, a reprocess or a generated decade can run for
//! many minutes). Lines rather than a bar: they read the same in a terminal, a log file and CI.
use std::time::{Duration, Instant};

pub struct Progress {
    /// What is being done ("loading", "reprocessing").
    doing: &'static str,
    /// What is counted ("files", "messages", "people").
    unit: &'static str,
    total: usize,
    start: Instant,
    last: Instant,
}

impl Progress {
    pub const EVERY: Duration = Duration::from_secs(10);

    pub fn new(doing: &'static str, unit: &'static str, total: usize) -> Progress {
        Progress { doing, unit, total, start: Instant::now(), last: Instant::now() }
    }

    /// Says how far it is, if ten seconds have passed since it last did (and it is not done).
    /// `also` is a second count worth saying with its rate (events loaded, say).
    pub fn tick(&mut self, done: usize, also: Option<(&str, usize)>) {
        if self.last.elapsed() < Self::EVERY || done >= self.total {
            return;
        }
        self.last = Instant::now();
        eprintln!("{}", self.line(done, also, self.start.elapsed()));
    }

    /// "loading: 1000 of 4000 files (25.0 %), 3000 events, 300 events/s, about 30 s left".
    pub fn line(&self, done: usize, also: Option<(&str, usize)>, took: Duration) -> String {
        let secs = took.as_secs_f64().max(1e-9);
        let per_sec = done as f64 / secs;
        let left = if per_sec > 0.0 { self.total.saturating_sub(done) as f64 / per_sec } else { f64::INFINITY };
        let rate = match also {
            Some((what, n)) => format!("{n} {what}, {:.0} {what}/s", n as f64 / secs),
            None => format!("{per_sec:.0} {}/s", self.unit),
        };
        format!(
            "{}: {done} of {} {} ({:.1} %), {rate}, about {} left",
            self.doing,
            self.total,
            self.unit,
            100.0 * done as f64 / self.total.max(1) as f64,
            if left.is_finite() { format!("{left:.0} s") } else { "an unknown time".to_string() }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_how_far_how_fast_and_how_long_is_left() {
        let p = Progress::new("loading", "files", 4000);
        assert_eq!(
            p.line(1000, Some(("events", 3000)), Duration::from_secs(10)),
            "loading: 1000 of 4000 files (25.0 %), 3000 events, 300 events/s, about 30 s left"
        );
        let p = Progress::new("reprocessing", "messages", 10);
        assert_eq!(
            p.line(5, None, Duration::from_secs(10)),
            "reprocessing: 5 of 10 messages (50.0 %), 0 messages/s, about 10 s left"
        );
        assert!(p.line(0, None, Duration::from_secs(10)).ends_with("about an unknown time left"));
    }
}
