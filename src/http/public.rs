//! Health and readiness, the Prometheus metrics, and the schemas subscribers decode with.
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::access::{AppState, authorize};
use crate::http::auth::Right;

pub(super) async fn health() -> &'static str {
    "ok\n"
}

/// Ready when the database answers, the broker accepts a connection, every agency's queue has
/// its consumer and the publisher is connected; otherwise 503 with what is missing.
pub(super) async fn ready(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    use std::sync::atomic::Ordering;
    if let Err(r) = authorize(&state, &headers, Right::ReadMetrics) {
        return r.into_response();
    }
    let hub = &state.hub;
    let mut missing = Vec::new();
    if crate::store::ping(&hub.pool).await.is_err() {
        missing.push("database unreachable".to_string());
    }
    match crate::broker::connect(&hub.settings.broker.url).await {
        Ok(conn) => {
            crate::broker::close(&conn, "ready check").await;
        }
        Err(e) => missing.push(format!("broker unreachable: {e}")),
    }
    // Ready when this process consumes its share of the queues (all of them when it runs alone).
    let attached = hub.stats.consumers_attached.load(Ordering::SeqCst);
    let wanted = match hub.stats.consumers_wanted.load(Ordering::SeqCst) {
        0 => hub.settings.agencies.len(),
        share => share,
    };
    if attached < wanted {
        missing.push(format!("{attached} of {wanted} inbound consumers attached"));
    }
    if !hub.stats.publisher_connected.load(Ordering::SeqCst) {
        missing.push("outbox publisher not connected".into());
    }
    if missing.is_empty() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", missing.join("; "))).into_response()
    }
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadMetrics) {
        return r.into_response();
    }
    match crate::http::metrics::render(&state.hub).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("metrics unavailable: {e}\n")).into_response(),
    }
}

/// The fingerprint this hub writes with, and the earlier ones it still serves (messages written
/// with them may still be queued).
pub(super) async fn schemas(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadSchemas) {
        return r.into_response();
    }
    let schemas = state.hub.schemas;
    let fp = schemas.fingerprint_hex();
    let earlier: Vec<serde_json::Value> = schemas
        .known_fingerprints()
        .iter()
        .skip(1)
        .map(|f| {
            let f = hex::encode(f);
            serde_json::json!({"fingerprint": f, "url": format!("/schemas/{f}")})
        })
        .collect();
    Json(serde_json::json!({"tracker.v1.Update": {"fingerprint": fp, "url": format!("/schemas/{fp}"), "earlier": earlier}}))
        .into_response()
}

/// The writer schema (every named type inline) for a fingerprint — the current one or an
/// earlier one — in hex as written after `C3 01` or byte-reversed.
pub(super) async fn schema(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(fingerprint): Path<String>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadSchemas) {
        return r.into_response();
    }
    let schemas = state.hub.schemas;
    let found = hex::decode(fingerprint.to_ascii_lowercase()).ok().and_then(|mut bytes| {
        if let Some(json) = schemas.writer_json(&bytes) {
            return Some(json);
        }
        bytes.reverse();
        schemas.writer_json(&bytes)
    });
    match found {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json.to_string()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no schema with fingerprint {fingerprint}; this hub writes {}\n", schemas.fingerprint_hex()),
        )
            .into_response(),
    }
}

/// Any path the hub does not serve: a JSON 404 in the shape the API's errors take (code,
/// message, details), naming the path (cut to 200 characters).
pub(super) async fn not_found(uri: axum::http::Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "code": "not_found",
            "message": "the hub serves nothing at this path",
            "details": {"path": path},
        })),
    )
        .into_response()
}
