//! The hub's consumers: one per agency queue this process holds, manual acks, a configured
//! prefetch. Hub processes on one database share the queues out between them (`store::leases`:
//! each takes its fair share, and the queues of a process that stops or dies are taken over within
//! `scale.check_secs`); each queue is single-active-consumer on the broker as well. A consumer
//! takes the messages its queue has ready (up to `broker.batch_size`, waiting at most
//! `broker.batch_linger_ms` for more) and hands them to `process` as one batch: archived and
//! read, then stored in one transaction — while it is stored, whatever arrives is archived and read
//! as the next batch — then the batch's dead letters confirmed, then one acknowledgement for all. A transient fault
//! closes the connections (so every unacknowledged message goes back to its queue), waits,
//! reconnects and goes on. Shutdown stops taking work, finishes the batch in hand and leaves the
//! rest unacknowledged for the next start.
use std::collections::BTreeMap;
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
use crate::store::leases::{Leases, Work};

/// Runs the consumers until `shutdown` turns true, reconnecting after transient faults.
pub async fn run(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    super::retry::keep_running("consuming", shutdown.clone(), || run_connected(&hub, shutdown.clone())).await
}

/// An agency's queue this process consumes: its connection, the switch that stops its consumer
/// and the consumer's task.
struct Consuming {
    conn: lapin::Connection,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn run_connected(hub: &Arc<Hub>, mut shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let names = Names::new(&hub.settings.broker.prefix);
    let agencies: Vec<AgencyId> = hub.settings.agencies.keys().cloned().collect();
    // Which queues this process consumes is shared out with the other hub processes on this
    // database (each queue has one active consumer anyway: single active consumer).
    let mut leases = Leases::join(&hub.pool, Work::Queues).await.map_err(crate::store::StoreError::from)?;
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel::<(i32, Result<(), RunError>)>();
    let mut consuming: BTreeMap<i32, Consuming> = BTreeMap::new();
    let every = std::time::Duration::from_secs(hub.settings.scale.check_secs.max(1));
    let result = loop {
        if *shutdown.borrow() {
            break Ok(());
        }
        if let Err(e) = balance(hub, &names, &agencies, &mut leases, &mut consuming, &ended_tx, &shutdown).await {
            break Err(e);
        }
        tokio::select! {
            Some((item, outcome)) = ended.recv() => {
                if let Err(e) = outcome {
                    // One queue failing means the connection or store is in doubt: stop all, reconnect.
                    tracing::warn!(queue = %names.inbound_queue(&agencies[item as usize]), "consumer stopped: {e}");
                    break Err(e);
                }
            }
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    };
    for (_, c) in std::mem::take(&mut consuming) {
        stop_consuming(c).await;
    }
    hub.stats.consumers_attached.store(0, std::sync::atomic::Ordering::SeqCst);
    leases.leave().await;
    result
}

/// Takes this process's fair share of the queues and gives up what is over it (a process
/// joined), starting with the queues no process consumes (a process left or died).
async fn balance(
    hub: &Arc<Hub>,
    names: &Names,
    agencies: &[AgencyId],
    leases: &mut Leases,
    consuming: &mut BTreeMap<i32, Consuming>,
    ended: &tokio::sync::mpsc::UnboundedSender<(i32, Result<(), RunError>)>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), RunError> {
    let share = leases.fair_share(agencies.len()).await.map_err(crate::store::StoreError::from)?;
    hub.stats.consumers_wanted.store(share, std::sync::atomic::Ordering::SeqCst);
    while consuming.len() > share {
        let Some((item, c)) = consuming.pop_last() else { break };
        tracing::info!(queue = %names.inbound_queue(&agencies[item as usize]), "another hub process shares the queues: handing this one over");
        stop_consuming(c).await;
        leases.give_up(item).await.map_err(crate::store::StoreError::from)?;
    }
    // Each process starts looking at a different queue, so that processes starting together
    // do not all reach for the same ones.
    let offset = std::process::id() as usize % agencies.len().max(1);
    for step in 0..agencies.len() {
        if consuming.len() >= share {
            break;
        }
        let item = ((offset + step) % agencies.len()) as i32;
        if consuming.contains_key(&item) || !leases.try_take(item).await.map_err(crate::store::StoreError::from)? {
            continue;
        }
        let agency = &agencies[item as usize];
        let (stop, stopped) = watch::channel(*shutdown.borrow());
        let (conn, consume) = match attach(hub, names, agency, &stopped).await {
            Ok(attached) => attached,
            Err(e) => {
                leases.give_up(item).await.map_err(crate::store::StoreError::from)?;
                return Err(e);
            }
        };
        let ended = ended.clone();
        let task = tokio::spawn(async move {
            let _ = ended.send((item, consume.await));
        });
        tracing::info!(queue = %names.inbound_queue(agency), "consuming");
        consuming.insert(item, Consuming { conn, stop, task });
    }
    hub.stats.consumers_attached.store(consuming.len(), std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// Stops one queue's consumer (it finishes the batch in hand) and closes its connection, so
/// whatever it had prefetched returns to the queue.
async fn stop_consuming(c: Consuming) {
    let _ = c.stop.send(true);
    let _ = c.task.await;
    crate::broker::close(&c.conn, "tracker stopping").await;
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
    // While one batch is stored, the next (if the broker already holds one) is archived and read.
    let mut next: Option<InHand> = None;
    loop {
        if *shutdown.borrow() {
            // Stop taking work; what was prefetched (a batch read but not stored included) returns
            // to the queue when the connection closes.
            let _ = ch.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
            return Ok(());
        }
        let current = match next.take() {
            Some(batch) => batch,
            None => {
                let first = tokio::select! {
                    biased;
                    _ = shutdown.changed() => continue,
                    next = consumer.next() => match next {
                        None => return Err(RunError::Cancelled(queue)),
                        Some(Err(e)) => return Err(e.into()),
                        Some(Ok(delivery)) => delivery,
                    },
                };
                let batch = gather(&mut consumer, first, BatchLimits::of(&hub)).await?;
                InHand::read(&hub, &agency, batch).await?
            }
        };
        // Store this batch; meanwhile wait for the next one's first message (the acknowledgement
        // of the batch before frees the prefetch it needs), then archive and read it.
        let store = finish(&hub, &names, &dead_ch, current);
        tokio::pin!(store);
        let first = tokio::select! {
            stored = &mut store => {
                stored?;
                continue;
            }
            next = consumer.next() => match next {
                None => return Err(RunError::Cancelled(queue)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(delivery)) => delivery,
            },
        };
        // Told once the store ends (a permit kept if nobody waits at that moment).
        let store_done = tokio::sync::Notify::new();
        let store = async {
            let outcome = store.await;
            store_done.notify_one();
            outcome
        };
        let read_next = read_while_storing(&hub, &agency, &queue, &mut consumer, first, &store_done);
        let (stored, read) = tokio::join!(store, read_next);
        stored?;
        next = Some(read?);
    }
}

/// Reads the next batch while the one before is stored: what the consumer holds when `first`
/// arrives, then whatever else arrives before the store ends (`store_done` notified), a piece
/// at a time, up to the batch's size. At a steady rate below capacity the
/// messages arriving during a store then wait for the next store, not the one after it, and
/// the batches stay even (taken only at `first`, a batch of one or two alternated with one of
/// everything that came during its store).
async fn read_while_storing(
    hub: &Hub,
    agency: &AgencyId,
    queue: &str,
    consumer: &mut lapin::Consumer,
    first: Delivery,
    store_done: &tokio::sync::Notify,
) -> Result<InHand, RunError> {
    let limits = BatchLimits::of(hub);
    let mut in_hand = InHand::read(hub, agency, gather(consumer, first, limits).await?).await?;
    // The store may end while a piece is read: its permit then ends the loop at the next look.
    while let Some(room) = limits.room_after(&in_hand) {
        let next = tokio::select! {
            biased;
            _ = store_done.notified() => break,
            next = consumer.next() => next,
        };
        let delivery = match next {
            None => return Err(RunError::Cancelled(queue.to_string())),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(delivery)) => delivery,
        };
        let more = InHand::read(hub, agency, gather(consumer, delivery, room).await?).await?;
        in_hand.append(more);
    }
    Ok(in_hand)
}

/// How much one batch may hold: `broker.batch_size` messages, `broker.batch_max_bytes` of
/// payload (a batch always takes one message), and how long to wait for more.
#[derive(Clone, Copy)]
struct BatchLimits {
    messages: usize,
    bytes: usize,
    linger: std::time::Duration,
}

impl BatchLimits {
    fn of(hub: &Hub) -> BatchLimits {
        BatchLimits {
            messages: hub.settings.broker.batch_size.max(1),
            bytes: hub.settings.broker.batch_max_bytes,
            linger: std::time::Duration::from_millis(hub.settings.broker.batch_linger_ms),
        }
    }

    /// What is left for more messages after `in_hand`, if anything.
    fn room_after(self, in_hand: &InHand) -> Option<BatchLimits> {
        let bytes: usize = in_hand.msgs.iter().map(|(m, _)| m.body.len()).sum();
        (in_hand.msgs.len() < self.messages && bytes < self.bytes).then(|| BatchLimits {
            messages: self.messages - in_hand.msgs.len(),
            bytes: self.bytes - bytes,
            linger: self.linger,
        })
    }
}

/// A batch taken from the queue and read, waiting to be stored: the messages, their
/// acknowledgers and what reading them found.
struct InHand {
    msgs: Vec<(Inbound, u32)>,
    ackers: Vec<lapin::Acker>,
    read: crate::runtime::process::ReadBatch,
    received: std::time::Instant,
}

impl InHand {
    /// Archives and reads a batch of deliveries (nothing stored yet).
    async fn read(hub: &Hub, agency: &AgencyId, batch: Vec<Delivery>) -> Result<InHand, RunError> {
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
                    traceparent: crate::runtime::message::traceparent(delivery.properties.headers().as_ref()),
                    body: delivery.data,
                },
                earlier,
            ));
            ackers.push(delivery.acker);
        }
        let refs: Vec<(&Inbound, u32)> = msgs.iter().map(|(m, n)| (m, *n)).collect();
        let read = hub.read_batch(&refs).await?;
        tracing::debug!(
            messages = refs.len(),
            took_ms = received.elapsed().as_millis() as u64,
            "batch archived and read"
        );
        Ok(InHand { msgs, ackers, read, received })
    }

    /// Adds messages that arrived after these, to be stored and acknowledged with them.
    fn append(&mut self, later: InHand) {
        self.msgs.extend(later.msgs);
        self.ackers.extend(later.ackers);
        self.read.append(later.read);
    }
}

/// The batch that begins with `first`: every further message the consumer already holds (or
/// that arrives within the linger), up to the limits, in queue order.
async fn gather(
    consumer: &mut lapin::Consumer,
    first: Delivery,
    limits: BatchLimits,
) -> Result<Vec<Delivery>, RunError> {
    use futures_util::FutureExt;
    let BatchLimits { messages: size, bytes: max_bytes, linger } = limits;
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

/// Stores a batch read before, publishes its dead letters, then acknowledges it.
async fn finish(hub: &Hub, names: &Names, dead_ch: &Channel, batch: InHand) -> Result<(), RunError> {
    let InHand { msgs, ackers, read, received } = batch;
    let refs: Vec<(&Inbound, u32)> = msgs.iter().map(|(m, n)| (m, *n)).collect();
    let storing = std::time::Instant::now();
    let outcomes = hub.store_batch(&refs, read).await?;
    tracing::debug!(messages = refs.len(), took_ms = storing.elapsed().as_millis() as u64, "batch stored");
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
    for ((msg, _), outcome) in msgs.iter().zip(&outcomes) {
        hub.stats.processing.observe(took);
        let env = msg.envelope();
        count(hub, &env, outcome);
        if hub.spans.is_on() {
            hub.spans.record(process_span(msg, &env, outcome, took));
        }
    }
    hub.stats.batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    hub.stats.acknowledged.fetch_add(outcomes.len() as u64, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// Counts a committed message for `/metrics` as the inbox records it: received, applied (in
/// whole or part, or kept), and its refusals by reason. A message seen before counts nothing.
fn count(hub: &Hub, env: &crate::store::message::Envelope, outcome: &Result<Applied, impl std::fmt::Display>) {
    let Ok(Applied::Stored { events, kept, dead_letters, .. }) = outcome else { return };
    let connector = &env.connector;
    let counters = &hub.stats.counters;
    counters.add("messages_received", &[connector], 1);
    if *events > 0 || *kept > 0 {
        counters.add("messages_applied", &[connector], 1);
    }
    for d in dead_letters {
        counters.add("refusals", &[connector, &d.code], 1);
    }
}

/// The span the message was processed in (for the OTLP exporter), in its trace.
fn process_span(
    msg: &Inbound,
    env: &crate::store::message::Envelope,
    outcome: &Result<Applied, impl std::fmt::Display>,
    took: std::time::Duration,
) -> crate::otlp::Span {
    let trace = crate::trace_context::TraceParent::of_message(&env.agency, &env.message_id, msg.traceparent.as_deref());
    let (span_id, parent) = crate::otlp::process_span(&trace, msg.traceparent.is_some());
    let end = std::time::SystemTime::now();
    let outcome = match outcome {
        Ok(Applied::Stored { events, refused, .. }) => format!("stored {events} events, {refused} refused"),
        Ok(Applied::Duplicate { .. }) => "seen before".to_string(),
        Err(e) => format!("not stored: {e}"),
    };
    crate::otlp::Span {
        trace_id: trace.trace_id,
        span_id,
        parent,
        name: "tracker.process",
        kind: crate::otlp::SpanKind::Consumer,
        start: end - took,
        end,
        attributes: vec![
            ("messaging.system", "rabbitmq".into()),
            ("messaging.message.id", env.message_id.to_string()),
            ("tracker.agency", env.agency.to_string()),
            ("tracker.connector", env.connector.to_string()),
            ("tracker.outcome", outcome),
        ],
    }
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
