//! The outbox publisher: drains decided deliveries in the order they were decided — of the
//! outbox partitions (by person) this process holds, shared out with the other hub processes
//! (`store::leases`) — re-checks
//! consent (a withdrawal stops what is not yet sent, and the change is logged), builds each
//! recipient's copy and publishes it persistent and mandatory to `tracker.outbound` with a
//! publisher confirm. A row is marked published only once confirmed; an unroutable or nacked
//! publish is retried, never dropped. Message ids are deterministic per (event, recipient).
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};

use crate::trace_context::TraceParent;
use lapin::{BasicProperties, Channel, PublisherConfirm};
use tokio::sync::watch;
use uuid::Uuid;

use super::retry::RunError;
use crate::broker::{BrokerError, Names, publish};
use crate::hub::Hub;
use crate::settings::DeliveryFormat;
use crate::sharing::copy::{CopyFor, recipient_copy};
use crate::sharing::decide::{ConsentScope, Grant};
use crate::sharing::log::LogEntry;
use crate::sharing::{facts, log, notice, today};

/// Rows read from the outbox at a time (fewer when the window has less room).
const BATCH: usize = 256;

use crate::store::leases::{Leases, Work};
use crate::store::outbox::Pending;

/// Runs the publisher until `shutdown`, reconnecting after faults.
pub async fn run(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    // Stopped with the publisher, however it ends (returned, or dropped when a stop times out).
    let _told = StopOnDrop(tokio::spawn(wake_when_told(hub.clone())));
    super::retry::keep_running("publishing", shutdown.clone(), || run_connected(&hub, shutdown.clone())).await
}

/// A task stopped when this is dropped.
struct StopOnDrop(tokio::task::JoinHandle<()>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wakes the publisher whenever another hub process on this database commits rows to publish
/// (PostgreSQL's notification, sent by the outbox's trigger at commit, naming the writer's
/// connection): rows another process decided for this one's partitions are read at once rather
/// than at the next tick. This process's own commits woke the publisher already: heard again,
/// each was a second read finding nothing. A lost connection is opened again; meanwhile the tick
/// still finds the rows.
async fn wake_when_told(hub: Arc<Hub>) {
    loop {
        match crate::store::outbox::listen_for_new_rows(&hub.settings.database.url).await {
            Ok(mut listener) => loop {
                match listener.recv().await {
                    Ok(told) if told.payload() == hub.name => {}
                    Ok(_) => hub.publisher_wakeup.notify_one(),
                    Err(e) => {
                        tracing::debug!("outbox notifications: {e}");
                        break;
                    }
                }
            },
            Err(e) => tracing::debug!("outbox notifications: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn run_connected(hub: &Hub, mut shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let conn = crate::broker::connect(&hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    let names = Names::new(&hub.settings.broker.prefix);
    // The outbox's partitions are shared out with the other hub processes on this database.
    let mut leases = Leases::join(&hub.pool, Work::Publishing).await.map_err(crate::store::StoreError::from)?;
    let partitions = i32::from(hub.settings.scale.publisher_partitions.max(1));
    let every = Duration::from_secs(hub.settings.scale.check_secs.max(1));
    let mut checked = tokio::time::Instant::now() - every;
    let mut window = Window::new(hub.settings.broker.publish_window);
    // Whether the outbox may hold rows not yet read. A read that returns fewer rows than it asked
    // for saw them all: the next waits for word of new ones (a commit in this process, any
    // process's notification, a tick), not for each confirm or mark — that re-reading was a
    // statement per wake-up that found nothing, several for each batch stored.
    let mut unread = Unread::Maybe;
    hub.stats.publisher_connected.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = async {
        loop {
            if *shutdown.borrow() {
                return window.drain(hub).await;
            }
            // Partitions change hands only with nothing in flight, so no row is published by two
            // processes at once.
            if checked.elapsed() >= every {
                window.drain(hub).await?;
                balance(&mut leases, partitions).await?;
                checked = tokio::time::Instant::now();
                unread = Unread::Maybe;
            }
            window.settle_ready(hub).await?;
            let held: Vec<i32> = leases.held().iter().copied().collect();
            let room = window.room();
            let after = window.last_id();
            if unread == Unread::BeforeCursor && after.is_none() {
                // Read past a row whose transaction committed after a later one's: read again
                // from the start now that nothing is in flight (see `Window::last_id`).
                unread = Unread::Maybe;
            }
            let batch: Vec<Pending> = if held.is_empty() || room == 0 || unread != Unread::Maybe {
                Vec::new()
            } else {
                let asked = room.min(BATCH);
                let batch = pending(hub, &held, partitions, asked, after).await?;
                if batch.len() < asked {
                    unread = if after.is_some() { Unread::BeforeCursor } else { Unread::None };
                }
                batch
            };
            if !batch.is_empty() {
                publish_batch(hub, &ch, &names, batch, &mut window).await?;
                continue;
            }
            // Nothing more to send for now: wait for the oldest confirm, confirmed rows to mark,
            // new decisions or a tick.
            let mark_at = window.mark_deadline();
            tokio::select! {
                _ = window.oldest_confirmed(), if window.awaiting_answers() => {}
                _ = tokio::time::sleep_until(mark_at.unwrap_or_else(tokio::time::Instant::now)), if mark_at.is_some() => {}
                _ = hub.publisher_wakeup.notified() => unread = Unread::Maybe,
                _ = tokio::time::sleep(every.min(Duration::from_secs(1))) => unread = Unread::Maybe,
                _ = shutdown.changed() => {}
            }
        }
    }
    .await;
    hub.stats.publisher_connected.store(false, std::sync::atomic::Ordering::SeqCst);
    leases.leave().await;
    crate::broker::close(&conn, "publisher stopping").await;
    result
}

/// What the publisher knows of rows it has not read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// There may be some: read.
    Maybe,
    /// None, as of the last read.
    None,
    /// None after the cursor; one committed late with an id before it may wait there until the
    /// window empties.
    BeforeCursor,
}

/// Takes this process's fair share of the outbox partitions (those no process holds first) and
/// gives up what is over it.
async fn balance(leases: &mut Leases, partitions: i32) -> Result<(), RunError> {
    let share = leases.fair_share(partitions as usize).await.map_err(crate::store::StoreError::from)?;
    while leases.held().len() > share {
        let Some(last) = leases.held().last().copied() else { break };
        leases.give_up(last).await.map_err(crate::store::StoreError::from)?;
    }
    let offset = (std::process::id() % partitions as u32) as i32;
    for step in 0..partitions {
        if leases.held().len() >= share {
            break;
        }
        leases.try_take((offset + step) % partitions).await.map_err(crate::store::StoreError::from)?;
    }
    Ok(())
}

/// The next rows to publish (at most `limit`, at most `BATCH` as the caller asks; all after
/// `after`: the last row in flight), each with the trace context its message came with.
async fn pending(
    hub: &Hub,
    partitions: &[i32],
    of: i32,
    limit: usize,
    after: Option<i64>,
) -> Result<Vec<Pending>, RunError> {
    crate::store::outbox::pending(&hub.pool, limit as i64, partitions, of, after)
        .await
        .map_err(|e| RunError::from(crate::store::StoreError::from(e)))
}

/// Publishes rows into the window, in order, without waiting for their confirms. A row whose
/// decision changes at publish (consent withdrawn, nothing left to name, a copy that cannot be
/// built) is withheld only once everything published before it is confirmed, so order and
/// "published" stay true.
async fn publish_batch(
    hub: &Hub,
    ch: &Channel,
    names: &Names,
    batch: Vec<Pending>,
    window: &mut Window,
) -> Result<(), RunError> {
    let now = hub.clock.now();
    // Deliveries withheld in this batch: a notice about one of them has nothing to name.
    let mut withheld_now: Vec<Uuid> = Vec::new();
    let mut decoded = LastDecoded::default();
    let mut ready = ReadyToSend::default();
    for row in batch {
        let reason = if row.kind != "delivery"
            && (row.nothing_sent || row.refers_to.is_some_and(|r| withheld_now.contains(&r)))
        {
            "nothing_sent"
        } else if let Some(scope) = row.consent_scope.as_deref().and_then(ConsentScope::parse)
            && !consent_still_covers(hub, row.subject_id, scope, now).await?
        {
            "no_consent"
        } else {
            match decoded.of(hub, &row).and_then(|stored| message(hub, &row, stored).map_err(|e| e.to_string())) {
                Ok((body, props)) => {
                    ready.rows.push((row, body, props));
                    continue;
                }
                Err(e) => {
                    tracing::error!(event_id = %row.event_id, recipient = %row.recipient, "cannot build the delivery: {e}");
                    "error"
                }
            }
        };
        // Everything before it goes out and is confirmed first.
        ready.send(ch, names, window).await?;
        window.drain(hub).await?;
        withhold_at_publish(hub, &row, reason, now).await?;
        if reason != "nothing_sent" {
            withheld_now.push(row.message_id);
        }
    }
    ready.send(ch, names, window).await
}

/// Copies built and not yet handed to the broker, in outbox order.
#[derive(Default)]
struct ReadyToSend {
    rows: Vec<(Pending, Vec<u8>, BasicProperties)>,
}

impl ReadyToSend {
    /// Hands every copy to the connection at once and puts them in the window. Each publish
    /// resolves only once lapin's I/O thread has written it, so publishing them one after another
    /// waited for that thread once per copy (a few milliseconds a batch on a busy machine, at
    /// times 15); polled together, their frames are queued in this order in one go (a publish
    /// queues its frames and takes its confirm's place in the sequence on its first poll, and
    /// `join_all` polls them first in order), and written together.
    async fn send(&mut self, ch: &Channel, names: &Names, window: &mut Window) -> Result<(), RunError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut rows = std::mem::take(&mut self.rows);
        let exchange = names.outbound_exchange();
        let opts = BasicPublishOptions { mandatory: true, ..Default::default() };
        let confirms = futures_util::future::join_all(rows.iter_mut().map(|(row, body, props)| {
            ch.basic_publish(exchange.as_str().into(), row.recipient.as_str().into(), opts, body, std::mem::take(props))
        }))
        .await;
        for ((row, ..), confirm) in rows.into_iter().zip(confirms) {
            let confirm = confirm.map_err(BrokerError::from)?;
            window.push(InFlight {
                id: row.id,
                recipient: row.recipient.to_string(),
                kind: row.kind.clone(),
                trace: delivery_trace(&row),
                message_id: row.message_id,
                decided_at: row.decided_at,
                sent: std::time::SystemTime::now(),
                taken: std::time::Instant::now(),
                confirm,
                outcome: None,
            });
        }
        Ok(())
    }
}

/// How long a publish may wait for its confirm before the connection is judged broken.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Publishes awaiting their confirms, oldest first, at most `broker.publish_window` of them:
/// the publisher sends the next rows while earlier ones are confirmed. Confirmed rows are marked
/// published in order and together (`MARK_BATCH`, `MARK_LINGER`, or the window full), each at the time its confirm
/// was seen; until marked they keep their place in the window. The first nack, return or timeout
/// stops the publisher (what is not marked is published again, under the same message ids).
struct Window {
    size: usize,
    in_flight: std::collections::VecDeque<InFlight>,
    /// Confirmed, not yet marked.
    confirmed: Vec<Confirmed>,
}

/// A publish the broker confirmed, with when its confirm was seen.
struct Confirmed {
    row: InFlight,
    /// By the hub's clock: the row's `published_at`.
    at: DateTime<Utc>,
    /// By the monotonic clock: for the linger and the publishing histogram.
    seen: std::time::Instant,
}

/// Confirmed rows are marked published once this many wait...
const MARK_BATCH: usize = 256;
/// ...or once the oldest has waited this long. Marking is one statement whatever the count (it
/// also adds to the latency totals), so marking each confirm as it came cost the database about
/// a millisecond per two or three rows; a short wait lets one statement mark dozens. Nothing is
/// delivered later for it: the broker has the message already.
const MARK_LINGER: Duration = Duration::from_millis(20);

impl Window {
    fn new(size: usize) -> Window {
        Window { size: size.max(1), in_flight: std::collections::VecDeque::new(), confirmed: Vec::new() }
    }

    /// Whether any publish still waits for the broker's answer.
    fn awaiting_answers(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// How many more rows may be published before the oldest is confirmed and marked.
    fn room(&self) -> usize {
        self.size.saturating_sub(self.in_flight.len() + self.confirmed.len())
    }

    /// The last outbox row in flight or waiting to be marked: the next rows are read after it.
    /// Rows are read in id order, so every pending row before it is in the window — except one
    /// whose transaction committed after a later id was read (ids are taken at insert, not at
    /// commit). Such a row is read once the window is empty (it is drained at every lease check),
    /// so it waits seconds, never for ever. A cursor rather than a list of the ids to skip:
    /// `id <> ALL(1,024 ids)` cost PostgreSQL ~2 ms per read, comparing every row in flight
    /// against every other.
    fn last_id(&self) -> Option<i64> {
        self.in_flight.iter().map(|f| f.id).chain(self.confirmed.iter().map(|c| c.row.id)).max()
    }

    fn push(&mut self, f: InFlight) {
        self.in_flight.push_back(f);
    }

    /// Resolves once the oldest publish has its answer (cancel-safe: nothing is lost if another
    /// branch of a `select!` wins).
    async fn oldest_confirmed(&mut self) {
        if let Some(front) = self.in_flight.front_mut() {
            front.wait().await;
        }
    }

    /// When the oldest confirmed row will have waited `MARK_LINGER` to be marked.
    fn mark_deadline(&self) -> Option<tokio::time::Instant> {
        self.confirmed.first().map(|c| (c.seen + MARK_LINGER).into())
    }

    /// Takes the oldest publishes that have their answers, without waiting for the others, and
    /// marks the confirmed ones once enough wait, the window is full or the oldest has waited
    /// long enough. A refusal
    /// or broken connection stops here, after marking what was confirmed before it.
    async fn settle_ready(&mut self, hub: &Hub) -> Result<(), RunError> {
        let failure = self.take_answered(hub);
        // A full window marks at once: a small `publish_window` must not wait out the linger.
        let due = self.confirmed.len() >= MARK_BATCH
            || (!self.confirmed.is_empty() && self.room() == 0)
            || self.confirmed.first().is_some_and(|c| c.seen.elapsed() >= MARK_LINGER);
        if failure.is_some() || due {
            self.mark(hub).await?;
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Moves the answered publishes at the front to `confirmed`, stopping at the first that was
    /// refused (returned as the failure) or that has waited past `CONFIRM_TIMEOUT`.
    fn take_answered(&mut self, hub: &Hub) -> Option<BrokerError> {
        while let Some(front) = self.in_flight.front_mut() {
            if !front.answered_now() {
                if front.taken.elapsed() > CONFIRM_TIMEOUT {
                    return Some(BrokerError::Timeout(format!("the confirm of outbox row {}", front.id)));
                }
                return None;
            }
            let f = self.in_flight.pop_front()?;
            match f.outcome {
                Some(Err(ConfirmFailure::Refused)) => {
                    return Some(BrokerError::Refused {
                        what: format!("outbox row {}", f.id),
                        why: "nacked or unroutable".into(),
                    });
                }
                Some(Err(ConfirmFailure::Broker(e))) => return Some(BrokerError::from(e)),
                _ => self.confirmed.push(Confirmed { row: f, at: hub.clock.now(), seen: std::time::Instant::now() }),
            }
        }
        None
    }

    /// Marks every confirmed row published.
    async fn mark(&mut self, hub: &Hub) -> Result<(), RunError> {
        settle(hub, std::mem::take(&mut self.confirmed)).await
    }

    /// Waits for every publish in flight and marks them.
    async fn drain(&mut self, hub: &Hub) -> Result<(), RunError> {
        while let Some(front) = self.in_flight.front_mut() {
            let id = front.id;
            if tokio::time::timeout(CONFIRM_TIMEOUT, front.wait()).await.is_err() {
                self.mark(hub).await?;
                return Err(BrokerError::Timeout(format!("the confirm of outbox row {id}")).into());
            }
            if let Some(e) = self.take_answered(hub) {
                self.mark(hub).await?;
                return Err(e.into());
            }
        }
        self.mark(hub).await
    }
}

/// The update last decoded. An update goes to several recipients, its rows one after another,
/// so it is decoded once for all of them.
#[derive(Default)]
struct LastDecoded(Option<(Uuid, Result<serde_json::Value, String>)>);

impl LastDecoded {
    /// The stored update of `row`, decoded (or why it cannot be).
    fn of(&mut self, hub: &Hub, row: &Pending) -> Result<&serde_json::Value, String> {
        if !matches!(&self.0, Some((event_id, _)) if *event_id == row.event_id) {
            self.0 = None;
        }
        let (_, stored) = self.0.get_or_insert_with(|| {
            (row.event_id, hub.schemas.decode_stored(&row.schema_fingerprint, &row.avro).map_err(|e| e.to_string()))
        });
        stored.as_ref().map_err(Clone::clone)
    }
}

/// Why a publish was not confirmed.
enum ConfirmFailure {
    /// Nacked, or returned unroutable.
    Refused,
    Broker(lapin::Error),
}

/// Marks confirmed rows published (one statement), then counts them and records their spans.
async fn settle(hub: &Hub, confirmed: Vec<Confirmed>) -> Result<(), RunError> {
    if confirmed.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = confirmed.iter().map(|c| c.row.id).collect();
    let times: Vec<DateTime<Utc>> = confirmed.iter().map(|c| c.at).collect();
    crate::store::outbox::mark_published(&hub.pool, &ids, &times).await.map_err(crate::store::StoreError::from)?;
    let real_clock = matches!(hub.clock, crate::clock::Clock::System);
    for Confirmed { row: f, at, seen } in confirmed {
        hub.stats.publishing.observe(seen.duration_since(f.taken));
        // Receipt to confirmed delivery, when the hub runs on the real clock.
        if real_clock && let Ok(latency) = (at - f.decided_at).to_std() {
            hub.stats.delivery.observe(latency);
        }
        match f.kind.as_str() {
            "delivery" => hub.stats.counters.add("deliveries_confirmed", &[&f.recipient], 1),
            notice => hub.stats.counters.add("notices_confirmed", &[&f.recipient, notice], 1),
        }
        if hub.spans.is_on() {
            hub.spans.record(deliver_span(f.trace, f.message_id, &f.recipient, &f.kind, f.sent));
        }
    }
    Ok(())
}

/// A row published and waiting for its confirm, with what `/metrics` counts it by.
struct InFlight {
    id: i64,
    recipient: String,
    kind: String,
    /// The message's trace and the span of this delivery (as its `traceparent` header says).
    trace: (TraceParent, TraceParent),
    message_id: Uuid,
    decided_at: DateTime<Utc>,
    sent: std::time::SystemTime,
    taken: std::time::Instant,
    confirm: PublisherConfirm,
    /// The broker's answer, once it came (a confirm can be read only once).
    outcome: Option<Result<(), ConfirmFailure>>,
}

impl InFlight {
    /// Whether the broker has answered, looking without waiting.
    fn answered_now(&mut self) -> bool {
        use futures_util::FutureExt;
        if self.outcome.is_none()
            && let Some(answer) = (&mut self.confirm).now_or_never()
        {
            self.outcome = Some(judge(answer));
        }
        self.outcome.is_some()
    }

    /// Waits for the broker's answer.
    async fn wait(&mut self) {
        if self.outcome.is_none() {
            let answer = (&mut self.confirm).await;
            self.outcome = Some(judge(answer));
        }
    }
}

/// A confirm as the outbox sees it: only an ack of a routed message counts as delivered.
fn judge(answer: Result<lapin::Confirmation, lapin::Error>) -> Result<(), ConfirmFailure> {
    match answer {
        Ok(c) if c.is_ack() => match c.take_message() {
            None => Ok(()),
            Some(_) => Err(ConfirmFailure::Refused),
        },
        Ok(_) => Err(ConfirmFailure::Refused),
        Err(e) => Err(ConfirmFailure::Broker(e)),
    }
}

/// The trace of the message an outbox row came from, and this delivery's span in it.
fn delivery_trace(row: &Pending) -> (TraceParent, TraceParent) {
    let message =
        TraceParent::of_message(&row.source_agency, &row.source_message_id, row.inbound_traceparent.as_deref());
    (message, message.child(row.message_id.as_bytes()))
}

/// The span of a confirmed delivery, under the span its message was processed in.
fn deliver_span(
    (message, delivery): (TraceParent, TraceParent),
    message_id: Uuid,
    recipient: &str,
    kind: &str,
    sent: std::time::SystemTime,
) -> crate::otlp::Span {
    let (process_span, _) = crate::otlp::process_span(&message, false);
    crate::otlp::Span {
        trace_id: delivery.trace_id,
        span_id: delivery.parent_id,
        parent: Some(process_span),
        name: "tracker.deliver",
        kind: crate::otlp::SpanKind::Producer,
        start: sent,
        end: std::time::SystemTime::now(),
        attributes: vec![
            ("messaging.system", "rabbitmq".into()),
            ("messaging.message.id", message_id.to_string()),
            ("tracker.recipient", recipient.to_string()),
            ("tracker.kind", kind.to_string()),
        ],
    }
}

async fn consent_still_covers(
    hub: &Hub,
    subject: Option<Uuid>,
    scope: ConsentScope,
    now: DateTime<Utc>,
) -> Result<bool, RunError> {
    let Some(subject) = subject else { return Ok(false) };
    let mut tx = hub.pool.begin().await.map_err(crate::store::StoreError::from)?;
    let records = facts::consents(&mut tx, subject).await.map_err(crate::store::StoreError::from)?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(facts::consent_covers(&records, scope, today(now)))
}

/// Records that a decision changed at publish time: the row is not sent, and the log says why.
async fn withhold_at_publish(hub: &Hub, row: &Pending, reason: &str, now: DateTime<Utc>) -> Result<(), RunError> {
    let mut tx = hub.pool.begin().await.map_err(crate::store::StoreError::from)?;
    crate::store::outbox::mark_withheld_at_publish(&mut tx, row.id, now)
        .await
        .map_err(crate::store::StoreError::from)?;
    let entry = LogEntry {
        event_id: row.event_id,
        subject_id: row.subject_id,
        recipient: row.recipient.to_string(),
        stage: crate::sharing::log::Stage::Published.as_str().into(),
        decision: "withhold".into(),
        reason: Some(reason.into()),
        agreement: Some(row.agreement.clone()),
        purpose: Some(row.purpose.clone()),
        legal_basis: Some(row.legal_basis.clone()),
        event_type: row.event_type.clone(),
        data_class: row.data_class.clone(),
        fields_disclosed: Vec::new(),
        fields_withheld: Vec::new(),
        catch_up: row.catch_up,
        logged_at: now,
    };
    log::append(&mut tx, &[entry]).await.map_err(crate::store::StoreError::from)?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    tracing::info!(event_id = %row.event_id, recipient = %row.recipient, reason, "withheld at publish");
    Ok(())
}

/// The body and properties of one delivery or notice.
fn message(
    hub: &Hub,
    row: &Pending,
    stored: &serde_json::Value,
) -> Result<(Vec<u8>, BasicProperties), crate::schemas::SchemaError> {
    let (copy, event_type) = match (row.refers_to, notice::Kind::parse(&row.kind)) {
        (Some(refers_to), Some(kind)) => {
            let retraction = notice::Notice {
                kind,
                notice_id: row.message_id,
                recipient: &row.recipient,
                subject_id: row.subject_id,
                refers_to,
                reason: row.notice_reason.as_deref().unwrap_or("retracted"),
                agreement: &row.agreement,
                purpose: &row.purpose,
                legal_basis: &row.legal_basis,
                decided_at: row.decided_at,
            };
            (notice::notice(stored, &retraction), notice::EVENT_TYPE)
        }
        _ => (delivery_copy(hub, row, stored), row.event_type.as_str()),
    };
    let format = hub.settings.agency(&row.recipient).map(|a| a.delivery).unwrap_or_default();
    let (body, content_type) = match format {
        DeliveryFormat::Avro => (hub.schemas.encode_single_object(&copy)?, "application/avro"),
        DeliveryFormat::Json => (serde_json::to_vec(&copy).unwrap_or_default(), "application/json"),
    };
    let mut headers = FieldTable::default();
    let subject = row.subject_id.map(|s| s.to_string()).unwrap_or_default();
    headers.insert("tracker-subject".into(), AMQPValue::LongString(subject.into()));
    headers.insert("tracker-schema-fingerprint".into(), AMQPValue::LongString(hub.schemas.fingerprint_hex().into()));
    headers.insert("tracker-agreement".into(), AMQPValue::LongString(row.agreement.clone().into()));
    headers.insert("tracker-catch-up".into(), AMQPValue::Boolean(row.catch_up));
    if let Some(refers_to) = row.refers_to.or(row.corrects) {
        headers.insert("tracker-refers-to".into(), AMQPValue::LongString(refers_to.to_string().into()));
    }
    // The trace of the agency's message this update came in, with a span of this delivery's.
    let trace = delivery_trace(row).1;
    headers.insert("traceparent".into(), AMQPValue::LongString(trace.to_string().into()));
    let props = BasicProperties::default()
        .with_message_id(row.message_id.to_string().into())
        .with_type(event_type.into())
        .with_content_type(content_type.into())
        .with_delivery_mode(2)
        .with_headers(headers);
    Ok((body, props))
}

/// A recipient's copy of the stored update, as decided.
fn delivery_copy(hub: &Hub, row: &Pending, stored: &serde_json::Value) -> serde_json::Value {
    let kind = hub.sharing.kind_of(&row.recipient).unwrap_or(crate::settings::AgencyKind::Police);
    let grant = Grant {
        agreement: row.agreement.clone(),
        purpose: row.purpose.clone(),
        legal_basis: row.legal_basis.clone(),
        consent: row.consent_scope.as_deref().and_then(ConsentScope::parse),
    };
    let mut copy = recipient_copy(
        stored,
        &CopyFor {
            recipient: &row.recipient,
            kind,
            subject_id: row.subject_id,
            grant: &grant,
            withheld: &row.withheld_fields,
            catch_up: row.catch_up,
        },
    );
    if let Some(corrects) = row.corrects {
        copy["correction"] = serde_json::json!({
            "corrects_message_id": corrects.to_string(),
            "changed_fields": row.corrected_fields.clone().unwrap_or_default(),
        });
    }
    copy
}
