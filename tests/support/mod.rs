//! Test harness: a real hub (a `Sandbox`: fresh database, random broker prefix) plus helpers to
//! publish, wait and look.
#![allow(dead_code)]
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tracker::broker::publish;
use tracker::sandbox::Sandbox;
use tracker::settings::Settings;

pub const SAMPLES: &str = "samples";

pub struct TestHub(Sandbox);

impl Deref for TestHub {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

pub fn test_settings() -> Settings {
    let mut s = Settings::load(Path::new("config")).expect("config/default.toml loads");
    s.clock.fixed = "2026-11-28T00:00:00Z".into();
    s
}

impl TestHub {
    pub async fn start() -> TestHub {
        Self::start_with(|_| {}).await
    }

    /// A hub whose outbox publisher waits for `start_publisher`.
    pub async fn start_without_publisher() -> TestHub {
        TestHub(Sandbox::start_consuming(test_settings(), "t").await.expect("sandbox starts"))
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestHub {
        let mut settings = test_settings();
        adjust(&mut settings);
        TestHub(Sandbox::start(settings, "t").await.expect("sandbox starts"))
    }

    pub async fn wait_acknowledged(&self, n: u64) {
        self.0.wait_acknowledged(n, Duration::from_secs(60)).await.expect("hub keeps up");
    }

    /// Publishes a file as the agency would and waits until it is acknowledged.
    pub async fn send(&self, agency: &str, connector: &str, path: &Path) {
        let before = self.acknowledged();
        publish::send_file(&self.ch, &self.names, agency, connector, path).await.expect("publish confirmed");
        self.wait_acknowledged(before + 1).await;
    }

    /// Publishes raw bytes under a routing key with a message id, and waits for the ack.
    pub async fn send_bytes(&self, key: &str, message_id: &str, body: &[u8]) {
        let before = self.acknowledged();
        let props = BasicProperties::default().with_message_id(message_id.into()).with_delivery_mode(2);
        publish::publish_confirmed(&self.ch, &self.names.inbound_exchange(), key, body, props)
            .await
            .expect("publish confirmed");
        self.wait_acknowledged(before + 1).await;
    }

    /// The sample month then bad/, in expected.json's order.
    pub async fn send_sample_plan(&self) {
        for p in tracker::demo::send_plan(Path::new(SAMPLES)).expect("plan") {
            self.send(&p.agency, &p.connector, &PathBuf::from(SAMPLES).join(&p.file)).await;
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.hub.pool
    }

    /// Every message waiting in a queue (consumed: tests own their queues).
    pub async fn drain(&self, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let mut out = Vec::new();
        while let Some(m) = self.ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await.expect("basic.get")
        {
            out.push(m);
        }
        out
    }

    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let opts = QueueDeclareOptions { passive: true, ..Default::default() };
        self.ch.queue_declare(queue.into(), opts, FieldTable::default()).await.expect("queue exists").message_count()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(self.pool()).await.expect(sql)
    }

    pub async fn finish(self) {
        self.0.finish().await.expect("sandbox cleans up");
    }
}
