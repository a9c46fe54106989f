//! The baselines every benchmark prints beside its own figures: the machine it ran on, and the
//! broker alone passing the same messages through (consume → publish with confirm → ack).
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
        "raw broker pass-through (consume → publish, confirmed → ack): {:>8.0} msg/s",
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
