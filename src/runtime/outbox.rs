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

const BATCH: i64 = 256;

use crate::store::leases::{Leases, Work};
use crate::store::outbox::Pending;

/// Runs the publisher until `shutdown`, reconnecting after faults.
pub async fn run(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    super::retry::keep_running("publishing", shutdown.clone(), || run_connected(&hub, shutdown.clone())).await
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
    hub.stats.publisher_connected.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = loop {
        if *shutdown.borrow() {
            break Ok(());
        }
        // Between batches (nothing in flight): take this process's share, give up the rest.
        if checked.elapsed() >= every {
            if let Err(e) = balance(&mut leases, partitions).await {
                break Err(e);
            }
            checked = tokio::time::Instant::now();
        }
        let held: Vec<i32> = leases.held().iter().copied().collect();
        let batch: Vec<Pending> = if held.is_empty() {
            Vec::new()
        } else {
            match pending(hub, &held, partitions).await {
                Ok(b) => b,
                Err(e) => break Err(e),
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = hub.publisher_wakeup.notified() => {}
                _ = tokio::time::sleep(every.min(Duration::from_secs(1))) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        if let Err(e) = publish_batch(hub, &ch, &names, batch).await {
            break Err(e);
        }
    };
    hub.stats.publisher_connected.store(false, std::sync::atomic::Ordering::SeqCst);
    leases.leave().await;
    crate::broker::close(&conn, "publisher stopping").await;
    result
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

/// The next rows to publish, each with the trace context its message came with.
async fn pending(hub: &Hub, partitions: &[i32], of: i32) -> Result<Vec<Pending>, RunError> {
    let store = |e: sqlx::Error| RunError::from(crate::store::StoreError::from(e));
    let mut rows = crate::store::outbox::pending(&hub.pool, BATCH, partitions, of).await.map_err(store)?;
    let mut messages: Vec<(String, String)> =
        rows.iter().map(|r| (r.source_agency.clone(), r.source_message_id.clone())).collect();
    messages.sort();
    messages.dedup();
    let traced = crate::store::outbox::traceparents(&hub.pool, &messages).await.map_err(store)?;
    if !traced.is_empty() {
        for r in &mut rows {
            r.inbound_traceparent = traced.get(&(r.source_agency.clone(), r.source_message_id.clone())).cloned();
        }
    }
    Ok(rows)
}

async fn publish_batch(hub: &Hub, ch: &Channel, names: &Names, batch: Vec<Pending>) -> Result<(), RunError> {
    let now = hub.clock.now();
    let started = std::time::Instant::now();
    let mut in_flight: Vec<InFlight> = Vec::with_capacity(batch.len());
    let mut decided = Vec::with_capacity(batch.len());
    // Deliveries withheld in this batch: a notice about one of them has nothing to name.
    let mut withheld_now: Vec<Uuid> = Vec::new();
    for row in batch {
        if row.kind != "delivery" && (row.nothing_sent || row.refers_to.is_some_and(|r| withheld_now.contains(&r))) {
            confirm_all(hub, std::mem::take(&mut in_flight), now).await?;
            withhold_at_publish(hub, &row, "nothing_sent", now).await?;
            continue;
        }
        if let Some(scope) = row.consent_scope.as_deref().and_then(ConsentScope::parse)
            && !consent_still_covers(hub, row.subject_id, scope, now).await?
        {
            // Confirm what is in flight first, so order and "published" stay true.
            confirm_all(hub, std::mem::take(&mut in_flight), now).await?;
            withhold_at_publish(hub, &row, "no_consent", now).await?;
            withheld_now.push(row.message_id);
            continue;
        }
        let (body, props) = match message(hub, &row) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(event_id = %row.event_id, recipient = %row.recipient, "cannot build the delivery: {e}");
                confirm_all(hub, std::mem::take(&mut in_flight), now).await?;
                withhold_at_publish(hub, &row, "error", now).await?;
                withheld_now.push(row.message_id);
                continue;
            }
        };
        let opts = BasicPublishOptions { mandatory: true, ..Default::default() };
        let confirm = ch
            .basic_publish(names.outbound_exchange().into(), row.recipient.as_str().into(), opts, &body, props)
            .await
            .map_err(BrokerError::from)?;
        in_flight.push(InFlight {
            id: row.id,
            recipient: row.recipient.to_string(),
            kind: row.kind.clone(),
            trace: delivery_trace(&row),
            message_id: row.message_id,
            sent: std::time::SystemTime::now(),
            confirm,
        });
        decided.push(row.decided_at);
    }
    confirm_all(hub, in_flight, now).await?;
    for decided_at in decided {
        hub.stats.publishing.observe(started.elapsed());
        // Receipt to confirmed delivery, when the hub runs on the real clock.
        if matches!(hub.clock, crate::clock::Clock::System)
            && let Ok(latency) = (Utc::now() - decided_at).to_std()
        {
            hub.stats.delivery.observe(latency);
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
    sent: std::time::SystemTime,
    confirm: PublisherConfirm,
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

/// Waits for each confirm in order; marks the confirmed prefix published; fails at the first
/// nack or return so the rest is retried.
async fn confirm_all(hub: &Hub, in_flight: Vec<InFlight>, now: DateTime<Utc>) -> Result<(), RunError> {
    let mut confirmed = Vec::with_capacity(in_flight.len());
    let mut counted = Vec::with_capacity(in_flight.len());
    let mut spans = Vec::new();
    let mut failure = None;
    for InFlight { id, recipient, kind, trace, message_id, sent, confirm } in in_flight {
        let confirm = match tokio::time::timeout(Duration::from_secs(30), confirm).await {
            Ok(result) => result,
            Err(_) => {
                failure = Some(BrokerError::Timeout(format!("the confirm of outbox row {id}")));
                break;
            }
        };
        match confirm {
            Ok(c) => {
                if c.is_ack() && c.take_message().is_none() {
                    confirmed.push(id);
                    if hub.spans.is_on() {
                        spans.push(deliver_span(trace, message_id, &recipient, &kind, sent));
                    }
                    counted.push((recipient, kind));
                } else {
                    failure = Some(BrokerError::Refused {
                        what: format!("outbox row {id}"),
                        why: "nacked or unroutable".into(),
                    });
                    break;
                }
            }
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        }
    }
    if !confirmed.is_empty() {
        crate::store::outbox::mark_published(&hub.pool, &confirmed, now)
            .await
            .map_err(crate::store::StoreError::from)?;
        for (recipient, kind) in &counted {
            match kind.as_str() {
                "delivery" => hub.stats.counters.add("deliveries_confirmed", &[recipient], 1),
                notice => hub.stats.counters.add("notices_confirmed", &[recipient, notice], 1),
            }
        }
        for span in spans {
            hub.spans.record(span);
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
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
fn message(hub: &Hub, row: &Pending) -> Result<(Vec<u8>, BasicProperties), crate::schemas::SchemaError> {
    let stored = hub.schemas.decode_stored(&row.schema_fingerprint, &row.avro)?;
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
            (notice::notice(&stored, &retraction), notice::EVENT_TYPE)
        }
        _ => (delivery_copy(hub, row, &stored), row.event_type.as_str()),
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
