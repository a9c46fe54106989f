//! `tracker bench delivery`: updates that three agencies each receive, end to end through a
//! sandboxed hub — throughput flat out, then receipt-to-delivery latency at a steady rate —
//! beside the baselines measured in the same run: the broker windowed as the hub's consumers take
//! messages (three publishes each, as three recipients), a bare loop adding one insert per batch,
//! and the broker one message at a time.
//!
//! Each person first gets a supervision (probation, naming court B05LV00) and a pre-sentence
//! report (naming B05LP00): probation and both courts are then involved and the person has an
//! active order, so every arrest the police report goes to exactly three recipients (A1 to
//! each court, A2 to probation).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::settings::Settings;
use crate::tools::sandbox::Sandbox;

use super::baseline::{Baselines, print_machine};
use super::traffic::*;

pub(super) async fn run(mut settings: Settings, updates: usize, rate: Option<u32>) -> anyhow::Result<()> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let sandbox = Sandbox::start(settings, "bench").await?;
    println!("Delivery benchmark: {updates} people, each arrest delivered to {} recipients", RECIPIENTS.len());
    print_machine();

    involve_everyone(&sandbox, updates).await?;

    let baselines =
        Baselines::measure(&sandbox, &(0..updates).map(|p| arrest(p, 0)).collect::<Vec<_>>(), RECIPIENTS.len()).await?;
    baselines.print(&sandbox);

    let arrivals = Arc::new(Arrivals { at: Mutex::new(HashMap::new()), total: Default::default() });
    let watchers = watch_queues(&sandbox, arrivals.clone()).await?;

    // Flat out: every arrest published at once.
    let bodies: Vec<Vec<u8>> = (0..updates).map(|p| arrest(p, 1)).collect();
    let start = Instant::now();
    let cpu = super::cpu::CpuTimes::now();
    publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "police-05.police-custody", &bodies, "flat").await?;
    let end = wait_total(&arrivals, updates * RECIPIENTS.len(), Duration::from_secs(3600)).await?;
    let took = (end - start).as_secs_f64();
    println!(
        "hub flat out: {:>8.0} updates/s  {:>8.0} deliveries/s  ({} deliveries in {took:.2} s)",
        updates as f64 / took,
        (updates * RECIPIENTS.len()) as f64 / took,
        updates * RECIPIENTS.len()
    );
    super::cpu::print_since("the flat-out run", cpu);
    baselines.print_ratio(updates as f64 / took);

    // Steady rate (below capacity).
    let rate = rate.unwrap_or(((updates as f64 / took) / 2.0).max(1.0) as u32);
    let batches_before = stored_batches(&sandbox);
    let cpu = super::cpu::CpuTimes::now();
    let timed = steady_timed(&sandbox, &arrivals, updates, rate, 2).await?;
    let (batches, messages) = {
        let after = stored_batches(&sandbox);
        (after.0 - batches_before.0, after.1 - batches_before.1)
    };
    print_latencies(&format!("hub at {rate} updates/s"), &sorted_latencies(&timed), "");
    println!(
        "  stored in {batches} transactions, {:.1} messages each on average",
        messages as f64 / batches.max(1) as f64
    );
    print_stretches(&timed);
    super::cpu::print_since("the steady run", cpu);
    // Two processes: a `tracker run` of this binary joins on the same database and broker prefix,
    // takes its share of the queues and outbox partitions, and the flat-out phase runs again.
    super::baseline::print_memory();
    match two_processes(&sandbox, &arrivals, updates).await {
        Ok(two) => {
            let took = two.flat_out_secs;
            println!(
                "two hub processes flat out: {:>8.0} updates/s  {:>8.0} deliveries/s  ({} deliveries in {took:.2} s)",
                updates as f64 / took,
                (updates * RECIPIENTS.len()) as f64 / took,
                updates * RECIPIENTS.len()
            );
            baselines.print_ratio(updates as f64 / took);
            super::cpu::print_between("the two processes' run", two.cpu, two.cpu_after);
            print_latencies(
                &format!("two hub processes at {QUIET_RATE} updates/s"),
                &sorted_latencies(&two.quiet),
                "; half are decided by one process and published by the other",
            );
        }
        Err(e) => println!("two hub processes: not measured: {e:#}"),
    }
    for w in watchers {
        w.abort();
    }
    sandbox.finish().await
}

/// Batches the sandboxed hub has stored, and the messages they held.
fn stored_batches(sandbox: &Sandbox) -> (u64, u64) {
    let stats = &sandbox.hub.stats;
    (
        stats.batches.load(std::sync::atomic::Ordering::SeqCst),
        stats.acknowledged.load(std::sync::atomic::Ordering::SeqCst),
    )
}

/// Whether the slow deliveries of the steady phase came together (a stall: the hub's statistics
/// refresh, a checkpoint) or are spread out: the phase by quarter-seconds of send time, the
/// slowest and the median stretch.
fn print_stretches(timed: &[(Duration, Duration)]) {
    let mut stretches = stretches(timed, Duration::from_millis(250));
    if stretches.len() < 2 {
        return;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p50s = {
        let mut p50s: Vec<Duration> = stretches.iter().map(|s| s.p50).collect();
        p50s.sort();
        p50s
    };
    stretches.sort_by_key(|s| std::cmp::Reverse(s.max));
    let slowest = &stretches[0];
    let maxes = {
        let mut maxes: Vec<Duration> = stretches.iter().map(|s| s.max).collect();
        maxes.sort();
        maxes
    };
    println!(
        "  by quarter-second sent ({} of them): median p50 {:.1} ms, median max {:.1} ms; slowest at {:.2} s: p50 {:.1} ms, max {:.1} ms",
        stretches.len(),
        ms(percentile(&p50s, 0.5)),
        ms(percentile(&maxes, 0.5)),
        slowest.from.as_secs_f64(),
        ms(slowest.p50),
        ms(slowest.max)
    );
}

/// The quiet traffic two processes are timed at: a publisher with little to do is the one that
/// hears late of rows another process decided for it.
const QUIET_RATE: u32 = 20;
const QUIET_UPDATES: usize = 200;

/// What two hub processes did: flat out, and at a quiet rate.
struct TwoProcesses {
    /// Seconds until every update sent at once was delivered.
    flat_out_secs: f64,
    /// The processors' counters when that sending began and when the last was delivered.
    cpu: Option<super::cpu::CpuTimes>,
    cpu_after: Option<super::cpu::CpuTimes>,
    /// (sent since the first, publish → delivered) of each delivery at `QUIET_RATE`.
    quiet: Vec<(Duration, Duration)>,
}

/// Starts a second hub process on the sandbox, waits until it holds a share of the work, then
/// sends every person another arrest at once, then a few more at a quiet rate.
async fn two_processes(sandbox: &Sandbox, arrivals: &Arrivals, updates: usize) -> anyhow::Result<TwoProcesses> {
    let settings = &sandbox.hub.settings;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("run")
        .env("TRACKER__DATABASE__URL", &settings.database.url)
        .env("TRACKER__BROKER__PREFIX", &settings.broker.prefix)
        .env("TRACKER__CLOCK__FIXED", &settings.clock.fixed)
        .env("TRACKER__HTTP__LISTEN", "")
        .env("TRACKER__LOG__LEVEL", "error")
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let result = async {
        let all = settings.agencies.len();
        let waited = Instant::now();
        while sandbox.hub.stats.consumers_attached.load(std::sync::atomic::Ordering::SeqCst) >= all {
            anyhow::ensure!(waited.elapsed() < Duration::from_secs(30), "the second process took no share of the work");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The handover settles (the publisher looks at its share between batches).
        tokio::time::sleep(Duration::from_secs(settings.scale.check_secs + 1)).await;
        let already = arrivals.total.load(std::sync::atomic::Ordering::SeqCst);
        let bodies: Vec<Vec<u8>> = (0..updates).map(|p| arrest(p, 3)).collect();
        let start = Instant::now();
        let cpu = super::cpu::CpuTimes::now();
        publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "police-05.police-custody", &bodies, "two").await?;
        let end = wait_total(arrivals, already + updates * RECIPIENTS.len(), Duration::from_secs(3600)).await?;
        let cpu_after = super::cpu::CpuTimes::now();
        let quiet = steady_timed(sandbox, arrivals, QUIET_UPDATES.min(updates), QUIET_RATE, 4).await?;
        Ok(TwoProcesses { flat_out_secs: (end - start).as_secs_f64(), cpu, cpu_after, quiet })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}
