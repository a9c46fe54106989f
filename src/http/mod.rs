//! The hub's HTTP interface (inside `tracker run`). `/health` answers anyone; everything else
//! needs credentials and a role with the right: `/ready` and `/metrics` (operator, auditor,
//! analyst), `/schemas/{fingerprint}` (any role), the console and its JSON API (operator,
//! auditor), and actions — replay, purge, identity decisions — (operator only, recorded with who
//! did it); a court user's bench summaries of their court's defendants (`/court/...`, logged as
//! consultations). Integrators use the versioned JSON API under `/api/v1/` (its OpenAPI document
//! at `/api/v1/openapi.json`); every refusal anywhere is JSON in one shape (`errors`).
mod access;
pub mod auth;
pub mod console;
mod console_chart;
mod court;
pub mod errors;
pub mod metrics;
mod operator;
pub mod public;
mod recall;
mod report_pages;
pub mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::auth::Verified;
use crate::hub::Hub;
use access::{AppState, guard};
use operator::{
    apart, api_conflicts, api_deadletter, api_deadletter_payload, api_deadletters, api_status, console, link, purge,
    replay,
};
use public::{health, metrics, not_found, openapi, ready, schema, schemas};
use report_pages::{report_api, report_page, reports_list};

pub fn router(hub: Arc<Hub>, verified: Verified) -> Router {
    let http = &hub.settings.http;
    let throttle = throttle::Throttle::new(http.login_failures_per_name, http.login_failures_per_address);
    let state = Arc::new(AppState { hub, verified, throttle });
    Router::new()
        // Probes and the scrape, where orchestrators and Prometheus look for them.
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        // The schema registry subscribers decode with (its URLs travel in their contract).
        .route("/schemas", get(schemas))
        .route("/schemas/{fingerprint}", get(schema))
        // Pages for people.
        .route("/reports", get(reports_list))
        .route("/reports/{name}", get(report_page))
        .route("/court", get(court::home))
        .route("/court/list", get(court::list_page))
        .route("/court/list/pack.pdf", get(court::pack_pdf))
        .route("/court/people/{subject}", get(court::summary_page))
        .route("/court/people/{subject}/pdf", get(court::summary_pdf))
        .route("/console", get(console))
        .route("/console/recall", get(recall::form).post(recall::recall))
        .route("/console/deadletters/{id}/replay", post(replay))
        .route("/console/deadletters/{id}/purge", post(purge))
        .route("/console/identity/{id}/link", post(link))
        .route("/console/identity/{id}/apart", post(apart))
        // The versioned API for integrators, described by its OpenAPI document.
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/deadletters", get(api_deadletters))
        .route("/api/v1/deadletters/{id}", get(api_deadletter))
        .route("/api/v1/deadletters/{id}/payload", get(api_deadletter_payload))
        .route("/api/v1/identity/conflicts", get(api_conflicts))
        .route("/api/v1/court/list", get(court::list_json))
        .route("/api/v1/court/people/{subject}", get(court::summary_json))
        .route("/api/v1/reports", get(reports_list))
        .route("/api/v1/reports/{name}", get(report_api))
        .route("/api/v1/schemas", get(schemas))
        .route("/api/v1/schemas/{fingerprint}", get(schema))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves until `shutdown` turns true.
pub async fn serve(hub: Arc<Hub>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
    // Passwords rehashed from the earlier format at earlier logins (a store that cannot be read
    // now only means the configured hashes are checked).
    let upgrades = crate::store::credentials::all(&hub.pool).await.unwrap_or_else(|e| {
        tracing::warn!("rehashed passwords not read; the configured hashes are checked: {e}");
        Vec::new()
    });
    axum::serve(
        listener,
        router(hub, Verified::with_upgrades(upgrades)).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    })
    .await
}
