//! The operator console driven in headless Chromium (Debian's chromium and chromedriver, through
//! the WebDriver protocol): a bad file arrives, the page shows it with its reason, the connector
//! mapping is fixed, Replay is clicked, the events appear in the store and the dead-letter count
//! falls — nothing lost, nothing applied twice. Also: who may see and do what.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{SAMPLES, TestHub};
use serde_json::{Value as Json, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a chromedriver of its own.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    profile: PathBuf,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver; .ci/run installs them)");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if ureq::get(&format!("{base}/status")).call().is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]}}}});
        let created = post(&format!("{base}/session"), &caps);
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        Browser { driver, base, session, profile }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn go(&self, url: &str) {
        post(&self.url("/url"), &json!({"url": url}));
    }

    fn find(&self, css: &str) -> Option<String> {
        let found = post(&self.url("/element"), &json!({"using": "css selector", "value": css}));
        found["value"][ELEMENT].as_str().map(str::to_owned)
    }

    fn text(&self, css: &str) -> String {
        // The console refreshes itself every few seconds: an element found just before a refresh
        // is gone (ChromeDriver answers 404, stale element) by the time its text is asked for.
        // Find it again on the new page.
        for _ in 0..5 {
            let id = self.find(css).unwrap_or_else(|| {
                let raw = post(&self.url("/element"), &json!({"using": "css selector", "value": css}));
                panic!("no {css} on the page ({raw}):\n{}", self.source())
            });
            if let Ok(mut res) = ureq::get(&self.url(&format!("/element/{id}/text"))).call() {
                let got: Json = res.body_mut().read_json().unwrap();
                return got["value"].as_str().unwrap_or_default().to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("{css} went stale five times running");
    }

    fn click(&self, css: &str) {
        let id = self.find(css).unwrap_or_else(|| panic!("no {css} on the page:\n{}", self.source()));
        post(&self.url(&format!("/element/{id}/click")), &json!({}));
    }

    fn source(&self) -> String {
        let got: Json = ureq::get(&self.url("/source")).call().unwrap().body_mut().read_json().unwrap();
        got["value"].as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn post(url: &str, body: &Json) -> Json {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    agent.post(url).send_json(body).unwrap().body_mut().read_json().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_seen_fixed_and_replayed_from_the_console() {
    let dir = crate::support::connectors_copy();
    let good = std::fs::read_to_string("connectors/court-results.toml").unwrap();
    std::fs::write(dir.join("court-results.toml"), good.replace("urn:libra:results:2", "urn:libra:results:3")).unwrap();
    let connectors = dir.clone();
    let hub = TestHub::start_with(move |s| s.paths.connectors = connectors).await;
    hub.send("court-b05lv00", "court-results", &Path::new(SAMPLES).join("court-results-B05LV00-20261117.xml")).await;
    let base = hub.start_http().await.expect("HTTP served");
    let console = base.replace("http://", "http://op:op-secret@") + "/console";
    let id: i64 = sqlx::query_scalar("SELECT id FROM refusals").fetch_one(hub.pool()).await.unwrap();

    let fixed = dir.join("court-results.toml");
    let page = tokio::task::spawn_blocking(move || {
        let browser = Browser::start();
        browser.go(&console);
        assert_eq!(browser.text("#dead-count"), "1");
        let row = browser.text(&format!("#dead-{id}"));
        assert!(row.contains("court-results-B05LV00-20261117.xml") && row.contains("urn:libra:results:3"), "{row}");
        assert!(browser.text("#alerts").contains("1 dead letters open"));
        // The operator fixes the mapping, then clicks Replay.
        std::fs::write(&fixed, &good).unwrap();
        browser.click(&format!("#replay-{id}"));
        for _ in 0..50 {
            if browser.find("#dead-count").is_some() && browser.text("#dead-count") == "0" {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(browser.text("#dead-count"), "0", "{}", browser.source());
        browser.source()
    })
    .await
    .unwrap();
    assert!(page.contains("replay") && page.contains(">op<"), "the action is listed with who did it");
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 2, "the hearing and the order, once each");
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE resolution = 'reprocessed'").await, 1);
    assert_eq!(hub.count("SELECT count(*) FROM operator_actions WHERE actor = 'op' AND action = 'replay'").await, 1);
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0);
    hub.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_but_health_answers_without_credentials_and_roles_are_enforced() {
    let hub = TestHub::start().await;
    hub.send("probation", "probation-events", &Path::new(SAMPLES).join("bad/probation-0011-not-json.json")).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM refusals").fetch_one(hub.pool()).await.unwrap();
    let base = hub.start_http().await.expect("HTTP served");
    tokio::task::spawn_blocking(move || {
        use crate::support::http;
        assert_eq!(http("GET", &format!("{base}/health"), None, None).0, 200);
        let paths = [
            "/ready",
            "/metrics",
            "/schemas",
            "/console",
            "/api/status",
            "/api/deadletters",
            "/api/identity/conflicts",
        ];
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(http("GET", &format!("{base}{path}"), None, None).0, 401, "{path} without credentials");
            // After five failed logins the name is locked out for a minute (429).
            let wrong = if i < tracker::http::throttle::FAILURES_ALLOWED as usize { 401 } else { 429 };
            assert_eq!(
                http("GET", &format!("{base}{path}"), Some("nobody"), None).0,
                wrong,
                "{path} with a wrong user"
            );
        }
        assert_eq!(http("POST", &format!("{base}/console/deadletters/{id}/replay"), None, None).0, 401);
        // Roles: the subscriber only fetches schemas; the analyst reads metrics, not the console;
        // the auditor reads everything but acts on nothing.
        assert_eq!(http("GET", &format!("{base}/schemas"), Some("sub"), None).0, 200);
        assert_eq!(http("GET", &format!("{base}/metrics"), Some("sub"), None).0, 403);
        assert_eq!(http("GET", &format!("{base}/metrics"), Some("ana"), None).0, 200);
        assert_eq!(http("GET", &format!("{base}/console"), Some("ana"), None).0, 403);
        let (status, page) = http("GET", &format!("{base}/console"), Some("aud"), None);
        assert_eq!(status, 200);
        assert!(page.contains("column 247") && !page.contains("replay-"), "auditors see reasons, not actions");
        assert_eq!(http("POST", &format!("{base}/console/deadletters/{id}/purge"), Some("aud"), None).0, 403);
        // An operator's action from another site is refused; from the console it is done.
        assert_eq!(
            http("POST", &format!("{base}/console/deadletters/{id}/purge"), Some("op"), Some("http://evil.example")).0,
            403
        );
        let (status, _) = http("POST", &format!("{base}/console/deadletters/{id}/purge"), Some("op"), None);
        assert_eq!(status, 303);
        let (_, list) = http("GET", &format!("{base}/api/deadletters"), Some("aud"), None);
        assert_eq!(list.trim(), "[]");
    })
    .await
    .unwrap();
    assert_eq!(hub.count("SELECT count(*) FROM operator_actions WHERE actor = 'op' AND action = 'purge'").await, 1);
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE resolved_by = 'op'").await, 1);
    hub.finish().await;
}
