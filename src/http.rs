//! The hub's HTTP interface (inside `tracker run`): `/health` (alive), `/ready` (database, broker,
//! consumers and publisher), `/metrics` (Prometheus), and `/schemas/{fingerprint}` so a subscriber
//! in any language can fetch the writer schema a delivery names.
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::pipeline::Hub;

pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/schemas", get(schemas))
        .route("/schemas/{fingerprint}", get(schema))
        .with_state(hub)
}

/// Serves until `shutdown` turns true.
pub async fn serve(hub: Arc<Hub>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
    axum::serve(listener, router(hub))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

async fn health() -> &'static str {
    "ok\n"
}

/// Ready when the database answers, the broker accepts a connection, every agency's queue has
/// its consumer and the publisher is connected; otherwise 503 with what is missing.
async fn ready(State(hub): State<Arc<Hub>>) -> Response {
    use std::sync::atomic::Ordering;
    let mut missing = Vec::new();
    if sqlx::query("SELECT 1").execute(&hub.pool).await.is_err() {
        missing.push("database unreachable".to_string());
    }
    match crate::broker::connect(&hub.settings.broker.url).await {
        Ok(conn) => {
            let _ = conn.close(200, "ready check".into()).await;
        }
        Err(e) => missing.push(format!("broker unreachable: {e}")),
    }
    let attached = hub.stats.consumers_attached.load(Ordering::SeqCst);
    if attached < hub.settings.agencies.len() {
        missing.push(format!("{attached} of {} inbound consumers attached", hub.settings.agencies.len()));
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

async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    match crate::metrics::render(&hub).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("metrics unavailable: {e}\n")).into_response(),
    }
}

/// The fingerprints this hub writes with.
async fn schemas(State(hub): State<Arc<Hub>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "tracker.v1.Update": {
            "fingerprint": hub.schemas.fingerprint_hex(),
            "url": format!("/schemas/{}", hub.schemas.fingerprint_hex()),
        }
    }))
}

/// The writer schema (every named type inline) for a fingerprint, in hex as written after
/// `C3 01` or byte-reversed.
async fn schema(State(hub): State<Arc<Hub>>, Path(fingerprint): Path<String>) -> Response {
    let ours = hub.schemas.fingerprint_hex();
    let mut reversed = hub.schemas.fingerprint;
    reversed.reverse();
    let wanted = fingerprint.to_ascii_lowercase();
    if wanted == ours || wanted == hex::encode(reversed) {
        ([(header::CONTENT_TYPE, "application/json")], hub.schemas.envelope_json.to_string()).into_response()
    } else {
        (StatusCode::NOT_FOUND, format!("no schema with fingerprint {fingerprint}; this hub writes {ours}\n"))
            .into_response()
    }
}
