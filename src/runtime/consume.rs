//! The hub's consumers: one per agency queue, manual acks, a configured prefetch. A consumer
//! takes the messages its queue has ready (up to `broker.batch_size`, waiting at most
//! `broker.batch_linger_ms` for more) and hands them to `process` as one batch: one transaction,
//! then the batch's dead letters confirmed, then one acknowledgement for all. A transient fault
//! closes the connection (so every unacknowledged message goes back to its queue), waits,
//! reconnects and goes on. Shutdown stops taking work, finishes the batch in hand and leaves the
//! rest unacknowledged for the next start.
use std::sync::Arc;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, message::Delivery};
use tokio::sync::watch;

use super::retry::RunError;
use crate::broker::{Names, publish};
use crate::domain::names::AgencyId;
use crate::hub::Hub;
use crate::runtime::apply::Applied;
use crate::runtime::message::Inbound;

/// Runs the consumers until `shutdown` turns true, reconnecting after transient faults.
pub async fn run(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    super::retry::keep_running("consuming", shutdown.clone(), || run_connected(&hub, shutdown.clone())).await
}

async fn run_connected(hub: &Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let names = Names::new(&hub.settings.broker.prefix);
    let mut connections = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for agency in hub.settings.agencies.keys() {
        // A connection per agency: one agency's large messages, in flight on its socket, never
        // queue ahead of another agency's frames.
        let attached = attach(hub, &names, agency, &shutdown).await;
        match attached {
            Ok((conn, task)) => {
                tasks.spawn(task);
                connections.push(conn);
            }
            Err(e) => {
                tasks.abort_all();
                for conn in &connections {
                    crate::broker::close(conn, "tracker reconnecting").await;
                }
                return Err(e);
            }
        }
    }
    tracing::info!(queues = tasks.len(), "consuming");
    hub.stats.consumers_attached.store(tasks.len(), std::sync::atomic::Ordering::SeqCst);
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.unwrap_or_else(|e| Err(RunError::Cancelled(e.to_string())));
        if let Err(e) = outcome {
            // One queue failing means the connection or store is in doubt: stop all, reconnect.
            tasks.abort_all();
            result = Err(e);
            break;
        }
    }
    hub.stats.consumers_attached.store(0, std::sync::atomic::Ordering::SeqCst);
    for conn in &connections {
        crate::broker::close(conn, "tracker stopping").await;
    }
    result
}

/// Opens an agency's connection and channels; the consumer to run on them.
async fn attach(
    hub: &Arc<Hub>,
    names: &Names,
    agency: &str,
    shutdown: &watch::Receiver<bool>,
) -> Result<(lapin::Connection, impl std::future::Future<Output = Result<(), RunError>> + use<>), RunError> {
    let conn = crate::broker::connect(&hub.settings.broker.url).await?;
    let consume_ch = conn.create_channel().await?;
    consume_ch.basic_qos(hub.settings.broker.prefetch, BasicQosOptions::default()).await?;
    let dead_ch = publish::confirm_channel(&conn).await?;
    let queue = names.inbound_queue(agency);
    let task = consume_queue(hub.clone(), names.clone(), consume_ch, dead_ch, agency.into(), queue, shutdown.clone());
    Ok((conn, task))
}

async fn consume_queue(
    hub: Arc<Hub>,
    names: Names,
    ch: Channel,
    dead_ch: Channel,
    agency: AgencyId,
    queue: String,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let tag = format!("tracker-{agency}-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                // Stop taking work; what was prefetched but not acked returns to the queue when the
                // connection closes.
                let _ = ch.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                return Ok(());
            }
            next = consumer.next() => match next {
                None => return Err(RunError::Cancelled(queue)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(delivery)) => {
                    let batch = gather(&hub, &mut consumer, delivery).await?;
                    handle(&hub, &names, &dead_ch, &agency, batch).await?
                }
            },
        }
    }
}

/// The batch that begins with `first`: every further message the consumer already holds (or
/// that arrives within the linger), up to the batch size or `batch_max_bytes` of payload, in
/// queue order.
async fn gather(hub: &Hub, consumer: &mut lapin::Consumer, first: Delivery) -> Result<Vec<Delivery>, RunError> {
    use futures_util::FutureExt;
    let size = hub.settings.broker.batch_size.max(1);
    let linger = std::time::Duration::from_millis(hub.settings.broker.batch_linger_ms);
    let max_bytes = hub.settings.broker.batch_max_bytes;
    let deadline = tokio::time::Instant::now() + linger;
    let mut bytes = first.data.len();
    let mut batch = vec![first];
    while batch.len() < size && bytes < max_bytes {
        let next = if linger.is_zero() {
            consumer.next().now_or_never()
        } else {
            tokio::time::timeout_at(deadline, consumer.next()).await.ok()
        };
        match next {
            Some(Some(Ok(delivery))) => {
                bytes += delivery.data.len();
                batch.push(delivery);
            }
            Some(Some(Err(e))) => return Err(e.into()),
            // Nothing more ready (or the stream ended: the next read reports it).
            Some(None) | None => break,
        }
    }
    Ok(batch)
}

async fn handle(
    hub: &Hub,
    names: &Names,
    dead_ch: &Channel,
    agency: &AgencyId,
    batch: Vec<Delivery>,
) -> Result<(), RunError> {
    let received = std::time::Instant::now();
    let mut ackers = Vec::with_capacity(batch.len());
    let mut msgs = Vec::with_capacity(batch.len());
    for delivery in batch {
        let earlier = earlier_deliveries(&delivery);
        msgs.push((
            Inbound {
                queue_agency: agency.clone(),
                routing_key: delivery.routing_key.to_string(),
                message_id: delivery.properties.message_id().as_ref().map(|m| m.to_string()),
                user_id: delivery.properties.user_id().as_ref().map(|u| u.to_string()),
                body: delivery.data,
            },
            earlier,
        ));
        ackers.push(delivery.acker);
    }
    let refs: Vec<(&Inbound, u32)> = msgs.iter().map(|(m, n)| (m, *n)).collect();
    let outcomes = hub.process_batch(&refs).await?;
    let mut all_stored = true;
    for ((msg, _), outcome) in msgs.iter().zip(&outcomes) {
        match outcome {
            Ok(Applied::Stored { dead_letters, .. } | Applied::Duplicate { dead_letters }) => {
                publish_dead_letters(hub, names, dead_ch, dead_letters).await?
            }
            Err(e) => {
                // Not even a refusal could be stored (the hub records one for anything the store
                // refuses): the broker dead-letters it, and the log is the only record.
                tracing::error!(routing_key = %msg.routing_key, "dead-lettering a message not even its refusal could be stored for: {e}");
                all_stored = false;
            }
        }
    }
    match ackers.last() {
        // One acknowledgement covers the whole batch: everything up to the last delivery.
        Some(last) if all_stored => {
            last.ack(BasicAckOptions { multiple: true }).await?;
        }
        _ => {
            for (acker, outcome) in ackers.iter().zip(&outcomes) {
                match outcome {
                    Ok(_) => acker.ack(BasicAckOptions::default()).await?,
                    Err(_) => acker.reject(BasicRejectOptions { requeue: false }).await?,
                };
            }
        }
    }
    let took = received.elapsed();
    for _ in &outcomes {
        hub.stats.processing.observe(took);
    }
    hub.stats.batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    hub.stats.acknowledged.fetch_add(outcomes.len() as u64, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// Publishes a message's dead letters, confirmed, and marks them so.
async fn publish_dead_letters(
    hub: &Hub,
    names: &Names,
    dead_ch: &Channel,
    dead_letters: &[crate::store::dead_letters::DeadLetter],
) -> Result<(), RunError> {
    if dead_letters.is_empty() {
        return Ok(());
    }
    for dl in dead_letters.iter().take(20) {
        tracing::warn!(code = %dl.code, position = dl.position, "refused: {}", dl.reason.escape_debug());
    }
    if dead_letters.len() > 20 {
        tracing::warn!("and {} more refusals of the same message", dead_letters.len() - 20);
    }
    publish::dead_letters(dead_ch, names, dead_letters, publish::DeadLetterPolicy::of(&hub.settings.limits)).await?;
    let ids: Vec<i64> = dead_letters.iter().map(|d| d.refusal_id).collect();
    crate::store::dead_letters::mark_dead_lettered(&hub.pool, &ids, hub.clock.now()).await?;
    Ok(())
}

/// How many times the broker delivered this message before without its being acknowledged: a
/// quorum queue counts them in `x-delivery-count` (absent on the first delivery), whether the
/// consumer rejected it or died holding it.
fn earlier_deliveries(delivery: &Delivery) -> u32 {
    use lapin::types::AMQPValue;
    let Some(headers) = delivery.properties.headers() else { return 0 };
    match headers.inner().get("x-delivery-count") {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::ShortInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::ShortShortInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}
