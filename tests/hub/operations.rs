//! Operations over the real broker and store: a broken feed is seen with its reason, the
//! connector is fixed, the dead letter is replayed — nothing lost, nothing applied twice.

use std::path::Path;

use crate::support::{SAMPLES, TestHub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_connector_replays_its_dead_letters_and_nothing_is_lost_or_doubled() {
    let dir = crate::support::connectors_copy();
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
    let fixed = tracker::hub::Hub::build(hub.hub.settings.clone()).await.unwrap();
    let results = tracker::ops::deadletters::replay(&fixed, &[open[0].id], "test-operator").await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!((results[0].events, results[0].still_refused), (2, 0));
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE resolution = 'reprocessed'").await, 1);
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0, "the dead queue holds only open dead letters");
    assert_eq!(hub.count("SELECT count(*) FROM inbox WHERE outcome = 'applied' AND detail = 'reprocessed'").await, 1);

    // Replaying again, or reprocessing the connector's archive, applies nothing twice.
    let archives: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, agency, message_id FROM raw_archive").fetch_all(hub.pool()).await.unwrap();
    let again = tracker::ops::deadletters::reprocess_archived(&fixed, &archives, |_| {}).await.unwrap();
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

/// (metric name, labels, value)
type Series = (String, Vec<(String, String)>, f64);

/// `name{labels} value` lines of a Prometheus text exposition; panics on a malformed line.
fn parse_exposition(text: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
            None => (series.to_string(), Vec::new()),
        };
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad metric name: {line}");
        out.push((name, labels, value));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_match_the_store_and_ready_reports_what_is_missing() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let base = hub.start_http().await.expect("HTTP served");
    let (metrics, ready) = tokio::task::spawn_blocking(move || {
        let (status, metrics) = crate::support::http("GET", &format!("{base}/metrics"), Some("aud"), None);
        assert_eq!(status, 200);
        (metrics, crate::support::http("GET", &format!("{base}/ready"), Some("op"), None).0)
    })
    .await
    .unwrap();
    let series = parse_exposition(&metrics);
    let value = |name: &str, labels: &[(&str, &str)]| {
        series
            .iter()
            .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.iter().any(|(a, b)| a == k && b == v)))
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{metrics}"))
    };
    assert_eq!(value("tracker_messages_received_total", &[("connector", "police-custody")]), 5.0);
    assert_eq!(value("tracker_refusals_total", &[("connector", "police-custody"), ("reason", "field_count")]), 1.0);
    assert_eq!(value("tracker_refusals_total", &[("connector", "treatment-records"), ("reason", "truncated")]), 1.0);
    let delivered_by_store =
        hub.count("SELECT count(*) FROM outbox WHERE recipient = 'court-b05lv00' AND published_at IS NOT NULL").await;
    assert_eq!(
        value("tracker_deliveries_confirmed_total", &[("recipient", "court-b05lv00")]),
        delivered_by_store as f64
    );
    let withheld_by_store =
        hub.count("SELECT count(*) FROM disclosure_log WHERE recipient = 'court-b05lv00' AND decision = 'withhold' AND stage = 'decided'").await;
    assert_eq!(
        value("tracker_decisions_total", &[("recipient", "court-b05lv00"), ("decision", "withhold")]),
        withheld_by_store as f64
    );
    assert_eq!(value("tracker_outbox_backlog", &[]), 0.0);
    assert_eq!(value("tracker_dead_letters_open", &[]), 5.0);
    assert_eq!(value("tracker_queue_messages", &[("queue", &hub.names.dead_queue())]), 5.0);
    assert_eq!(value("tracker_message_processing_seconds_count", &[]), 26.0);
    // Every deliver/redact decision was confirmed.
    let decided: f64 = series
        .iter()
        .filter(|(n, l, _)| n == "tracker_decisions_total" && !l.iter().any(|(_, v)| v == "withhold"))
        .map(|s| s.2)
        .sum();
    let confirmed: f64 = series.iter().filter(|(n, _, _)| n == "tracker_deliveries_confirmed_total").map(|s| s.2).sum();
    assert_eq!(decided, confirmed);
    // The build and the process, as Prometheus client libraries name them.
    assert_eq!(value("tracker_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    let resident = value("process_resident_memory_bytes", &[]);
    assert!(resident > 1e6 && resident < 4e9, "{resident}");
    assert!(value("process_cpu_seconds_total", &[]) > 0.0);
    assert!(value("process_open_fds", &[]) >= 3.0);
    let started = value("process_start_time_seconds", &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(started <= now + 1.0 && started > now - 3600.0, "started {started}, now {now}");
    assert_eq!(ready, 200);
    assert_eq!(value("tracker_alert", &[("rule", "dead_letters")]), 1.0, "5 dead letters open, alert above 0");

    // A hub that is not consuming is alive but not ready, and says why.
    let idle = std::sync::Arc::new(tracker::hub::Hub::build(hub.hub.settings.clone()).await.unwrap());
    let (base, idle_app) = crate::support::serve_http(idle.clone()).await;
    let (health, not_ready, restarted) = tokio::task::spawn_blocking(move || {
        (
            crate::support::http("GET", &format!("{base}/health"), None, None).0,
            crate::support::http("GET", &format!("{base}/ready"), Some("op"), None),
            crate::support::http("GET", &format!("{base}/metrics"), Some("aud"), None).1,
        )
    })
    .await
    .unwrap();
    // Counters are kept in the process: a process started later reads the store's totals once,
    // so it says what the first says (and what the store holds).
    let counted = |text: &str| {
        let mut families: Vec<Series> = parse_exposition(text)
            .into_iter()
            .filter(|(n, _, _)| {
                n.ends_with("_total")
                    && !n.starts_with("process_")
                    && !n.contains("acknowledged")
                    && !n.contains("batches")
            })
            .collect();
        families.sort_by(|a, b| format!("{:?}", (&a.0, &a.1)).cmp(&format!("{:?}", (&b.0, &b.1))));
        families
    };
    assert!(counted(&metrics).len() > 10, "{metrics}");
    assert_eq!(counted(&restarted), counted(&metrics));
    assert_eq!(health, 200);
    assert_eq!(not_ready.0, 503);
    assert!(
        not_ready.1.contains("0 of 7 inbound consumers attached") && not_ready.1.contains("publisher not connected"),
        "{}",
        not_ready.1
    );
    idle_app.shutdown().await.unwrap();
    idle.pool.close().await;
    hub.finish().await;
}

fn registration(ids: &str) -> Vec<u8> {
    format!(
        r#"{{"eventType":"probation-case.registration.added","version":1,"occurredAt":"2026-11-05T11:00:00+00:00",
        "personReference":{{"identifiers":[{ids}]}},
        "additionalInformation":{{"registerTypeCode":"MAPP","registrationDate":"2026-11-05"}}}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_review_links_or_keeps_apart_and_what_follows_is_resolved_the_same_way() {
    use crate::support::{treatment_referral, treatment_referral_on};
    use tracker::ops::identity::{Decision, decide, list};
    let hub = TestHub::start().await;
    let probation = "probation.probation-events";
    let treatment = "treatment.treatment-records";
    // Probation pairs CRN X100001 with one PNC; a treatment record pairs it with another: held.
    hub.send_bytes(
        probation,
        "a",
        &registration(r#"{"type":"PNC","value":"2019/0012345G"},{"type":"CRN","value":"X100001"}"#),
    )
    .await;
    hub.send_bytes(probation, "b", &registration(r#"{"type":"PNC","value":"2021/0456789D"}"#)).await;
    // A positive drug test on arrest of that person: treatment receives every one.
    let drug_test = "RecordType,CustodyRef,ForceStation,EventDate,EventTime,PNCID,CRO,ASN,Surname,Forenames,DOB,Sex,Ethnicity,Address,Postcode,OffenceCode,OffenceWording,OffenceDate,BailStatus,BailConditions,NextCourtCode,NextCourtDate,DT1Opiates,DT1Cocaine,OfficerRef\n\
        DT1,05CL/26/004530,05CL,30/10/2026,03:40,2021/0456789D,,2605CL0100004530B,BRENNAN,Chloe,02/07/1998,F,W3,\"27 Rice Lane\",L9 1AA,,,,,,,,NEG,POS,6034\n";
    hub.send_bytes("police-05.police-custody", "dt", drug_test.as_bytes()).await;
    hub.send_bytes(treatment, "c", &treatment_referral("TRK0000001", "X100001", "2021/0456789D")).await;
    let open = list(&hub.hub, true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].message_id, "c");
    assert_eq!(
        hub.count("SELECT count(*) FROM treatment_episodes WHERE subject_id IS NULL").await,
        1,
        "held, linked to no one"
    );

    // Link as one person: the two people merge and the held record joins them.
    let subject = decide(&hub.hub, open[0].id, Decision::Link, "op").await.unwrap();
    assert_eq!(hub.count("SELECT count(*) FROM events WHERE subject_id IS NULL").await, 0);
    assert_eq!(hub.count("SELECT count(DISTINCT subject_id) FROM events").await, 1);
    assert_eq!(hub.count("SELECT count(*) FROM treatment_episodes WHERE subject_id IS NULL").await, 0);
    let linked: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT DISTINCT subject_id FROM subject_identifiers").fetch_all(hub.pool()).await.unwrap();
    assert_eq!(linked, [subject]);
    // What went out under the other person's id is retracted (wrong person) and sent again
    // under the linked one.
    let under_other: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind = 'delivery' AND recipient = 'treatment' AND subject_id <> $1",
    )
    .bind(subject)
    .fetch_one(hub.pool())
    .await
    .unwrap();
    assert_eq!(under_other, 1, "the drug test went out under the person who moved");
    let live_elsewhere: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox o WHERE o.kind = 'delivery' AND o.subject_id <> $1
           AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.refers_to = o.message_id AND r.notice_reason = 'wrong_person')",
    )
    .bind(subject)
    .fetch_one(hub.pool())
    .await
    .unwrap();
    assert_eq!(live_elsewhere, 0, "every delivery under the other id is retracted");
    assert_eq!(
        hub.count(
            "SELECT count(*) FROM outbox WHERE kind = 'delivery' AND recipient = 'treatment'
               AND subject_id = (SELECT subject_id FROM events WHERE message_id = 'c')"
        )
        .await,
        1,
        "and delivered again under the linked person"
    );
    assert!(decide(&hub.hub, open[0].id, Decision::Link, "op").await.is_err(), "decided once");
    hub.send_bytes(treatment, "d", &treatment_referral_on("TRK0000001", "X100001", "2021/0456789D", "20261104")).await;
    assert!(hub.count("SELECT count(*) FROM events WHERE message_id = 'd'").await > 0, "a later referral is stored");
    assert_eq!(hub.count("SELECT count(*) FROM identity_conflicts").await, 1, "what follows links without review");
    assert_eq!(hub.count("SELECT count(DISTINCT subject_id) FROM events").await, 1);

    // Keep apart: the record goes to the person of its strongest identifier (PNC), and so do
    // later records pairing the same identifiers.
    hub.send_bytes(
        probation,
        "e",
        &registration(r#"{"type":"PNC","value":"2020/1111111H"},{"type":"CRN","value":"X200002"}"#),
    )
    .await;
    hub.send_bytes(probation, "f", &registration(r#"{"type":"PNC","value":"2018/2222222G"}"#)).await;
    hub.send_bytes(treatment, "g", &treatment_referral("TRK0000002", "X200002", "2018/2222222G")).await;
    let open = list(&hub.hub, true).await.unwrap();
    assert_eq!(open.len(), 1);
    let pnc_subject = tracker::store::subjects::find(hub.pool(), "PNC", "2018/2222222G").await.unwrap().unwrap();
    assert_eq!(decide(&hub.hub, open[0].id, Decision::KeepApart, "op").await.unwrap(), pnc_subject);
    // A later referral (the same one sent again would be an unchanged record, not stored twice).
    hub.send_bytes(treatment, "h", &treatment_referral_on("TRK0000002", "X200002", "2018/2222222G", "20261103")).await;
    let h: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT subject_id FROM events WHERE message_id = 'h'").fetch_one(hub.pool()).await.unwrap();
    assert_eq!(h, Some(pnc_subject));
    assert_eq!(hub.count("SELECT count(*) FROM identity_conflicts WHERE status = 'open'").await, 0);
    assert_eq!(
        hub.count("SELECT count(DISTINCT subject_id) FROM events WHERE message_id IN ('e', 'f', 'g', 'h')").await,
        2,
        "kept apart: still two people"
    );
    assert_eq!(
        hub.count("SELECT count(*) FROM operator_actions WHERE actor = 'op' AND action LIKE 'identity %'").await,
        2
    );
    hub.finish().await;
}

/// Every listing answers a program with `--json` (one JSON document on stdout), and a replay
/// that still refuses says so in its exit status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_print_json_for_programs_and_a_replay_still_refused_exits_1() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let settings = hub.hub.settings.clone();
    let cli = move |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracker"))
            .args(args)
            .env("TRACKER_ENV", "test")
            .env("TRACKER__DATABASE__URL", &settings.database.url)
            .env("TRACKER__BROKER__URL", &settings.broker.url)
            .env("TRACKER__BROKER__PREFIX", &settings.broker.prefix)
            .output()
            .expect("tracker runs");
        let json = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), json)
    };
    let open = hub.count("SELECT count(*) FROM refusals WHERE resolved_at IS NULL").await;
    tokio::task::spawn_blocking(move || {
        let (code, list) = cli(&["deadletters", "list", "--json"]);
        assert_eq!(code, Some(0));
        assert_eq!(list.as_array().unwrap().len() as i64, open);
        let first = &list[0];
        let id = first["id"].as_i64().unwrap().to_string();
        let (_, shown) = cli(&["deadletters", "show", &id, "--json"]);
        use base64::Engine;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(shown["payload_base64"].as_str().unwrap()).unwrap();
        assert_eq!(bytes.len() as u64, shown["payload_bytes"].as_u64().unwrap());
        assert_eq!(shown["connector"], first["connector"]);
        // Nothing was fixed: replaying reads it again, refuses it again, and says so.
        let (code, replayed) = cli(&["deadletters", "replay", &id, "--json", "--by", "test"]);
        assert_eq!(code, Some(1), "{replayed}");
        assert!(replayed[0]["still_refused"].as_u64().unwrap() > 0);
        let (_, reports) = cli(&["report", "list", "--json"]);
        assert_eq!(reports.as_array().unwrap().len(), 42);
        let (code, report) =
            cli(&["report", "run", "sentencing-mix", "--from", "2026-10-01", "--to", "2026-11-30", "--json"]);
        assert_eq!(code, Some(0));
        assert_eq!(report["name"], "sentencing-mix");
        let (_, conflicts) = cli(&["identity", "conflicts", "--all", "--json"]);
        assert!(conflicts.is_array());
        let (_, consents) = cli(&["consent", "show", "PNC:2021/0456789D", "--json"]);
        assert!(consents.as_array().is_some_and(|c| !c.is_empty()), "{consents}");
        let (code, verified) = cli(&["audit", "verify", "--json"]);
        assert_eq!(code, Some(0));
        assert_eq!(verified["disclosure_log"]["state"], "intact");
        assert!(verified["disclosure_log"]["entries"].as_u64().unwrap() > 0);
    })
    .await
    .unwrap();
    hub.finish().await;
}

/// The `tracker` binary starts its allocator (mimalloc) set to return freed memory at once and
/// to commit its arenas as it uses them — set before mimalloc starts, or they would not hold —
/// and an operator's own `MIMALLOC_*` setting wins.
#[test]
fn the_binary_starts_its_allocator_set_to_keep_memory_small() {
    let options = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracker"))
            .arg("--help")
            .env("MIMALLOC_VERBOSE", "1")
            .envs(env.iter().copied())
            .output()
            .expect("tracker runs");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let ours = options(&[]);
    assert!(ours.contains("option 'purge_delay': 0 "), "{ours}");
    assert!(ours.contains("option 'arena_eager_commit': 0 "), "{ours}");
    let theirs = options(&[("MIMALLOC_PURGE_DELAY", "250")]);
    assert!(theirs.contains("option 'purge_delay': 250 "), "{theirs}");
    assert!(theirs.contains("option 'arena_eager_commit': 0 "), "{theirs}");
}
