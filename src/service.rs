//! The hub's long-running work: the inbound consumers and the outbox publisher, side by side,
//! until shutdown.
use std::sync::Arc;

use tokio::sync::watch;

use crate::broker::consume::{self, RunError};
use crate::pipeline::Hub;
use crate::routing;

/// Runs consumers and publisher (and the HTTP server, when configured) until `shutdown` turns
/// true; the first error stops both.
pub async fn run(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let listen = hub.settings.http.listen.trim().to_string();
    if !listen.is_empty() {
        match tokio::net::TcpListener::bind(&listen).await {
            Ok(listener) => {
                tracing::info!(%listen, "serving HTTP");
                tokio::spawn(crate::http::serve(hub.clone(), listener, shutdown.clone()));
            }
            Err(e) => tracing::error!(%listen, "cannot serve HTTP: {e}"),
        }
    }
    let consumers = tokio::spawn(consume::run(hub.clone(), shutdown.clone()));
    let publisher = tokio::spawn(routing::run(hub, shutdown));
    let (c, p) = tokio::join!(consumers, publisher);
    c.map_err(|e| RunError::Cancelled(e.to_string()))??;
    p.map_err(|e| RunError::Cancelled(e.to_string()))??;
    Ok(())
}
