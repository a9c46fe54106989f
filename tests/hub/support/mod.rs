//! Test harness: a real hub (a `Sandbox`: fresh database, random broker prefix) plus helpers to
//! publish, wait and look.
#![allow(dead_code)]
pub mod browser;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tracker::broker::publish;
use tracker::settings::Settings;
use tracker::tools::sandbox::Sandbox;

pub const SAMPLES: &str = "samples";

pub struct TestHub(Sandbox);

impl Deref for TestHub {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

/// Users of the HTTP interface in tests: (name, password, role).
pub const USERS: [(&str, &str, &str); 6] = [
    ("op", "op-secret", "operator"),
    ("aud", "aud-secret", "auditor"),
    ("ana", "ana-secret", "analyst"),
    ("sub", "sub-secret", "subscriber"),
    ("lv", "lv-secret", "court"),
    ("bd", "bd-secret", "court"),
];

/// The court each court user acts for.
fn court_of(user: &str) -> Option<String> {
    match user {
        "lv" => Some("court-b05lv00".into()),
        "bd" => Some("court-b13bd00".into()),
        _ => None,
    }
}

fn hashed_users() -> &'static std::collections::BTreeMap<String, tracker::http::auth::UserSettings> {
    static USERS_HASHED: std::sync::OnceLock<std::collections::BTreeMap<String, tracker::http::auth::UserSettings>> =
        std::sync::OnceLock::new();
    USERS_HASHED.get_or_init(|| {
        USERS
            .iter()
            .map(|(name, password, role)| {
                let role: tracker::http::auth::Role = serde_json::from_value(serde_json::json!(role)).unwrap();
                (
                    name.to_string(),
                    tracker::http::auth::UserSettings {
                        role,
                        password: tracker::http::auth::hash_password(password),
                        court: court_of(name),
                    },
                )
            })
            .collect()
    })
}

pub fn test_settings() -> Settings {
    let mut s = Settings::load(Path::new("config")).expect("config/default.toml loads");
    s.clock.fixed = "2026-11-28T00:00:00Z".into();
    s.auth.users = hashed_users().clone();
    s
}

/// An HTTP request to the hub as `user` (None: no credentials): (status, body).
pub fn http(method: &str, url: &str, user: Option<&str>, origin: Option<&str>) -> (u16, String) {
    let (status, body) = http_bytes(method, url, user, origin);
    (status, String::from_utf8(body).unwrap_or_default())
}

/// As [`http`], the body as bytes (a PDF, say).
pub fn http_bytes(method: &str, url: &str, user: Option<&str>, origin: Option<&str>) -> (u16, Vec<u8>) {
    request(method, url, user, origin, None)
}

/// A form posted as a browser would (`application/x-www-form-urlencoded`): (status, body).
pub fn post_form(url: &str, user: Option<&str>, origin: Option<&str>, fields: &[(&str, &str)]) -> (u16, String) {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let (status, body) = request("POST", url, user, origin, Some(body));
    (status, String::from_utf8(body).unwrap_or_default())
}

fn request(method: &str, url: &str, user: Option<&str>, origin: Option<&str>, form: Option<String>) -> (u16, Vec<u8>) {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(user) = user {
        let password = USERS.iter().find(|u| u.0 == user).map(|u| u.1).unwrap_or("wrong");
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        req = req.header("Authorization", format!("Basic {token}"));
    }
    if let Some(origin) = origin {
        req = req.header("Origin", origin);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut res = match form {
        Some(body) => agent
            .run(req.header("Content-Type", "application/x-www-form-urlencoded").body(body.into_bytes()).unwrap())
            .unwrap(),
        None => agent.run(req.body(()).unwrap()).unwrap(),
    };
    (res.status().as_u16(), res.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap_or_default())
}

/// An HTTP request with extra headers: (status, headers, body).
pub fn request_with_headers(
    method: &str,
    url: &str,
    auth: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> (u16, ureq::http::HeaderMap, String) {
    use base64::Engine;
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some((user, password)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        req = req.header("Authorization", format!("Basic {token}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut res = agent.run(req.body(()).unwrap()).unwrap();
    let headers = res.headers().clone();
    (res.status().as_u16(), headers, res.body_mut().read_to_string().unwrap_or_default())
}

/// The hub's HTTP interface on a free port; stops when the returned sender sends true.
/// Serves the HTTP interface of a hub that is not a sandbox's (an idle one, say) through an
/// application of its own; `shutdown` it when done.
pub async fn serve_http(hub: std::sync::Arc<tracker::hub::Hub>) -> (String, tracker::app::App) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = tracker::app::App::around(hub);
    app.start_http(listener).await;
    (format!("http://{addr}"), app)
}

impl TestHub {
    pub async fn start() -> TestHub {
        Self::start_with(|_| {}).await
    }

    /// A hub whose outbox publisher waits for `start_publisher`.
    pub async fn start_without_publisher() -> TestHub {
        TestHub(Sandbox::start_consuming(test_settings(), "t").await.expect("sandbox starts"))
    }

    /// A provisioned hub neither consuming nor publishing yet (`start_consumers`,
    /// `start_publisher`), so messages can wait on its queues first.
    pub async fn start_idle(adjust: impl FnOnce(&mut Settings)) -> TestHub {
        let mut settings = test_settings();
        adjust(&mut settings);
        TestHub(Sandbox::start_idle(settings, "t").await.expect("sandbox starts"))
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
        self.send_plan_from(Path::new(SAMPLES)).await;
    }

    /// Every payload of a directory's send plan (expected.json), in order.
    pub async fn send_plan_from(&self, dir: &Path) {
        for p in tracker::tools::demo::send_plan(dir).expect("plan") {
            self.send(&p.agency, &p.connector, &PathBuf::from(dir).join(&p.file)).await;
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

    /// Rows where `outbox_unsent` (kept by triggers, migration 0036) and the outbox disagree: an
    /// id listed that is published or withheld at publish, an unsent row not listed, or a listed
    /// row in the wrong publisher partition. Zero when the publisher's list is exact.
    pub async fn unsent_list_mismatches(&self) -> i64 {
        self.count(
            "SELECT count(*) FROM (
                 (SELECT id, person_byte FROM outbox_unsent
                  EXCEPT SELECT o.id, outbox_person_byte(coalesce(r.subject_id, o.subject_id))
                         FROM outbox o LEFT JOIN outbox r ON r.message_id = o.refers_to
                         WHERE o.published_at IS NULL AND o.withheld_at_publish IS NULL)
                 UNION ALL
                 (SELECT o.id, outbox_person_byte(coalesce(r.subject_id, o.subject_id))
                  FROM outbox o LEFT JOIN outbox r ON r.message_id = o.refers_to
                  WHERE o.published_at IS NULL AND o.withheld_at_publish IS NULL
                  EXCEPT SELECT id, person_byte FROM outbox_unsent)) AS differ",
        )
        .await
    }

    /// Every table whose rows name an event by reference without a foreign key (migration 0032:
    /// they hold by construction), with how many of its rows name an event the store does not
    /// hold. Empty when every such reference holds.
    pub async fn rows_naming_a_missing_event(&self) -> Vec<(String, i64)> {
        let mut missing = Vec::new();
        for table in EVENT_REFERENCES_BY_CONSTRUCTION {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.event_id)"
            )))
            .fetch_one(self.pool())
            .await
            .expect(table);
            if n > 0 {
                missing.push((table.to_string(), n));
            }
        }
        missing
    }

    /// Rows of the tables that name a person (events, subject identifiers and details) naming
    /// one the store does not hold. Zero when every reference to a person holds.
    pub async fn rows_naming_a_missing_person(&self) -> i64 {
        self.count(
            "SELECT (SELECT count(*) FROM events t WHERE t.subject_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM subjects s WHERE s.subject_id = t.subject_id))
                  + (SELECT count(*) FROM subject_identifiers t
                       WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.subject_id = t.subject_id))
                  + (SELECT count(*) FROM subject_details t
                       WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.subject_id = t.subject_id))",
        )
        .await
    }
}

/// The tables migration 0032 took the foreign key to events off.
const EVENT_REFERENCES_BY_CONSTRUCTION: &[&str] = &[
    "appointments",
    "bail_decisions",
    "breaches",
    "charges",
    "custody_events",
    "drug_tests",
    "hearings",
    "offences_pleas",
    "order_requirements",
    "order_terminations",
    "orders",
    "pre_sentence_reports",
    "risk_registrations",
    "supervision_requirements",
    "supervisions",
    "treatment_episodes",
    "warrants",
    "involvements",
    "record_identifiers",
    "outbox",
];

/// A copy of `connectors/` in a temporary directory, for tests that break and fix a connector.
pub fn connectors_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connectors-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir("connectors").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// A treatment record in the fixed-width format: one referral naming these identifiers.
pub fn treatment_referral(client: &str, crn: &str, pnc: &str) -> Vec<u8> {
    treatment_referral_on(client, crn, pnc, "20261101")
}

/// As [`treatment_referral`], on `date` (YYYYMMDD): the same client referred again on the same
/// day is the same record sent again.
pub fn treatment_referral_on(client: &str, crn: &str, pnc: &str, date: &str) -> Vec<u8> {
    let ep = format!(
        "EP{client:<10}{nhs:<10}{crn:<7}{pnc:<13}{surname:<30}{forename:<20}19980702REF{date}CJ",
        nhs = "",
        surname = "BROTHER",
        forename = "YOUNGER"
    );
    format!("HDMERSDRG120261120000999\r\n{ep}\r\nTL00000001\r\n").into_bytes()
}

/// A stand-in OpenTelemetry collector: accepts OTLP/HTTP JSON posts on a free port and keeps
/// the spans it is sent.
pub struct Collector {
    pub url: String,
    spans: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Collector {
    pub fn start() -> Collector {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = spans.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    loop {
                        let mut length = 0;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
                            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                                kept.lock().unwrap().extend(ss["spans"].as_array().into_iter().flatten().cloned());
                            }
                        }
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                        );
                    }
                });
            }
        });
        Collector { url, spans }
    }

    /// The spans of one trace, once `enough` says they have all come (within 30 s).
    pub fn spans_of(&self, trace_id: &str, enough: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        let start = std::time::Instant::now();
        loop {
            let spans: Vec<serde_json::Value> =
                self.spans.lock().unwrap().iter().filter(|s| s["traceId"] == trace_id).cloned().collect();
            if enough(&spans) || start.elapsed() > Duration::from_secs(30) {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
