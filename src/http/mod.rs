//! The hub's HTTP interface (inside `tracker run`). `/health` answers anyone; everything else
//! needs credentials and a role with the right: `/ready` and `/metrics` (operator, auditor,
//! analyst), `/schemas/{fingerprint}` (any role), the console and its JSON API (operator,
//! auditor), and actions — replay, purge, identity decisions — (operator only, recorded with who
//! did it); a court user's bench summaries of their court's defendants (`/court/...`, logged as
//! consultations).
mod access;
pub mod auth;
pub mod console;
mod court;
pub mod metrics;
mod operator;
mod public;
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
use operator::{apart, api_conflicts, api_deadletter, api_deadletters, api_status, console, link, purge, replay};
use public::{health, metrics, not_found, ready, schema, schemas};
use report_pages::{report, reports_list};

pub fn router(hub: Arc<Hub>, verified: Verified) -> Router {
    let state = Arc::new(AppState { hub, verified, throttle: Default::default() });
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/schemas", get(schemas))
        .route("/schemas/{fingerprint}", get(schema))
        .route("/reports", get(reports_list))
        .route("/reports/{name}", get(report))
        .route("/court", get(court::home))
        .route("/court/list", get(court::list_page))
        .route("/court/list/pack.pdf", get(court::pack_pdf))
        .route("/api/court/list", get(court::list_json))
        .route("/court/people/{subject}", get(court::summary_page))
        .route("/court/people/{subject}/pdf", get(court::summary_pdf))
        .route("/api/court/people/{subject}", get(court::summary_json))
        .route("/console", get(console))
        .route("/api/status", get(api_status))
        .route("/api/deadletters", get(api_deadletters))
        .route("/api/deadletters/{id}", get(api_deadletter))
        .route("/api/identity/conflicts", get(api_conflicts))
        .route("/console/recall", get(recall::form).post(recall::recall))
        .route("/console/deadletters/{id}/replay", post(replay))
        .route("/console/deadletters/{id}/purge", post(purge))
        .route("/console/identity/{id}/link", post(link))
        .route("/console/identity/{id}/apart", post(apart))
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
