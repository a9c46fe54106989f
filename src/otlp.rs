//! An optional OTLP exporter of the hub's own spans (`log.otlp_endpoint`; empty: off): for each
//! message processed, a `tracker.process` span, and for each delivery confirmed, a
//! `tracker.deliver` span under it — in the trace the agency's message came with
//! (`trace_context`), so a tracing system (Jaeger, Tempo, an OpenTelemetry collector) shows one
//! update from the force that sent it to every agency that received it.
//!
//! Spans go as OTLP/HTTP JSON (`POST {endpoint}/v1/traces`), batched every two seconds or 512
//! spans from a bounded queue: a collector that is slow or down loses spans (counted in the
//! log), never stalls the hub. Written here rather than taken from the opentelemetry crates:
//! the hub makes its spans itself (their ids are derived, so every process and every redelivery
//! agrees on them), and the encoding is one JSON document; the crates would add a second tracing
//! pipeline and an HTTP stack for it.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::trace_context::TraceParent;

/// Spans waiting to be sent at most (more are dropped: the hub never waits on its exporter).
const QUEUED: usize = 8192;
const BATCH: usize = 512;
const EVERY: Duration = Duration::from_secs(2);

/// A finished span.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: &'static str,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, Copy)]
pub enum SpanKind {
    /// Processing a message an agency sent.
    Consumer,
    /// Sending a delivery to an agency.
    Producer,
}

/// The span a message was processed in: in its trace, under the span it came from (if it came
/// with one), its id derived from the message so every process names it alike.
pub fn process_span(trace: &TraceParent, came_with_parent: bool) -> ([u8; 8], Option<[u8; 8]>) {
    (trace.child(b"tracker.process").parent_id, came_with_parent.then_some(trace.parent_id))
}

/// Where spans go; off when no endpoint is configured.
#[derive(Debug, Default)]
pub struct Exporter {
    queue: Option<mpsc::Sender<Span>>,
}

impl Exporter {
    /// Starts sending to `endpoint` (an OTLP/HTTP base URL such as `http://collector:4318`);
    /// an empty endpoint turns it off.
    pub fn start(endpoint: &str, service: &str) -> Exporter {
        let endpoint = endpoint.trim().trim_end_matches('/');
        if endpoint.is_empty() {
            return Exporter::default();
        }
        let (tx, rx) = mpsc::channel(QUEUED);
        tokio::spawn(send_batches(rx, format!("{endpoint}/v1/traces"), service.to_string()));
        Exporter { queue: Some(tx) }
    }

    pub fn is_on(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues a span; dropped if the queue is full.
    pub fn record(&self, span: Span) {
        if let Some(q) = &self.queue
            && q.try_send(span).is_err()
        {
            tracing::debug!("OTLP queue full: a span was dropped");
        }
    }
}

async fn send_batches(mut rx: mpsc::Receiver<Span>, url: String, service: String) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut failures = 0u64;
    loop {
        let deadline = tokio::time::Instant::now() + EVERY;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) if batch.is_empty() => return,
                Ok(None) | Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let body = encode(&service, &batch);
        let sent = batch.len();
        batch.clear();
        let url = url.clone();
        let posted = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().into();
            agent.post(&url).header("Content-Type", "application/json").send(body.to_string().as_bytes())
        })
        .await;
        match posted {
            Ok(Ok(_)) => failures = 0,
            Ok(Err(e)) => {
                failures += 1;
                // Said the first time and then now and again, not for every batch.
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!("OTLP export failed ({failures} batches in a row; {sent} spans dropped): {e}");
                }
            }
            Err(e) => tracing::warn!("OTLP export task failed: {e}"),
        }
    }
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0).to_string()
}

/// The OTLP/HTTP JSON document for `spans` (ids in hex, times in nanoseconds as strings, as the
/// protocol's JSON mapping has them).
pub fn encode(service: &str, spans: &[Span]) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut span = json!({
                "traceId": hex::encode(s.trace_id),
                "spanId": hex::encode(s.span_id),
                "name": s.name,
                "kind": match s.kind { SpanKind::Consumer => 5, SpanKind::Producer => 4 },
                "startTimeUnixNano": nanos(s.start),
                "endTimeUnixNano": nanos(s.end),
                "attributes": s.attributes.iter().map(|(k, v)| json!({"key": k, "value": {"stringValue": v}})).collect::<Vec<_>>(),
                "status": {"code": 1},
            });
            if let Some(parent) = s.parent {
                span["parentSpanId"] = hex::encode(parent).into();
            }
            span
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"scope": {"name": "tracker", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_encode_as_otlp_json_with_hex_ids_and_nanosecond_times() {
        let trace = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let (id, parent) = process_span(&trace, true);
        let at = UNIX_EPOCH + Duration::from_millis(1500);
        let doc = encode(
            "tracker",
            &[Span {
                trace_id: trace.trace_id,
                span_id: id,
                parent,
                name: "tracker.process",
                kind: SpanKind::Consumer,
                start: at,
                end: at + Duration::from_millis(3),
                attributes: vec![("messaging.system", "rabbitmq".into())],
            }],
        );
        let span = &doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        assert_eq!(span["startTimeUnixNano"], "1500000000");
        assert_eq!(span["endTimeUnixNano"], "1503000000");
        assert_eq!(span["kind"], 5);
        assert_eq!(doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "tracker");
    }
}
