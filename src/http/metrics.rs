//! Prometheus metrics. Counters of work are kept in the process: restored from the store's
//! totals when the hub starts (or at the first scrape, if the store did not answer then) and
//! added to as work commits, so a scrape reads memory, not whole tables, and a restart does not
//! drop them to zero; sharing decisions are read forward from the disclosure log. Latency
//! histograms count since this process started (`process_start_time_seconds` says when). Queue
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

/// The counter families: (name in the store-backed counters, metric, help, label names).
const COUNTED: &[(&str, &str, &str, &[&str])] = &[
    ("messages_received", "tracker_messages_received_total", "Messages processed per connector.", &["connector"]),
    (
        "messages_applied",
        "tracker_messages_applied_total",
        "Messages applied in whole or part per connector.",
        &["connector"],
    ),
    (
        "refusals",
        "tracker_refusals_total",
        "Refused payloads and items per connector and reason.",
        &["connector", "reason"],
    ),
    (
        "decisions",
        "tracker_decisions_total",
        "Sharing decisions per recipient: deliver, redact or withhold.",
        &["recipient", "decision"],
    ),
    (
        "deliveries_confirmed",
        "tracker_deliveries_confirmed_total",
        "Deliveries confirmed by the broker per recipient.",
        &["recipient"],
    ),
    (
        "notices_confirmed",
        "tracker_notices_confirmed_total",
        "Notices about earlier deliveries (retractions) confirmed by the broker per recipient.",
        &["recipient", "kind"],
    ),
];

/// Loads the store's totals into the process's counters (at start; a scrape does it first if
/// the start could not). With several hub processes, each counts from the totals at its start
/// plus its own work: sum `rate()` over instances, not the totals.
pub async fn restore(hub: &Hub) -> anyhow::Result<()> {
    let c = &hub.stats.counters;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let per_connector = store::inbox::per_connector(&hub.pool).await?;
    c.restore("messages_received", per_connector.iter().map(|(k, received, _)| (vec![k.clone()], n(*received))));
    c.restore("messages_applied", per_connector.iter().map(|(k, _, applied)| (vec![k.clone()], n(*applied))));
    let refusals = store::refusals::per_connector_and_code(&hub.pool).await?;
    c.restore("refusals", refusals.into_iter().map(|(k, code, v)| (vec![k, code], n(v))));
    let published = store::outbox::confirmed_deliveries(&hub.pool).await?;
    c.restore("deliveries_confirmed", published.into_iter().map(|(r, v)| (vec![r], n(v))));
    let notices = store::outbox::confirmed_notices(&hub.pool).await?;
    c.restore("notices_confirmed", notices.into_iter().map(|(r, k, v)| (vec![r, k], n(v))));
    let mut read_up_to = c.decisions_read_up_to.lock().await;
    c.restore("decisions", []);
    *read_up_to = 0;
    read_decisions(hub, &mut read_up_to).await?;
    c.restored.store(true, Ordering::SeqCst);
    Ok(())
}

/// Adds the disclosure-log entries written since `read_up_to` to the decisions family. Entries
/// are appended under a lock held until their transaction commits, so ids become visible in
/// order: nothing below the highest visible id can still appear.
async fn read_decisions(hub: &Hub, read_up_to: &mut i64) -> anyhow::Result<()> {
    let (top, counts) = store::disclosure_log::decisions_since(&hub.pool, *read_up_to).await?;
    for (recipient, decision, n) in counts {
        hub.stats.counters.add("decisions", &[&recipient, &decision], u64::try_from(n).unwrap_or(0));
    }
    *read_up_to = top.max(*read_up_to);
    Ok(())
}

/// The whole exposition, in Prometheus text format.
pub async fn render(hub: &Hub) -> anyhow::Result<String> {
    if !hub.stats.counters.restored.load(Ordering::SeqCst) {
        restore(hub).await?;
    } else {
        read_decisions(hub, &mut *hub.stats.counters.decisions_read_up_to.lock().await).await?;
    }
    let mut out = String::new();
    for (family_name, metric, help, labels) in COUNTED {
        family(&mut out, metric, "counter", help);
        for (values, n) in hub.stats.counters.read(family_name) {
            let pairs: Vec<String> = labels.iter().zip(&values).map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
            let _ = writeln!(out, "{metric}{{{}}} {n}", pairs.join(","));
        }
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
        "Time from a message's receipt to its acknowledgement, since this process started.",
        &mut out,
    );
    hub.stats.publishing.render(
        "tracker_delivery_publish_seconds",
        "Time from a delivery being taken from the outbox to the broker's confirm, since this process started.",
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
