//! The composition root. `App` is built once from settings (the hub's shared state, `Hub::build`)
//! and runs the hub's tasks — the inbound consumers, the outbox publisher, the HTTP server and
//! the alert log — until it is stopped, joining every one. `tracker run`, the demo, the
//! benchmarks and the tests' sandbox all start the hub through it, so what the tests exercise is
//! what production runs.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::hub::Hub;
use crate::runtime::{consume, outbox};
use crate::settings::Settings;

/// How long a task may take to finish its work in hand after the stop before it is aborted.
const STOP_GRACE: Duration = Duration::from_secs(30);

pub struct App {
    pub hub: Arc<Hub>,
    stop: watch::Sender<bool>,
    tasks: tokio::sync::Mutex<JoinSet<(&'static str, anyhow::Result<()>)>>,
}

impl App {
    /// Builds the hub from settings; nothing runs until a `start_…` call.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        Ok(App::around(Arc::new(Hub::build(settings).await?)))
    }

    /// An application around a hub already built.
    pub fn around(hub: Arc<Hub>) -> App {
        let (stop, _) = watch::channel(false);
        App { hub, stop, tasks: tokio::sync::Mutex::new(JoinSet::new()) }
    }

    /// Starts everything `tracker run` runs: consumers, publisher, alerts, and HTTP where
    /// `http.listen` is set.
    pub async fn start(&self) {
        let listen = self.hub.settings.http.listen.trim().to_string();
        if !listen.is_empty() {
            match tokio::net::TcpListener::bind(&listen).await {
                Ok(listener) => {
                    tracing::info!(%listen, "serving HTTP");
                    self.start_http(listener).await;
                }
                Err(e) => tracing::error!(%listen, "cannot serve HTTP: {e}"),
            }
        }
        self.start_alerts().await;
        self.start_maintenance().await;
        self.start_retention().await;
        self.start_consumers().await;
        self.start_publisher().await;
    }

    /// Loads the store's totals into the metrics counters before any work is counted (once; a
    /// store that does not answer now leaves it to the first scrape).
    async fn restore_counters(&self) {
        if self.hub.stats.counters.restored.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Err(e) = crate::http::metrics::restore(&self.hub).await {
            tracing::warn!("metrics counters not restored from the store yet (the first scrape will): {e:#}");
        }
    }

    pub async fn start_consumers(&self) {
        self.restore_counters().await;
        let (hub, stopped) = (self.hub.clone(), self.stop.subscribe());
        self.tasks
            .lock()
            .await
            .spawn(async move { ("consumers", consume::run(hub, stopped).await.map_err(Into::into)) });
    }

    /// Analyses and vacuums the store's tables where the database server does not.
    pub async fn start_maintenance(&self) {
        let (hub, stopped) = (self.hub.clone(), self.stop.subscribe());
        self.tasks.lock().await.spawn(async move {
            crate::runtime::maintenance::run(hub, stopped).await;
            ("maintenance", Ok(()))
        });
    }

    /// Retention inside `tracker run`: every `retention.check_secs` (if set), what has passed its
    /// period is erased. A failure is logged and tried again next time.
    pub async fn start_retention(&self) {
        let every = self.hub.settings.retention.check_secs;
        if every == 0 || self.hub.settings.retention.rules.is_empty() {
            return;
        }
        let (hub, mut stopped) = (self.hub.clone(), self.stop.subscribe());
        self.tasks.lock().await.spawn(async move {
            loop {
                match crate::retention::run(&hub, false).await {
                    Ok(pass) if pass.erased > 0 => {
                        tracing::info!(
                            erased = pass.erased,
                            notices = pass.notices,
                            "retention: expired records erased"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("retention: {e:#}"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(every)) => {}
                    _ = stopped.changed() => {}
                }
                if *stopped.borrow() {
                    return ("retention", Ok(()));
                }
            }
        });
    }

    pub async fn start_publisher(&self) {
        self.restore_counters().await;
        let (hub, stopped) = (self.hub.clone(), self.stop.subscribe());
        self.tasks
            .lock()
            .await
            .spawn(async move { ("publisher", outbox::run(hub, stopped).await.map_err(Into::into)) });
    }

    /// Serves the HTTP interface on `listener` until the stop.
    pub async fn start_http(&self, listener: tokio::net::TcpListener) {
        let (hub, stopped) = (self.hub.clone(), self.stop.subscribe());
        self.tasks
            .lock()
            .await
            .spawn(async move { ("http", crate::http::serve(hub, listener, stopped).await.context("serving HTTP")) });
    }

    pub async fn start_alerts(&self) {
        let (hub, stopped) = (self.hub.clone(), self.stop.subscribe());
        self.tasks.lock().await.spawn(async move {
            log_alerts(hub, stopped).await;
            ("alerts", Ok(()))
        });
    }

    /// Asks every task to stop: each finishes the work in hand (a consumer its message, the
    /// publisher its confirm) and returns.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// A handle that stops the application from elsewhere (a signal handler).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Waits until every task has ended (after `stop`, or a failure). The first task to fail stops
    /// the others, and its error is returned once they have all ended; a task that does not end
    /// within 30 s of the stop is aborted, and said so.
    pub async fn run_until_stopped(&self) -> anyhow::Result<()> {
        let mut tasks = self.tasks.lock().await;
        let mut first_error: Option<anyhow::Error> = None;
        let mut stopped = self.stop.subscribe();
        loop {
            let joined = if *stopped.borrow() {
                match tokio::time::timeout(STOP_GRACE, tasks.join_next()).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        tracing::error!("{} hub task(s) did not stop within 30 s of the stop; aborted", tasks.len());
                        tasks.abort_all();
                        while tasks.join_next().await.is_some() {}
                        break;
                    }
                }
            } else {
                tokio::select! {
                    joined = tasks.join_next() => joined,
                    _ = stopped.changed() => continue,
                }
            };
            let Some(joined) = joined else { break };
            let (name, result) =
                joined.unwrap_or_else(|e| ("a hub task", Err(anyhow::anyhow!("it panicked or was aborted: {e}"))));
            if let Err(e) = result {
                tracing::error!("{name} failed: {e:#}; stopping");
                self.stop();
                first_error.get_or_insert(e.context(name));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stops and waits for every task to end.
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.stop();
        self.run_until_stopped().await
    }
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
