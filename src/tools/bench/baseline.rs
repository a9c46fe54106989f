//! The baselines every benchmark prints beside its own figures: the machine it ran on; the broker
//! alone passing the same messages through as the hub's consumers take them (windowed: batches,
//! publishes in flight, one ack per batch); a bare loop doing the same plus one database insert
//! per batch with none of the hub's logic; and the broker one message at a time (a latency figure).
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};

use super::traffic::publish_all;
use crate::broker::publish;
use crate::tools::sandbox::Sandbox;

/// Prints the pass-through baseline as every benchmark shows it.
pub fn print_pass_through(messages: usize, took: Duration) {
    println!(
        "broker pass-through one message at a time (consume → publish, confirmed → ack; latency, not capacity): {:>8.0} msg/s",
        messages as f64 / took.as_secs_f64()
    );
}

/// The raw broker baseline: messages moved from quorum queue A to quorum queue B, each publish
/// confirmed before the ack, with the hub's prefetch. Returns the time the move took.
pub async fn pass_through(sandbox: &Sandbox, bodies: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let conn = crate::broker::connect(&sandbox.hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let (a, b) = (
        format!("{}.bench.a", sandbox.hub.settings.broker.prefix),
        format!("{}.bench.b", sandbox.hub.settings.broker.prefix),
    );
    for q in [&a, &b] {
        ch.queue_declare(q.as_str().into(), QueueDeclareOptions { durable: true, ..Default::default() }, args.clone())
            .await?;
    }
    publish_all(&ch, "", &a, bodies, "baseline").await?;
    let consume_ch = conn.create_channel().await?;
    consume_ch.basic_qos(sandbox.hub.settings.broker.prefetch, BasicQosOptions::default()).await?;
    let mut consumer = consume_ch
        .basic_consume(a.as_str().into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    let start = Instant::now();
    let mut moved = 0;
    while moved < bodies.len() {
        let Some(delivery) = consumer.next().await else { anyhow::bail!("baseline consumer closed") };
        let delivery = delivery?;
        publish::publish_confirmed(&ch, "", &b, &delivery.data, delivery.properties.clone()).await?;
        delivery.acker.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    let took = start.elapsed();
    for q in [&a, &b] {
        ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await?;
    }
    crate::broker::close(&conn, "bench done").await;
    Ok(took)
}

/// The line every benchmark prints first: cores and build.
pub(crate) fn print_machine() {
    println!(
        "machine: {} cores; build: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
}

/// What a windowed baseline does with each batch besides moving it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// The broker alone.
    BrokerOnly,
    /// The bare loop: one Postgres statement per batch (the batch's bodies inserted with one
    /// UNNEST, committed) before the publishes — the database round trip the hub cannot avoid,
    /// with none of its logic.
    OneInsertPerBatch,
}

/// The broker (and, for the bare loop, the database) at the hub's settings: messages moved from
/// quorum queue A to quorum queue B as the hub's consumers take them — up to `batch_size` ready
/// messages at a time under the hub's prefetch — each published `fanout` times (the hub's
/// recipients), every publish of a batch in flight at once and confirmed before one
/// `ack(multiple)`. Returns the time the move took.
pub async fn windowed(sandbox: &Sandbox, bodies: &[Vec<u8>], fanout: usize, work: Work) -> anyhow::Result<Duration> {
    use futures_util::FutureExt;
    let settings = &sandbox.hub.settings;
    let conn = crate::broker::connect(&settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let (a, b) = (format!("{}.bench.wa", settings.broker.prefix), format!("{}.bench.wb", settings.broker.prefix));
    for q in [&a, &b] {
        ch.queue_declare(q.as_str().into(), QueueDeclareOptions { durable: true, ..Default::default() }, args.clone())
            .await?;
    }
    if work == Work::OneInsertPerBatch {
        sqlx::query("CREATE TABLE IF NOT EXISTS bench_bare (message_id text PRIMARY KEY, body bytea NOT NULL)")
            .execute(&sandbox.hub.pool)
            .await?;
    }
    publish_all(&ch, "", &a, bodies, "windowed").await?;
    let consume_ch = conn.create_channel().await?;
    consume_ch.basic_qos(settings.broker.prefetch, BasicQosOptions::default()).await?;
    let mut consumer = consume_ch
        .basic_consume(a.as_str().into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    let size = settings.broker.batch_size.max(1);
    let start = Instant::now();
    let mut moved = 0;
    while moved < bodies.len() {
        let Some(first) = consumer.next().await else { anyhow::bail!("baseline consumer closed") };
        let mut batch = vec![first?];
        while batch.len() < size {
            match consumer.next().now_or_never() {
                Some(Some(delivery)) => batch.push(delivery?),
                _ => break,
            }
        }
        if work == Work::OneInsertPerBatch {
            let ids: Vec<String> = batch
                .iter()
                .map(|d| d.properties.message_id().as_ref().map(|m| m.to_string()).unwrap_or_default())
                .collect();
            let data: Vec<&[u8]> = batch.iter().map(|d| d.data.as_slice()).collect();
            sqlx::query(
                "INSERT INTO bench_bare (message_id, body) SELECT * FROM UNNEST($1::text[], $2::bytea[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(&ids)
            .bind(&data)
            .execute(&sandbox.hub.pool)
            .await?;
        }
        let mut confirms = Vec::with_capacity(batch.len() * fanout);
        for delivery in &batch {
            for _ in 0..fanout {
                let opts = lapin::options::BasicPublishOptions { mandatory: true, ..Default::default() };
                let props = delivery.properties.clone();
                confirms.push(ch.basic_publish("".into(), b.as_str().into(), opts, &delivery.data, props).await?);
            }
        }
        for c in confirms {
            let c = c.await?;
            anyhow::ensure!(c.is_ack() && c.take_message().is_none(), "a baseline publish was not confirmed");
        }
        if let Some(last) = batch.last() {
            last.acker.ack(BasicAckOptions { multiple: true }).await?;
        }
        moved += batch.len();
    }
    let took = start.elapsed();
    for q in [&a, &b] {
        ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await?;
    }
    if work == Work::OneInsertPerBatch {
        sqlx::query("DROP TABLE IF EXISTS bench_bare").execute(&sandbox.hub.pool).await?;
    }
    crate::broker::close(&conn, "bench done").await;
    Ok(took)
}

/// The baselines of a pipeline benchmark, measured in the same run as the hub's figure.
pub struct Baselines {
    pub messages: usize,
    pub fanout: usize,
    pub one_at_a_time: Duration,
    pub broker: Duration,
    pub bare_loop: Duration,
}

impl Baselines {
    /// Measures all three over `bodies` (each a message the hub would take).
    pub async fn measure(sandbox: &Sandbox, bodies: &[Vec<u8>], fanout: usize) -> anyhow::Result<Baselines> {
        Ok(Baselines {
            messages: bodies.len(),
            fanout,
            one_at_a_time: pass_through(sandbox, bodies).await?,
            broker: windowed(sandbox, bodies, fanout, Work::BrokerOnly).await?,
            bare_loop: windowed(sandbox, bodies, fanout, Work::OneInsertPerBatch).await?,
        })
    }

    fn rate(&self, took: Duration) -> f64 {
        self.messages as f64 / took.as_secs_f64()
    }

    pub fn print(&self, sandbox: &Sandbox) {
        let b = &sandbox.hub.settings.broker;
        println!(
            "broker pass-through, windowed (prefetch {}, batches of up to {}, {} publishes each confirmed → ack(multiple)): {:>8.0} msg/s",
            b.prefetch,
            b.batch_size,
            self.fanout,
            self.rate(self.broker)
        );
        println!(
            "bare loop (the same, plus one Postgres INSERT of the batch per batch, no hub logic):                        {:>8.0} msg/s",
            self.rate(self.bare_loop)
        );
        println!(
            "broker pass-through one message at a time (a latency figure, not capacity):                                 {:>8.0} msg/s",
            self.rate(self.one_at_a_time)
        );
    }

    /// The hub's rate (messages per second) as a share of each capacity baseline.
    pub fn print_ratio(&self, hub_rate: f64) {
        println!(
            "hub / broker windowed: {:.1} %   hub / bare loop: {:.1} %",
            100.0 * hub_rate / self.rate(self.broker),
            100.0 * hub_rate / self.rate(self.bare_loop)
        );
    }
}

/// Prints the benchmark process's resident memory now and at its peak (`/proc/self/status`):
/// the hub runs inside it, beside the benchmark's own publishers and watchers, so this is an
/// upper bound on what the hub alone holds.
pub(crate) fn print_memory() {
    print_memory_of("this process (hub and benchmark together)");
}

/// Prints the resident memory of this process now and at its peak, saying what it holds.
pub(crate) fn print_memory_of(what: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(now), Some(peak)) => {
            println!("resident memory of {what}: {} MB now, {} MB at peak", now / 1024, peak / 1024)
        }
        _ => println!("resident memory: not available on this system"),
    }
}
