//! Staying up through faults: every broker connection the hub holds (the consumers, the outbox
//! publisher) runs inside `keep_running`, which waits and tries again after a fault, because a
//! fault must never lose work, only delay it.
use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::broker::BrokerError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("consumer for {0} was cancelled by the broker")]
    Cancelled(String),
}

impl From<lapin::Error> for RunError {
    fn from(e: lapin::Error) -> Self {
        RunError::Broker(BrokerError::Amqp(e))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_outage_after_a_healthy_run_waits_the_shortest_time() {
        assert_eq!(wait_after(LONGEST_WAIT, Duration::from_secs(60)), FIRST_WAIT);
        assert_eq!(wait_after(Duration::from_secs(4), Duration::from_millis(10)), Duration::from_secs(4));
    }
}
