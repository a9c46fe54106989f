//! Test harness: a real hub on a fresh database and a random broker prefix, so tests run side
//! by side against the real RabbitMQ and Postgres and leave nothing behind.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracker::broker::{Names, consume, provision, publish};
use tracker::pipeline::Hub;
use tracker::settings::Settings;

pub const SAMPLES: &str = "samples";

pub struct TestHub {
    pub hub: Arc<Hub>,
    pub names: Names,
    pub conn: Connection,
    pub ch: Channel,
    admin_url: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), consume::RunError>>>,
}

pub fn test_settings() -> Settings {
    let mut s = Settings::load(Path::new("config")).expect("config/default.toml loads");
    s.clock.fixed = "2026-11-28T00:00:00Z".into();
    s.broker.prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    s
}

impl TestHub {
    pub async fn start() -> TestHub {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestHub {
        let mut settings = test_settings();
        adjust(&mut settings);
        let admin_url = settings.database.url.clone();
        settings.database.url = tracker::store::create_scratch_database(&admin_url, "tracker_test")
            .await
            .expect("scratch database");
        provision::provision(&settings).await.expect("provision");
        let names = Names::new(&settings.broker.prefix);
        let hub = Arc::new(tracker::cli::build_hub(settings).await.expect("hub builds"));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(consume::run(hub.clone(), stopped));
        let conn = tracker::broker::connect(&hub.settings.broker.url)
            .await
            .expect("broker");
        let ch = publish::confirm_channel(&conn).await.expect("channel");
        TestHub {
            hub,
            names,
            conn,
            ch,
            admin_url,
            stop,
            task: Some(task),
        }
    }

    pub fn acknowledged(&self) -> u64 {
        self.hub.stats.acknowledged.load(Ordering::SeqCst)
    }

    /// Waits until the hub has acknowledged `n` messages in all.
    pub async fn wait_acknowledged(&self, n: u64) {
        let start = Instant::now();
        while self.acknowledged() < n {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "hub acknowledged {} of {n} messages",
                self.acknowledged()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Publishes a file as the agency would and waits until it is acknowledged.
    pub async fn send(&self, agency: &str, connector: &str, path: &Path) {
        let before = self.acknowledged();
        publish::send_file(&self.ch, &self.names, agency, connector, path)
            .await
            .expect("publish confirmed");
        self.wait_acknowledged(before + 1).await;
    }

    /// Publishes raw bytes under a routing key with a message id, and waits for the ack.
    pub async fn send_bytes(&self, key: &str, message_id: &str, body: &[u8]) {
        let before = self.acknowledged();
        let props = BasicProperties::default()
            .with_message_id(message_id.into())
            .with_delivery_mode(2);
        publish::publish_confirmed(&self.ch, &self.names.inbound_exchange(), key, body, props)
            .await
            .expect("publish confirmed");
        self.wait_acknowledged(before + 1).await;
    }

    /// The sample month then bad/, in expected.json's order.
    pub async fn send_sample_plan(&self) {
        for p in tracker::demo::send_plan(Path::new(SAMPLES)).expect("plan") {
            self.send(
                &p.agency,
                &p.connector,
                &PathBuf::from(SAMPLES).join(&p.file),
            )
            .await;
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.hub.pool
    }

    /// Every message waiting in a queue (consumed: tests own their queues).
    pub async fn drain(&self, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let mut out = Vec::new();
        while let Some(m) = self
            .ch
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            out.push(m);
        }
        out
    }

    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        self.ch
            .queue_declare(queue.into(), opts, FieldTable::default())
            .await
            .expect("queue exists")
            .message_count()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool())
            .await
            .expect(sql)
    }

    /// Stops the hub, deletes its queues and exchanges, drops its database.
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.await.expect("hub task").expect("hub stopped cleanly");
        }
        let mut queues = vec![self.names.dead_queue()];
        for agency in self.hub.settings.agencies.keys() {
            queues.push(self.names.inbound_queue(agency));
            queues.push(self.names.outbound_queue(agency));
        }
        for q in queues {
            let _ = self
                .ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for x in [
            self.names.inbound_exchange(),
            self.names.outbound_exchange(),
            self.names.dead_exchange(),
        ] {
            let _ = self
                .ch
                .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
        let _ = self.conn.close(200, "test done".into()).await;
        self.hub.pool.close().await;
        tracker::store::drop_scratch_database(&self.admin_url, &self.hub.settings.database.url)
            .await
            .expect("drop scratch database");
    }
}
