//! The operator console driven in headless Chromium (Debian's chromium and chromedriver, through
//! the WebDriver protocol): a bad file arrives, the page shows it with its reason, the connector
//! mapping is fixed, Replay is clicked, the events appear in the store and the dead-letter count
//! falls — nothing lost, nothing applied twice. Also: who may see and do what.

use std::path::Path;
use std::time::Duration;

use crate::support::browser::Browser;
use crate::support::{SAMPLES, TestHub};

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
            "/api/v1/status",
            "/api/v1/deadletters",
            "/api/v1/identity/conflicts",
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
        // The chart over time holds the refusal in the hour it was made (the hub's clock).
        assert!(page.contains("id=throughput-chart") && page.contains("2026-11-28 00:00 UTC: 1 refusals"), "{page}");
        assert!(page.contains(&format!("href=\"/api/v1/deadletters/{id}/payload\"")), "the refused bytes are linked");
        assert_eq!(http("POST", &format!("{base}/console/deadletters/{id}/purge"), Some("aud"), None).0, 403);
        // An operator's action from another site is refused; from the console it is done.
        assert_eq!(
            http("POST", &format!("{base}/console/deadletters/{id}/purge"), Some("op"), Some("http://evil.example")).0,
            403
        );
        let (status, _) = http("POST", &format!("{base}/console/deadletters/{id}/purge"), Some("op"), None);
        assert_eq!(status, 303);
        let (_, list) = http("GET", &format!("{base}/api/v1/deadletters"), Some("aud"), None);
        assert_eq!(list.trim(), "[]");
    })
    .await
    .unwrap();
    assert_eq!(hub.count("SELECT count(*) FROM operator_actions WHERE actor = 'op' AND action = 'purge'").await, 1);
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE resolved_by = 'op'").await, 1);
    hub.finish().await;
}
