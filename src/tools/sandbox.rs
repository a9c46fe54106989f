//! A hub of its own: a fresh database beside the configured one and a random broker name
//! prefix, provisioned and consuming. Tests and benchmarks use it so they run side by side
//! against the real services and leave nothing behind.
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Channel, Connection};

use crate::app::App;
use crate::broker::{Names, provision, publish};
use crate::hub::Hub;
use crate::settings::Settings;

pub struct Sandbox {
    /// The application under test, wired as `tracker run` wires it.
    pub app: App,
    /// The same hub as `app.hub`, at hand for the tests and benchmarks that look into it.
    pub hub: Arc<Hub>,
    pub names: Names,
    pub conn: Connection,
    /// A confirm-mode channel for the caller's own publishing.
    pub ch: Channel,
    admin_url: String,
}

impl Sandbox {
    /// Gives `settings` a fresh database and prefix, provisions, and starts consuming and
    /// publishing.
    pub async fn start(settings: Settings, label: &str) -> anyhow::Result<Sandbox> {
        let sandbox = Self::start_consuming(settings, label).await?;
        sandbox.start_publisher().await;
        Ok(sandbox)
    }

    /// Like [`Sandbox::start`] but without the outbox publisher (start it with
    /// [`Sandbox::start_publisher`]), so tests can act on deliveries still queued.
    pub async fn start_consuming(settings: Settings, label: &str) -> anyhow::Result<Sandbox> {
        let sandbox = Self::start_idle(settings, label).await?;
        sandbox.start_consumers().await;
        Ok(sandbox)
    }

    /// Provisioned, with its hub built, but neither consuming nor publishing (start them with
    /// [`Sandbox::start_consumers`] and [`Sandbox::start_publisher`]), so tests can put the
    /// broker in a state first.
    pub async fn start_idle(mut settings: Settings, label: &str) -> anyhow::Result<Sandbox> {
        settings.broker.prefix = format!("{label}{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let admin_url = settings.database.url.clone();
        settings.database.url = crate::store::create_scratch_database(&admin_url, &format!("tracker_{label}")).await?;
        provision::provision(&settings).await.context("provisioning")?;
        let names = Names::new(&settings.broker.prefix);
        let app = App::build(settings).await?;
        let hub = app.hub.clone();
        let conn = crate::broker::connect(&hub.settings.broker.url).await?;
        let ch = publish::confirm_channel(&conn).await?;
        Ok(Sandbox { app, hub, names, conn, ch, admin_url })
    }

    /// Starts the consumers, and the store maintenance that `tracker run` runs beside them.
    pub async fn start_consumers(&self) {
        self.app.start_maintenance().await;
        self.app.start_consumers().await;
    }

    pub async fn start_publisher(&self) {
        self.app.start_publisher().await;
    }

    /// Serves the HTTP interface on a free local port; returns its base URL.
    pub async fn start_http(&self) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        self.app.start_http(listener).await;
        Ok(format!("http://{addr}"))
    }

    pub fn acknowledged(&self) -> u64 {
        self.hub.stats.acknowledged.load(Ordering::SeqCst)
    }

    /// Waits until the hub has acknowledged `n` messages in all (saying how far it is every ten
    /// seconds of a long wait: a benchmark's).
    pub async fn wait_acknowledged(&self, n: u64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut progress = crate::tools::progress::Progress::new("processing", "messages", n as usize);
        while self.acknowledged() < n {
            progress.tick(self.acknowledged() as usize, None);
            anyhow::ensure!(start.elapsed() < timeout, "the hub acknowledged {} of {n} messages", self.acknowledged());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Stops the hub, deletes its queues and exchanges, drops its database.
    pub async fn finish(self) -> anyhow::Result<()> {
        let admin_url = self.admin_url.clone();
        let url = self.finish_keeping_database().await?;
        crate::store::drop_scratch_database(&admin_url, &url).await?;
        Ok(())
    }

    /// Stops the hub and deletes its queues and exchanges, but keeps its database (a benchmark's
    /// loaded store, to be timed again with `--store`); returns the database's URL.
    pub async fn finish_keeping_database(self) -> anyhow::Result<String> {
        self.app.shutdown().await.context("hub task")?;
        let mut queues = vec![self.names.dead_queue()];
        for agency in self.hub.settings.agencies.keys() {
            queues.push(self.names.inbound_queue(agency));
            queues.push(self.names.outbound_queue(agency));
        }
        for q in queues {
            self.ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await?;
        }
        for x in [self.names.inbound_exchange(), self.names.outbound_exchange(), self.names.dead_exchange()] {
            self.ch.exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default()).await?;
        }
        crate::broker::close(&self.conn, "sandbox done").await;
        self.hub.pool.close().await;
        Ok(self.hub.settings.database.url.clone())
    }
}
