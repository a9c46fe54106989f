//! Health and readiness, the Prometheus metrics, and the schemas subscribers decode with.
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::access::{AppState, authorize};
use super::errors::ApiError;
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
        ApiError::unavailable(format!("not ready: {}", missing.join("; ")))
            .with_details(serde_json::json!({"missing": missing}))
            .into_response()
    }
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadMetrics) {
        return r.into_response();
    }
    match crate::http::metrics::render(&state.hub).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "metrics unavailable");
            ApiError::unavailable("metrics unavailable: the store did not answer").into_response()
        }
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
        None => ApiError::not_found(format!("no schema with fingerprint {fingerprint}"))
            .with_details(serde_json::json!({"writes": schemas.fingerprint_hex()}))
            .into_response(),
    }
}

/// Any path the hub does not serve: a JSON 404 in the shape the API's errors take (code,
/// message, details), naming the path (cut to 200 characters).
pub(super) async fn not_found(uri: axum::http::Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::not_found("the hub serves nothing at this path")
        .with_details(serde_json::json!({"path": path}))
        .into_response()
}

/// The OpenAPI document of everything the hub serves over HTTP (answered to anyone: it says
/// what the routes are, not what they hold).
pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Checked against the router by a test, and against the live hub by schemathesis.
pub const OPENAPI: &str = include_str!("../../schemas/openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// (method, path) of every route the router declares, read from its source.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let mut out = BTreeSet::new();
        for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
            let path = line.trim_start_matches(".route(\"").split('"').next().unwrap().to_string();
            for method in ["get", "post", "put", "delete", "patch"] {
                if line.contains(&format!("{method}(")) {
                    out.insert((method.to_string(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_openapi_document_names_every_route_and_no_other() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("the document is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let routed = routed();
        assert!(routed.len() > 20, "the router's routes were read: {routed:?}");
        assert_eq!(documented, routed, "documented (left) and routed (right) differ");
    }

    #[test]
    fn every_error_the_document_names_is_the_one_shape() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        for (name, response) in doc["components"]["responses"].as_object().unwrap() {
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                "{name} is not an Error"
            );
        }
    }
}
