//! The hub's long-running work: the inbound consumers and the outbox publisher, side by side,
//! until shutdown.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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
    tokio::spawn(log_alerts(hub.clone(), shutdown.clone()));
    let consumers = tokio::spawn(consume::run(hub.clone(), shutdown.clone()));
    let publisher = tokio::spawn(routing::run(hub, shutdown));
    let (c, p) = tokio::join!(consumers, publisher);
    c.map_err(|e| RunError::Cancelled(e.to_string()))??;
    p.map_err(|e| RunError::Cancelled(e.to_string()))??;
    Ok(())
}

/// The first wait after a fault; it doubles up to [`LONGEST_WAIT`].
pub const FIRST_WAIT: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(15);
/// An attempt that lasted this long is taken to have connected.
const HEALTHY_RUN: Duration = Duration::from_secs(20);

/// Runs `attempt` until it ends cleanly or `shutdown` turns true; after a fault it waits (backing
/// off from 0.5 s to 15 s) and tries again. Used for every broker connection the hub holds, since
/// a fault must never lose work, only delay it.
pub async fn keep_running<F, Fut>(
    what: &str,
    mut shutdown: watch::Receiver<bool>,
    mut attempt: F,
) -> Result<(), RunError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), RunError>>,
{
    let mut backoff = FIRST_WAIT;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let started = tokio::time::Instant::now();
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) => {
                backoff = wait_after(backoff, started.elapsed());
                tracing::warn!("{what} stopped: {e}; trying again in {:.1} s", backoff.as_secs_f32());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(LONGEST_WAIT);
            }
        }
    }
}

/// The wait before trying again. An attempt that ran a while was connected and working, so its
/// fault is a new outage and waits the shortest time again, not the longest reached before.
fn wait_after(previous: Duration, ran_for: Duration) -> Duration {
    if ran_for >= HEALTHY_RUN { FIRST_WAIT } else { previous }
}

/// Logs each alert when it is raised and when it clears (evaluated every 30 s).
async fn log_alerts(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut raised: Vec<crate::ops::alerts::Alert> = Vec::new();
    loop {
        match crate::ops::alerts::evaluate(&hub.settings, &hub.pool, hub.clock.now()).await {
            Ok(now) => {
                for a in now.iter().filter(|a| !raised.contains(a)) {
                    tracing::warn!(rule = a.rule, "alert: {}", a.message);
                }
                for a in raised.iter().filter(|a| !now.contains(a)) {
                    tracing::info!(rule = a.rule, "alert cleared: {}", a.message);
                }
                raised = now;
            }
            Err(e) => tracing::warn!("alerts could not be evaluated: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_outage_after_a_healthy_run_waits_the_shortest_time() {
        assert_eq!(wait_after(LONGEST_WAIT, Duration::from_secs(60)), FIRST_WAIT);
        assert_eq!(wait_after(Duration::from_secs(4), Duration::from_millis(10)), Duration::from_secs(4));
    }
}
