//! `tracker bench hostile`: does one agency's hostile traffic slow everyone else? Police arrests
//! delivered to three recipients at a steady rate, once on a quiet hub and once while a court
//! sends hostile payloads (deep nesting, attribute floods, 8 MB element floods, NUL bytes,
//! broken XML) — receipt-to-delivery latency of the police traffic in both, and the ratio,
//! beside the raw broker pass-through measured in the same run.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bench::{pass_through, publish_all};
use crate::bench_delivery::{Arrivals, arrest, involve_everyone, percentile, steady, watch_queues};
use crate::sandbox::Sandbox;
use crate::settings::Settings;

const COURT_KEY: &str = "court-b05lv00.court-results";

fn batch(inner: &str) -> Vec<u8> {
    format!("<ResultsBatch xmlns=\"urn:libra:results:2\" court=\"B05LV00\">\n{inner}\n</ResultsBatch>").into_bytes()
}

/// The court's hostile payloads, cycled to `count`: each is refused, none may hold the hub.
pub fn hostile_payloads(count: usize) -> Vec<Vec<u8>> {
    let kinds: Vec<Vec<u8>> = vec![
        batch(&format!("<Case>{}{}</Case>", "<a>".repeat(5_000), "</a>".repeat(5_000))),
        batch(&format!("<Case{}/>", (0..100_000).map(|i| format!(" a{i}=\"1\"")).collect::<String>())),
        batch(&"<Case/>".repeat(1_190_000)),
        batch(&format!("<Case urn=\"1\"><Name>a\u{0}b</Name></Case>{}", "<Case>".repeat(1000))),
        batch(&"<Case><Outcome>x</Outcome></Case>".repeat(20_000)),
    ];
    (0..count).map(|i| kinds[i % kinds.len()].clone()).collect()
}

pub async fn run(mut settings: Settings, updates: usize, rate: u32, hostile: usize) -> anyhow::Result<()> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let sandbox = Sandbox::start(settings, "bench").await?;
    let attack = hostile_payloads(hostile);
    let attack_bytes: usize = attack.iter().map(Vec::len).sum();
    println!(
        "Hostile-traffic benchmark: police arrests at {rate}/s to 3 recipients ({updates} per phase), quiet and \
         while court-b05lv00 sends {hostile} hostile payloads ({} MiB)",
        attack_bytes / (1 << 20)
    );
    crate::bench::print_machine();
    involve_everyone(&sandbox, updates).await?;
    let baseline = pass_through(&sandbox, &(0..updates).map(|p| arrest(p, 0)).collect::<Vec<_>>()).await?;
    crate::bench::print_pass_through(updates, baseline);
    let arrivals = Arc::new(Arrivals { at: Default::default(), total: Default::default() });
    let watchers = watch_queues(&sandbox, arrivals.clone()).await?;

    let quiet = steady(&sandbox, &arrivals, updates, rate, 2).await?;
    report("quiet", &quiet);

    // The attack is published in the background, spread over the phase.
    let phase = Duration::from_secs_f64(updates as f64 / f64::from(rate.max(1)));
    let (ch, exchange) = (sandbox.ch.clone(), sandbox.names.inbound_exchange());
    let before = sandbox.acknowledged();
    let attacker = tokio::spawn(async move {
        let gap = phase / (attack.len().max(1) as u32);
        for (i, body) in attack.iter().enumerate() {
            publish_all(&ch, &exchange, COURT_KEY, std::slice::from_ref(body), &format!("attack-{i:04}")).await?;
            tokio::time::sleep(gap).await;
        }
        anyhow::Ok(())
    });
    let started = Instant::now();
    let attacked = steady(&sandbox, &arrivals, updates, rate, 3).await?;
    attacker.await??;
    sandbox.wait_acknowledged(before + (updates + hostile) as u64, Duration::from_secs(3600)).await?;
    report("under attack", &attacked);
    let refused: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT message_id) FROM refusals WHERE message_id LIKE 'attack-%'")
            .fetch_one(&sandbox.hub.pool)
            .await?;
    let p99 = |l: &[Duration]| percentile(l, 0.99).as_secs_f64();
    println!(
        "hostile payloads refused and recorded: {refused} of {hostile}; phase took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("p99 under attack / quiet: {:.2}  (the goal: at most 1.20)", p99(&attacked) / p99(&quiet).max(1e-9));
    for w in watchers {
        w.abort();
    }
    sandbox.finish().await
}

fn report(what: &str, latencies: &[Duration]) {
    println!(
        "{what:>13}: latency publish → delivered  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} deliveries)",
        percentile(latencies, 0.50).as_secs_f64() * 1e3,
        percentile(latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len()
    );
}
