//! `tracker bench hostile`: does one agency's hostile traffic slow everyone else? Police arrests
//! delivered to three recipients at a steady rate, once on a quiet hub and once while a court
//! sends hostile payloads (deep nesting, attribute floods, 8 MB element floods, NUL bytes,
//! broken XML) — receipt-to-delivery latency of the police traffic in both, and the ratio,
//! beside two baselines measured in the same run: the raw broker pass-through, and the police
//! latency while the broker alone takes the same attack into a queue nobody reads.
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};

use super::baseline::pass_through;
use super::traffic::{
    Arrivals, arrest, involve_everyone, percentile, print_latencies, publish_all, steady, watch_queues,
};
use crate::settings::Settings;
use crate::tools::sandbox::Sandbox;

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

pub(super) async fn run(mut settings: Settings, updates: usize, rate: u32, hostile: usize) -> anyhow::Result<()> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let sandbox = Sandbox::start(settings, "bench").await?;
    let attack = hostile_payloads(hostile);
    let attack_bytes: usize = attack.iter().map(Vec::len).sum();
    println!(
        "Hostile-traffic benchmark: police arrests at {rate}/s to 3 recipients ({updates} per condition, in \
         {ROUNDS} rounds): quiet; while the broker takes {hostile} hostile payloads ({} MiB) into a queue nobody \
         reads; while court-b05lv00 sends the same payloads to the hub",
        attack_bytes / (1 << 20)
    );
    super::baseline::print_machine();
    involve_everyone(&sandbox, updates).await?;
    let baseline = pass_through(&sandbox, &(0..updates).map(|p| arrest(p, 0)).collect::<Vec<_>>()).await?;
    super::baseline::print_pass_through(updates, baseline);
    let arrivals = Arc::new(Arrivals { at: Default::default(), total: Default::default() });
    let watchers = watch_queues(&sandbox, arrivals.clone()).await?;
    let url = sandbox.hub.settings.broker.url.clone();

    // The three conditions take turns, a round at a time, so that a stall of the machine (a
    // checkpoint, another process) falls on all of them alike rather than on one phase.
    let rounds = ROUNDS.min(updates.max(1)).min(hostile.max(1));
    let per_round = updates / rounds;
    let round_phase = Duration::from_secs_f64(per_round as f64 / f64::from(rate.max(1)));
    let sink = format!("{}.bench.sink", sandbox.hub.settings.broker.prefix);
    let court = Target::Exchange(sandbox.names.inbound_exchange(), COURT_KEY.into());
    let (mut quiet, mut broker_alone, mut attacked) = (Vec::new(), Vec::new(), Vec::new());
    let before = sandbox.acknowledged();
    let started = Instant::now();
    let mut sent = 0;
    for round in 0..rounds {
        let phase = 2 + 3 * round;
        let first_id = hostile * round / rounds;
        let share = attack[first_id..hostile * (round + 1) / rounds].to_vec();
        sent += share.len();
        let share = Arc::new(share);
        quiet.extend(steady(&sandbox, &arrivals, per_round, rate, phase).await?);
        // The broker's own cost: the same payloads, at the same pace, into a quorum queue that
        // no one reads. What this does to police latency no hub could avoid.
        let broker_only = attacker(url.clone(), Target::Queue(sink.clone()), share.clone(), first_id, round_phase);
        broker_alone.extend(steady(&sandbox, &arrivals, per_round, rate, phase + 1).await?);
        join(broker_only)?;
        delete_queue(&sandbox, &sink).await?;
        let hub_attack = attacker(url.clone(), court.clone(), share, first_id, round_phase);
        attacked.extend(steady(&sandbox, &arrivals, per_round, rate, phase + 2).await?);
        join(hub_attack)?;
    }
    sandbox.wait_acknowledged(before + (per_round * rounds * 3 + sent) as u64, Duration::from_secs(3600)).await?;
    for l in [&mut quiet, &mut broker_alone, &mut attacked] {
        l.sort();
    }
    print_latencies(&format!("{:>13}", "quiet"), &quiet, "");
    print_latencies(&format!("{:>13}", "broker alone"), &broker_alone, "");
    print_latencies(&format!("{:>13}", "under attack"), &attacked, "");
    let refused: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT message_id) FROM refusals WHERE message_id LIKE 'attack-%'")
            .fetch_one(&sandbox.hub.pool)
            .await?;
    let p99 = |l: &[Duration]| percentile(l, 0.99).as_secs_f64().max(1e-9);
    println!(
        "hostile payloads refused and recorded: {refused} of {hostile}; {rounds} rounds took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "p99 under attack / quiet: {:.2}  (the goal: at most 1.20); broker alone / quiet: {:.2}; under attack / broker alone: {:.2}",
        p99(&attacked) / p99(&quiet),
        p99(&broker_alone) / p99(&quiet),
        p99(&attacked) / p99(&broker_alone)
    );
    for w in watchers {
        w.abort();
    }
    super::baseline::print_memory();
    sandbox.finish().await
}

/// Rounds of (quiet, broker alone, under attack).
const ROUNDS: usize = 3;

/// Where the attacker publishes: the hub's inbound exchange under a key, or straight into a queue.
#[derive(Clone)]
enum Target {
    Exchange(String, String),
    Queue(String),
}

/// Publishes the payloads spread evenly over `phase`, as another agency would: from its own
/// thread, runtime and broker connection, so the benchmark's publishing and watching of the
/// police traffic never waits behind a megabyte frame on a shared socket.
fn attacker(
    url: String,
    target: Target,
    payloads: Arc<Vec<Vec<u8>>>,
    first_id: usize,
    phase: Duration,
) -> std::thread::JoinHandle<anyhow::Result<()>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let conn = crate::broker::connect(&url).await?;
            let ch = crate::broker::publish::confirm_channel(&conn).await?;
            let (exchange, key) = match target {
                Target::Exchange(exchange, key) => (exchange, key),
                Target::Queue(queue) => {
                    let mut args = FieldTable::default();
                    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
                    let opts = QueueDeclareOptions { durable: true, ..Default::default() };
                    ch.queue_declare(queue.as_str().into(), opts, args).await?;
                    (String::new(), queue)
                }
            };
            let gap = phase / (payloads.len().max(1) as u32);
            for (i, body) in payloads.iter().enumerate() {
                publish_all(&ch, &exchange, &key, std::slice::from_ref(body), &format!("attack-{:04}", first_id + i))
                    .await?;
                tokio::time::sleep(gap).await;
            }
            crate::broker::close(&conn, "attack sent").await;
            anyhow::Ok(())
        })
    })
}

fn join(attacker: std::thread::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    attacker.join().map_err(|_| anyhow::anyhow!("the attacking thread panicked"))?
}

async fn delete_queue(sandbox: &Sandbox, queue: &str) -> anyhow::Result<()> {
    sandbox.ch.queue_delete(queue.into(), QueueDeleteOptions::default()).await?;
    Ok(())
}
