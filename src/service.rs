//! The hub's long-running work: the inbound consumers and the outbox publisher, side by side,
//! until shutdown.
use std::sync::Arc;

use tokio::sync::watch;

use crate::broker::consume::{self, RunError};
use crate::pipeline::Hub;
use crate::routing;

/// Runs consumers and publisher until `shutdown` turns true; the first error stops both.
pub async fn run(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let consumers = tokio::spawn(consume::run(hub.clone(), shutdown.clone()));
    let publisher = tokio::spawn(routing::run(hub, shutdown));
    let (c, p) = tokio::join!(consumers, publisher);
    c.map_err(|e| RunError::Cancelled(e.to_string()))??;
    p.map_err(|e| RunError::Cancelled(e.to_string()))??;
    Ok(())
}
