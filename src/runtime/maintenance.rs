//! Store maintenance inside `tracker run`: where the database server does not analyse and vacuum
//! tables itself (autovacuum off, as on some managed and test servers), the hub does, every
//! `database.maintenance_interval_secs`, for the tables that changed enough (`store::maintenance`).
//! Statistics keep the planner on the indexes as tables grow from empty to millions of rows; a
//! vacuum keeps the outbox's pending index from filling with rows already published. A failure is
//! logged and tried again next time: it never stops the hub.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::hub::Hub;
use crate::settings::Maintenance;
use crate::store::maintenance;

/// Looks after the store's tables until `shutdown`, if the settings and the server call for it.
pub async fn run(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_secs(hub.settings.database.maintenance_interval_secs.max(1));
    let wanted = match hub.settings.database.maintenance {
        Maintenance::Off => false,
        Maintenance::Always => true,
        Maintenance::Auto => match maintenance::server_autovacuum(&hub.pool).await {
            Ok(server_does_it) => !server_does_it,
            Err(e) => {
                tracing::warn!("cannot tell whether the database runs autovacuum; looking after tables anyway: {e}");
                true
            }
        },
    };
    if !wanted {
        return;
    }
    tracing::info!(
        every_secs = interval.as_secs(),
        "the database does not analyse or vacuum tables itself: the hub will"
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        look_after_due_tables(&hub, &mut shutdown).await;
    }
}

/// One pass: every table past its thresholds, one at a time, with a rest after each as long as
/// it took (at most a second). Run back to back, a pass of a fast-growing store took a core from
/// the message path for about a second, and that second held the slowest deliveries of a latency
/// run (BENCHMARKS.md, session 13); rested, the same work is spread thin.
pub async fn look_after_due_tables(hub: &Hub, shutdown: &mut watch::Receiver<bool>) {
    let due = match maintenance::due(&hub.pool).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!("store maintenance: cannot list tables due: {e}");
            return;
        }
    };
    for table in due {
        let started = std::time::Instant::now();
        match maintenance::look_after(&hub.pool, &table).await {
            Ok(()) => {
                tracing::debug!(table = %table.table, vacuum = table.vacuum, took_ms = started.elapsed().as_millis() as u64, "table statistics refreshed")
            }
            Err(e) => tracing::warn!(table = %table.table, "store maintenance failed: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(started.elapsed().min(Duration::from_secs(1))) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
