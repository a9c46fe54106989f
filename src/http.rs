//! The hub's HTTP interface (inside `tracker run`): `/health`, and `/schemas/{fingerprint}` so a
//! subscriber in any language can fetch the writer schema a delivery names.
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
