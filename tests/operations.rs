//! Operations over the real broker and store: a broken feed is seen with its reason, the
//! connector is fixed, the dead letter is replayed — nothing lost, nothing applied twice.
mod support;

use std::path::{Path, PathBuf};

use support::{SAMPLES, TestHub};

fn connectors_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connectors-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir("connectors").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_connector_replays_its_dead_letters_and_nothing_is_lost_or_doubled() {
    let dir = connectors_copy();
    let good = std::fs::read_to_string("connectors/court-results.toml").unwrap();
    // A mapping mistake: the court's namespace mistyped.
    std::fs::write(dir.join("court-results.toml"), good.replace("urn:libra:results:2", "urn:libra:results:3")).unwrap();
    let connectors = dir.clone();
    let hub = TestHub::start_with(move |s| s.paths.connectors = connectors).await;
    let samples = Path::new(SAMPLES);
    hub.send("court-b05lv00", "court-results", &samples.join("court-results-B05LV00-20261117.xml")).await;
    let status = tracker::ops::status::gather(&hub.hub.settings, hub.pool()).await.unwrap();
    assert_eq!(status.dead_letters_open, 1);
    let dead = status.queues.iter().find(|q| q.queue == hub.names.dead_queue()).unwrap();
    assert_eq!(dead.messages, 1);
    let open = tracker::ops::deadletters::list(&hub.hub).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(open[0].reason.contains("urn:libra:results:3"), "{}", open[0].reason);
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 0);

    // Fix the connector; a hub started on the fixed files replays the dead letter.
    std::fs::write(dir.join("court-results.toml"), &good).unwrap();
    let fixed = tracker::cli::build_hub(hub.hub.settings.clone()).await.unwrap();
    let results = tracker::ops::deadletters::replay(&fixed, &[open[0].id]).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!((results[0].events, results[0].still_refused), (2, 0));
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE resolution = 'reprocessed'").await, 1);
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0, "the dead queue holds only open dead letters");
    assert_eq!(hub.count("SELECT count(*) FROM inbox WHERE outcome = 'applied' AND detail = 'reprocessed'").await, 1);

    // Replaying again, or reprocessing the connector's archive, applies nothing twice.
    let archives: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, agency, message_id FROM raw_archive").fetch_all(hub.pool()).await.unwrap();
    let again = tracker::ops::deadletters::reprocess_archived(&fixed, &archives).await.unwrap();
    assert_eq!(again[0].events, 0);
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(
        hub.count("SELECT count(*) FROM disclosure_log").await,
        hub.count("SELECT count(DISTINCT (event_id, recipient, stage)) FROM disclosure_log").await
    );

    // What will never apply is purged, with who did it, and leaves the dead queue.
    hub.send("probation", "probation-events", &samples.join("bad/probation-0011-not-json.json")).await;
    let open = tracker::ops::deadletters::list(&hub.hub).await.unwrap();
    assert_eq!(open.len(), 1);
    let shown = tracker::ops::deadletters::show(&hub.hub, open[0].id).await.unwrap();
    assert!(shown.contains("column 247") && shown.contains("\"attended\": tru"), "{shown}");
    assert_eq!(tracker::ops::deadletters::purge(&hub.hub, &[open[0].id], false, "test-operator").await.unwrap(), 1);
    assert_eq!(
        hub.count("SELECT count(*) FROM refusals WHERE resolution = 'purged' AND resolved_by = 'test-operator'").await,
        1
    );
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0);
    fixed.pool.close().await;
    hub.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}
