//! Prometheus metrics. Counters of work done are read from the store when scraped, so they
//! always match it and survive restarts; latency histograms are kept in the process; queue
//! depths come from the broker. Labels are bounded (connector, reason, recipient, decision,
//! queue), never per person.
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::hub::Hub;
use crate::store;

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The whole exposition, in Prometheus text format.
pub async fn render(hub: &Hub) -> anyhow::Result<String> {
    let mut out = String::new();
    let per_connector = store::inbox::per_connector(&hub.pool).await?;
    family(&mut out, "tracker_messages_received_total", "counter", "Messages processed per connector.");
    for (c, received, _) in &per_connector {
        let _ = writeln!(out, "tracker_messages_received_total{{connector=\"{}\"}} {received}", label(c));
    }
    family(&mut out, "tracker_messages_applied_total", "counter", "Messages applied in whole or part per connector.");
    for (c, _, applied) in &per_connector {
        let _ = writeln!(out, "tracker_messages_applied_total{{connector=\"{}\"}} {applied}", label(c));
    }
    let refusals = store::refusals::per_connector_and_code(&hub.pool).await?;
    family(&mut out, "tracker_refusals_total", "counter", "Refused payloads and items per connector and reason.");
    for (c, reason, n) in &refusals {
        let _ = writeln!(out, "tracker_refusals_total{{connector=\"{}\",reason=\"{}\"}} {n}", label(c), label(reason));
    }
    let decisions = store::disclosure_log::decisions_per_recipient(&hub.pool).await?;
    family(
        &mut out,
        "tracker_decisions_total",
        "counter",
        "Sharing decisions per recipient: deliver, redact or withhold.",
    );
    for (r, d, n) in &decisions {
        let _ = writeln!(out, "tracker_decisions_total{{recipient=\"{}\",decision=\"{}\"}} {n}", label(r), label(d));
    }
    let published = store::outbox::confirmed_deliveries(&hub.pool).await?;
    family(
        &mut out,
        "tracker_deliveries_confirmed_total",
        "counter",
        "Deliveries confirmed by the broker per recipient.",
    );
    for (r, n) in &published {
        let _ = writeln!(out, "tracker_deliveries_confirmed_total{{recipient=\"{}\"}} {n}", label(r));
    }
    let notices = store::outbox::confirmed_notices(&hub.pool).await?;
    family(
        &mut out,
        "tracker_notices_confirmed_total",
        "counter",
        "Notices about earlier deliveries (retractions) confirmed by the broker per recipient.",
    );
    for (r, k, n) in &notices {
        let _ =
            writeln!(out, "tracker_notices_confirmed_total{{recipient=\"{}\",kind=\"{}\"}} {n}", label(r), label(k));
    }
    let backlog = store::outbox::backlog(&hub.pool).await?;
    let dead = store::refusals::open(&hub.pool).await?;
    family(&mut out, "tracker_outbox_backlog", "gauge", "Deliveries decided and not yet confirmed.");
    let _ = writeln!(out, "tracker_outbox_backlog {backlog}");
    family(&mut out, "tracker_dead_letters_open", "gauge", "Refusals not yet replayed or purged.");
    let _ = writeln!(out, "tracker_dead_letters_open {dead}");
    if let Ok(queues) = crate::ops::status::queue_depths(&hub.settings).await {
        family(&mut out, "tracker_queue_messages", "gauge", "Messages ready in each queue of the broker contract.");
        for q in &queues {
            let _ = writeln!(out, "tracker_queue_messages{{queue=\"{}\"}} {}", label(&q.queue), q.messages);
        }
        family(&mut out, "tracker_queue_consumers", "gauge", "Consumers attached to each queue.");
        for q in &queues {
            let _ = writeln!(out, "tracker_queue_consumers{{queue=\"{}\"}} {}", label(&q.queue), q.consumers);
        }
    }
    let alerts = crate::ops::alerts::evaluate(&hub.settings, &hub.pool, hub.clock.now()).await?;
    family(&mut out, "tracker_alert", "gauge", "1 while an alert rule is raised.");
    for rule in crate::ops::alerts::RULES {
        let raised = alerts.iter().any(|a| a.rule == rule);
        let _ = writeln!(out, "tracker_alert{{rule=\"{rule}\"}} {}", u8::from(raised));
    }
    family(
        &mut out,
        "tracker_messages_acknowledged_total",
        "counter",
        "Inbound messages acknowledged by this process.",
    );
    let _ = writeln!(out, "tracker_messages_acknowledged_total {}", hub.stats.acknowledged.load(Ordering::Relaxed));
    family(
        &mut out,
        "tracker_batches_committed_total",
        "counter",
        "Inbound batches committed by this process (one transaction and one acknowledgement each).",
    );
    let _ = writeln!(out, "tracker_batches_committed_total {}", hub.stats.batches.load(Ordering::Relaxed));
    hub.stats.processing.render(
        "tracker_message_processing_seconds",
        "Time from a message's receipt to its acknowledgement.",
        &mut out,
    );
    hub.stats.publishing.render(
        "tracker_delivery_publish_seconds",
        "Time from a delivery being taken from the outbox to the broker's confirm.",
        &mut out,
    );
    hub.stats.delivery.render(
        "tracker_delivery_latency_seconds",
        "Time from an update's receipt and decision to its delivery's confirm (real clock only).",
        &mut out,
    );
    build_and_process(&mut out);
    Ok(out)
}

/// `tracker_build_info` and the standard `process_*` metrics (as Prometheus client libraries
/// name them), read from `/proc/self` on Linux; elsewhere only the build.
fn build_and_process(out: &mut String) {
    family(out, "tracker_build_info", "gauge", "The running build: always 1, its version as a label.");
    let _ = writeln!(out, "tracker_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    let Some(p) = ProcessFigures::read() else { return };
    family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
    let _ = writeln!(out, "process_cpu_seconds_total {}", p.cpu_seconds);
    family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    let _ = writeln!(out, "process_resident_memory_bytes {}", p.resident_bytes);
    family(out, "process_open_fds", "gauge", "Open file descriptors.");
    let _ = writeln!(out, "process_open_fds {}", p.open_fds);
    family(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
    let _ = writeln!(out, "process_start_time_seconds {}", p.start_time_seconds);
}

struct ProcessFigures {
    cpu_seconds: f64,
    resident_bytes: u64,
    open_fds: usize,
    start_time_seconds: f64,
}

impl ProcessFigures {
    /// From `/proc/self/stat` (CPU ticks and start in ticks after boot), `/proc/stat` (boot
    /// time), `/proc/self/statm` (resident pages) and `/proc/self/fd`.
    fn read() -> Option<ProcessFigures> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        // SAFETY: sysconf only reads a system constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        if ticks <= 0.0 || page == 0 {
            return None;
        }
        let boot: f64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|b| b.trim().parse().ok())?;
        let resident_pages: u64 =
            std::fs::read_to_string("/proc/self/statm").ok()?.split_whitespace().nth(1)?.parse().ok()?;
        Some(ProcessFigures {
            cpu_seconds: (field(14)? + field(15)?) / ticks,
            resident_bytes: resident_pages * page,
            open_fds: std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            start_time_seconds: boot + field(22)? / ticks,
        })
    }
}
