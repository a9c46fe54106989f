//! `tracker bench reports`: the 42 reports over a generated store (or the configured one).
use std::time::Instant;

use anyhow::Context;

use crate::settings::Settings;
use crate::tools::sandbox::Sandbox;

use super::baseline::print_machine;

/// Loads generated traffic through the real connectors, then times every report over the whole
/// period (median of three runs each).
pub(super) async fn run(settings: Settings, generated: &super::Store) -> anyhow::Result<()> {
    let (sandbox, from, to) =
        load_generated(settings, "Report", generated.people, generated.months, generated.batches()).await?;
    super::baseline::print_memory_of(
        "this process after the load (the load, with the hub's consumers and store maintenance)",
    );
    let timed = time_reports(&sandbox.hub.pool, from, to).await;
    super::baseline::print_memory();
    finish(sandbox, generated.keep).await?;
    timed
}

/// Ends a benchmark's sandbox: drops its store, or with `keep` prints how to time it again.
pub(super) async fn finish(sandbox: Sandbox, keep: bool) -> anyhow::Result<()> {
    if !keep {
        return sandbox.finish().await;
    }
    let url = sandbox.finish_keeping_database().await?;
    println!(
        "store kept: time it again with TRACKER__DATABASE__URL={} tracker bench court --store (or reports --store)",
        crate::broker::redact_url(&url)
    );
    Ok(())
}

/// A sandboxed hub that loaded generated traffic for `people` over `months` from 2026-01-01
/// through the connectors (`tracker load`), its clock at the period's end; and the period.
pub(super) async fn load_generated(
    mut settings: Settings,
    what: &str,
    people: usize,
    months: u32,
    batches: crate::tools::load::Batches,
) -> anyhow::Result<(Sandbox, chrono::NaiveDate, chrono::NaiveDate)> {
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let to = from + chrono::Duration::days(i64::from(months) * 31);
    // The hub's clock stands at the period end, so its own records (log, inbox) fall inside.
    settings.clock.fixed = format!("{to}T00:00:00Z");
    let dir = std::env::temp_dir().join(format!("tracker-bench-{}", uuid::Uuid::new_v4().simple()));
    let generating = Instant::now();
    let plan = generate_elsewhere(people, months, &dir)?;
    println!(
        "{what} benchmark: {people} people over {months} months generated ({} payloads) in {:.1} s",
        plan.files(),
        generating.elapsed().as_secs_f64()
    );
    print_machine();
    let sandbox = Sandbox::start_consuming(settings, "bench").await?;
    let dead = crate::tools::load::DeadLetters { ch: &sandbox.ch, names: &sandbox.names };
    let cpu = super::cpu::CpuTimes::now();
    let loaded = crate::tools::load::load(sandbox.hub.clone(), &dir, plan, batches, &dead).await;
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded?;
    println!("{} (batches of {} files or {} KiB)", loaded.describe(), batches.files, batches.max_bytes / 1024);
    super::cpu::print_since("the load", cpu);
    Ok((sandbox, from, to))
}

/// Writes the generated traffic (seed 42) from a child process (`tracker demo generate`), and
/// returns its send plan (read as the load goes). The generator holds a whole period's records in memory
/// before writing them; in this process, what the allocator kept of that would count in the
/// resident memory printed for the hub that loads them.
fn generate_elsewhere(people: usize, months: u32, dir: &std::path::Path) -> anyhow::Result<crate::tools::load::Plan> {
    let exe = std::env::current_exe().context("finding this program to generate traffic with")?;
    let output = std::process::Command::new(exe)
        .args(["demo", "generate", "--seed", "42", "--people", &people.to_string(), "--months", &months.to_string()])
        .arg("--out")
        .arg(dir)
        .output()
        .context("running `tracker demo generate`")?;
    if !output.status.success() {
        anyhow::bail!("`tracker demo generate` failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    crate::tools::load::Plan::of_directory(dir)
}

/// Times every report over the configured store as it is, for the span of its events.
pub(super) async fn over_store(settings: Settings) -> anyhow::Result<()> {
    let pool = crate::store::connect(&settings.database.url, 2, "tracker bench").await?;
    crate::store::migrate(&pool).await?;
    // The period runs to the later of the last event and the hub's last record of one, so the
    // hub's own reports (disclosures, throughput, latency) are over the whole store too.
    let (first, last): (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT min(occurred_at), greatest(max(occurred_at), max(recorded_at)) FROM events")
            .fetch_one(&pool)
            .await?;
    let (Some(first), Some(last)) = (first, last) else { anyhow::bail!("the store holds no events") };
    println!("Report benchmark over {}", crate::broker::redact_url(&settings.database.url));
    print_machine();
    time_reports(&pool, first.date_naive(), last.date_naive() + chrono::Duration::days(1)).await
}

async fn time_reports(pool: &sqlx::PgPool, from: chrono::NaiveDate, to: chrono::NaiveDate) -> anyhow::Result<()> {
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    let people: i64 = sqlx::query_scalar("SELECT count(*) FROM subjects").fetch_one(pool).await?;
    let log: i64 = sqlx::query_scalar("SELECT count(*) FROM disclosure_log").fetch_one(pool).await?;
    println!("store: {events} events, {people} people, {log} disclosure-log entries; period {from} to {to}");
    let (confirmed, decided): (i64, i64) =
        sqlx::query_as("SELECT count(*) FILTER (WHERE published_at IS NOT NULL), count(*) FROM outbox")
            .fetch_one(pool)
            .await?;
    println!("outbox: {confirmed} of {decided} rows confirmed by the broker");
    if confirmed == 0 && decided > 0 {
        // A generated store is loaded with no publisher running: the delivery-latency report has
        // no confirmed delivery to read here, and is timed honestly only over a published store.
        println!(
            "  nothing here was published: delivery-latency times only the matched share; time it over a store a running hub published (--store)"
        );
    }
    // Fresh statistics, as autovacuum would have gathered after a load this size.
    sqlx::query("ANALYZE").execute(pool).await?;
    // The baseline: reading the two biggest tables once, the floor for a report over everything.
    for table in ["events", "disclosure_log"] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).execute(pool).await?;
            runs.push(t.elapsed());
        }
        runs.sort();
        println!("baseline: SELECT count(*) FROM {table:<15} {:>8.1} ms", runs[1].as_secs_f64() * 1e3);
    }
    let mut timings = Vec::new();
    for def in crate::reports::catalogue::in_order() {
        let mut runs = Vec::new();
        let mut rows = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let params = crate::reports::Params { from, to, court: None, agency: None };
            rows = crate::reports::run(pool, def.name, params).await?.rows.len();
            runs.push(t.elapsed());
        }
        runs.sort();
        timings.push((def.number, def.name, runs[1], rows));
    }
    println!("{:>3}  {:<30} {:>10} {:>6}", "#", "report", "median ms", "rows");
    for (n, name, t, rows) in &timings {
        println!("{n:>3}  {name:<30} {:>10.1} {rows:>6}", t.as_secs_f64() * 1e3);
    }
    let slowest = timings.iter().max_by_key(|t| t.2).map(|t| (t.1, t.2.as_secs_f64() * 1e3)).unwrap_or(("-", 0.0));
    let total: f64 = timings.iter().map(|t| t.2.as_secs_f64()).sum();
    println!("slowest: {} at {:.1} ms on {events} events; all 42 in {total:.2} s", slowest.0, slowest.1);
    Ok(())
}
