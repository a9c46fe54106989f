//! `tracker bench inbound`: police custody files totalling N rows through a sandboxed hub, beside
//! the baselines measured in the same run with the same messages: the broker windowed as the
//! hub's consumers take messages, a bare loop adding one insert per batch, and the broker one
//! message at a time.
use std::time::{Duration, Instant};

use crate::settings::Settings;
use crate::tools::sandbox::Sandbox;

use super::baseline::{Baselines, print_machine};
use super::traffic::{police_files, publish_all};

pub(super) async fn run(mut settings: Settings, rows: usize, rows_per_file: usize) -> anyhow::Result<()> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let files = police_files(rows, rows_per_file);
    let bytes: usize = files.iter().map(Vec::len).sum();
    let sandbox = Sandbox::start(settings, "bench").await?;
    println!(
        "Inbound benchmark: {rows} custody rows in {} police CSV files of {rows_per_file} rows ({} KiB each)",
        files.len(),
        bytes / files.len() / 1024
    );
    print_machine();

    // A custody file is stored, not forwarded: the baselines publish each message once.
    let baselines = Baselines::measure(&sandbox, &files, 1).await?;
    baselines.print(&sandbox);
    let msgs = files.len() as f64;

    let start = Instant::now();
    let cpu = super::cpu::CpuTimes::now();
    publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "police-05.police-custody", &files, "bench").await?;
    sandbox.wait_acknowledged(files.len() as u64, Duration::from_secs(3600)).await?;
    let took = start.elapsed().as_secs_f64();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&sandbox.hub.pool).await?;
    let refused: i64 = sqlx::query_scalar("SELECT count(*) FROM refusals").fetch_one(&sandbox.hub.pool).await?;
    anyhow::ensure!(
        events as usize == rows && refused == 0,
        "expected {rows} events and no refusals, got {events} and {refused}"
    );
    println!(
        "hub (archive → parse → validate → link → store → ack):        {:>8.0} msg/s  {:>8.0} events/s  ({took:.2} s)",
        msgs / took,
        events as f64 / took
    );
    super::cpu::print_since("the hub's run", cpu);
    baselines.print_ratio(msgs / took);
    super::baseline::print_memory();
    sandbox.finish().await
}
