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
    publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "police-05.police-custody", &bodies, "flat").await?;
    let end = wait_total(&arrivals, updates * RECIPIENTS.len(), Duration::from_secs(3600)).await?;
    let took = (end - start).as_secs_f64();
    println!(
        "hub flat out: {:>8.0} updates/s  {:>8.0} deliveries/s  ({} deliveries in {took:.2} s)",
        updates as f64 / took,
        (updates * RECIPIENTS.len()) as f64 / took,
        updates * RECIPIENTS.len()
    );
    baselines.print_ratio(updates as f64 / took);

    // Steady rate (below capacity).
    let rate = rate.unwrap_or(((updates as f64 / took) / 2.0).max(1.0) as u32);
    let latencies = steady(&sandbox, &arrivals, updates, rate, 2).await?;
    println!(
        "hub at {rate} updates/s: latency publish → delivered  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} deliveries)",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len()
    );
    for w in watchers {
        w.abort();
    }
    super::baseline::print_memory();
    sandbox.finish().await
}
