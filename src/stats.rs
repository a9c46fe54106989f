//! The hub's work counters and latency histograms, kept in the process (tests wait on them,
//! readiness and `/metrics` read them).
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters of the hub's work (tests wait on them; metrics read them).
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages acknowledged (processed, or found already processed).
    pub acknowledged: std::sync::atomic::AtomicU64,
    /// Batches committed (each one transaction and one acknowledgement): `acknowledged` over
    /// this is the mean batch size.
    pub batches: std::sync::atomic::AtomicU64,
    /// Inbound queues with a consumer attached now (for readiness).
    pub consumers_attached: std::sync::atomic::AtomicUsize,
    /// The queues this process means to consume: its fair share among the hub processes.
    pub consumers_wanted: std::sync::atomic::AtomicUsize,
    /// Whether the outbox publisher is connected.
    pub publisher_connected: std::sync::atomic::AtomicBool,
    pub processing: Histogram,
    pub publishing: Histogram,
    /// From an update's decision (at receipt) to its delivery's confirm.
    pub delivery: Histogram,
    /// Work counted by label (connector, reason, recipient…), for `/metrics`.
    pub counters: Counters,
}

/// Counters of work by label, kept in the process: restored from the store's totals when the
/// hub starts, then added to as this process commits work, so a scrape reads memory rather than
/// counting whole tables. The decisions family is read forward from the disclosure log instead
/// (see `http::metrics`), the entries after the last one read.
#[derive(Debug, Default)]
pub struct Counters {
    families: std::sync::Mutex<std::collections::BTreeMap<&'static str, std::collections::BTreeMap<Vec<String>, u64>>>,
    /// Set once the store's totals are in (until then a scrape restores them first).
    pub restored: std::sync::atomic::AtomicBool,
    /// The last disclosure-log entry counted into the decisions family.
    pub decisions_read_up_to: tokio::sync::Mutex<i64>,
}

impl Counters {
    /// Adds to a count. Called per message, refusal and confirm: the labels are copied only the
    /// first time they are seen (a family holds a few dozen label sets, so finding one by
    /// walking them costs less than building a key to look it up).
    pub fn add(&self, family: &'static str, labels: &[&str], n: u64) {
        if let Ok(mut f) = self.families.lock() {
            let counts = f.entry(family).or_default();
            match counts.iter_mut().find(|(key, _)| key.iter().map(String::as_str).eq(labels.iter().copied())) {
                Some((_, count)) => *count += n,
                None => {
                    counts.insert(labels.iter().map(|l| l.to_string()).collect(), n);
                }
            }
        }
    }

    /// Replaces a family with the store's totals (at start).
    pub fn restore(&self, family: &'static str, totals: impl IntoIterator<Item = (Vec<String>, u64)>) {
        if let Ok(mut f) = self.families.lock() {
            f.insert(family, totals.into_iter().collect());
        }
    }

    /// A family's counts by labels, in label order.
    pub fn read(&self, family: &str) -> Vec<(Vec<String>, u64)> {
        self.families
            .lock()
            .map(|f| f.get(family).map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// A fixed-bucket latency histogram (seconds).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

const LATENCY_BOUNDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            bounds: LATENCY_BOUNDS,
            counts: (0..=LATENCY_BOUNDS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.bounds.iter().position(|b| secs <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(30));
        let mut out = String::new();
        h.render("x", "help", &mut out);
        assert!(out.contains("x_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.05\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }
}
