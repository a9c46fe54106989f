//! Sharing and routing over the real broker and store: what each agency receives after the
//! sample month (decoded from the real outbound queues), the disclosure log, consent, redelivery.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{SAMPLES, TestHub};
use serde_json::Value as Json;
use tracker::consent::{Change, ConsentChange};

/// One message a recipient received, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub pnc: String,
    pub event_type: String,
    pub catch_up: bool,
    pub message_id: String,
    pub record: Json,
}

/// Everything in each recipient's outbound queue, decoded with the writer schema it names.
pub(crate) async fn received(hub: &TestHub) -> BTreeMap<String, Vec<Received>> {
    let mut out = BTreeMap::new();
    for agency in hub.hub.settings.agencies.keys() {
        let mut got = Vec::new();
        for m in hub.drain(&hub.names.outbound_queue(agency)).await {
            let props = &m.delivery.properties;
            assert_eq!(props.content_type().as_ref().map(|c| c.as_str()), Some("application/avro"));
            let record = hub
                .hub
                .schemas
                .decode_single_object(&m.delivery.data)
                .expect("single-object Avro with our fingerprint");
            let pnc = record["subject"]["identifiers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["scheme"] == "PNC")
                .map(|i| i["value"].as_str().unwrap().to_string());
            // A notice names the delivery it is about, and no identifiers.
            let pnc = if record["event_type"] == tracker::sharing::notice::EVENT_TYPE {
                assert_eq!(record["subject"]["identifiers"], serde_json::json!([]));
                String::new()
            } else {
                pnc.expect("every copy names the PNC")
            };
            got.push(Received {
                pnc,
                event_type: props.kind().as_ref().unwrap().to_string(),
                catch_up: record["disclosure"]["catch_up"].as_bool().unwrap(),
                message_id: props.message_id().as_ref().unwrap().to_string(),
                record,
            });
        }
        out.insert(agency.to_string(), got);
    }
    out
}

fn expected() -> BTreeMap<String, Vec<(String, String, bool)>> {
    let spec: Json =
        serde_json::from_str(&std::fs::read_to_string(Path::new(SAMPLES).join("expected.json")).unwrap()).unwrap();
    spec["deliveries"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(r, list)| {
            let items = list
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["pnc"].as_str().unwrap().to_string(),
                        d["type"].as_str().unwrap().to_string(),
                        d["catch_up"].as_bool().unwrap(),
                    )
                })
                .collect();
            (r.clone(), items)
        })
        .collect()
}

fn strings(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::String(s) => out.push(s.clone()),
        Json::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Json::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_agency_receives_exactly_what_the_agreements_allow() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let got = received(&hub).await;
    let want = expected();
    for (recipient, want) in &want {
        let have: Vec<(String, String, bool)> =
            got[recipient].iter().map(|r| (r.pnc.clone(), r.event_type.clone(), r.catch_up)).collect();
        // Per person, the order is the order decided (catch-up first).
        for pnc in want.iter().map(|w| &w.0) {
            let w: Vec<_> = want.iter().filter(|x| &x.0 == pnc).collect();
            let h: Vec<_> = have.iter().filter(|x| &x.0 == pnc).collect();
            assert_eq!(h, w, "{recipient}: deliveries about {pnc}");
        }
        assert_eq!(have.len(), want.len(), "{recipient}: {have:?}");
        let mut ids: Vec<&String> = got[recipient].iter().map(|r| &r.message_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), got[recipient].len(), "{recipient}: message ids are unique");
    }

    // Field by field: officer references never leave the police; treatment sees no address or
    // offence on drug tests and only the next hearing on hearings; police see no health ids.
    for (recipient, list) in &got {
        for r in list {
            let mut all = Vec::new();
            strings(&r.record, &mut all);
            for officer in ["5521", "6034", "4410", "8812"] {
                assert!(!all.iter().any(|s| s == officer), "{recipient} got officer ref {officer}");
            }
            assert_eq!(r.record["disclosure"]["recipient"], recipient.as_str());
            let schemes: Vec<&str> = r.record["subject"]["identifiers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["scheme"].as_str().unwrap())
                .collect();
            if recipient.starts_with("police") {
                assert!(!schemes.contains(&"TREATMENT") && !schemes.contains(&"NHS"), "{recipient}: {schemes:?}");
            }
            if recipient == "treatment" {
                assert!(!schemes.contains(&"CRN"), "treatment sees no CRN");
                assert!(!all.iter().any(|s| s.contains("Rice Lane") || s.contains("Possess a controlled drug")));
            }
        }
    }
    let treatment = &got["treatment"];
    let dt = treatment.iter().find(|r| r.event_type == "DrugTestOnArrest").unwrap();
    assert_eq!(dt.record["payload"]["opiates"], "POS");
    assert_eq!(dt.record["payload"]["address"], Json::Null);
    assert!(dt.record["redacted"].as_array().unwrap().contains(&Json::from("payload.offence_wording")));
    assert_eq!(dt.record["disclosure"]["agreement"], "A3");
    let hearing = treatment.iter().find(|r| r.event_type == "HearingResulted").unwrap();
    let payload = hearing.record["payload"].as_object().unwrap();
    let shared: Vec<&String> = payload.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
    assert_eq!(shared, ["next_court", "next_hearing_date"]);
    assert_eq!(hearing.record["disclosure"]["catch_up"], true);
    let supervision = treatment.iter().find(|r| r.event_type == "SupervisionStarted").unwrap();
    assert_eq!(supervision.record["payload"]["officer"]["code"], "N05B077");
    assert_eq!(supervision.record["payload"]["team"], Json::Null);
    // Courts get health updates with the treatment client id, under consent.
    let health = got["court-b05lv00"].iter().find(|r| r.event_type == "TreatmentEpisode").unwrap();
    assert_eq!(health.record["disclosure"]["agreement"], "A9");
    assert!(health.record["subject"]["identifiers"].as_array().unwrap().iter().any(|i| i["value"] == "TRK0004417"));

    // The disclosure log: one entry per decision, Chloë's refusal logged, the chain intact.
    let decided = hub.count("SELECT count(*) FROM disclosure_log WHERE stage = 'decided'").await;
    let delivered = hub.count("SELECT count(*) FROM disclosure_log WHERE decision <> 'withhold'").await;
    assert_eq!(delivered, 68);
    assert_eq!(hub.count("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL").await, 68);
    assert_eq!(decided, hub.count("SELECT count(DISTINCT (event_id, recipient)) FROM disclosure_log").await);
    let no_consent: Vec<(String, String)> = sqlx::query_as(
        "SELECT l.recipient, l.event_type FROM disclosure_log l WHERE l.reason = 'no_consent' ORDER BY l.id",
    )
    .fetch_all(hub.pool())
    .await
    .unwrap();
    assert_eq!(
        no_consent,
        [
            ("court-b05lv00", "TreatmentEpisode"),
            ("court-b05lv00", "DrugTestResult"),
            ("court-b05lv00", "DrugTestResult")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(hub.count("SELECT count(*) FROM disclosure_log WHERE recipient LIKE 'police%' AND data_class = 'health' AND decision <> 'withhold'").await, 0);
    assert!(matches!(
        tracker::sharing::log::verify(hub.pool()).await.unwrap(),
        tracker::sharing::log::Verified::Intact { .. }
    ));
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_everything_delivers_and_logs_nothing_new() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let first = received(&hub).await;
    let log_before = hub.count("SELECT count(*) FROM disclosure_log").await;
    hub.send_sample_plan().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let second = received(&hub).await;
    assert!(second.values().all(Vec::is_empty), "nothing delivered twice: {second:?}");
    assert_eq!(hub.count("SELECT count(*) FROM disclosure_log").await, log_before);
    assert_eq!(first.values().map(Vec::len).sum::<usize>(), 68);
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_disclosure_log_is_detected_and_located() {
    use tracker::sharing::log::{Verified, verify};
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM disclosure_log ORDER BY id").fetch_all(hub.pool()).await.unwrap();
    let (a, b, c) = (ids[10], ids[20], ids[30]);
    let mut tx = hub.pool().begin().await.unwrap();
    sqlx::query("UPDATE disclosure_log SET decision = 'deliver', reason = NULL WHERE id = $1")
        .bind(a)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(verify_in(&mut tx).await, Verified::Edited { id: a });
    tx.rollback().await.unwrap();

    let mut tx = hub.pool().begin().await.unwrap();
    sqlx::query("DELETE FROM disclosure_log WHERE id = $1").bind(b).execute(&mut *tx).await.unwrap();
    assert_eq!(verify_in(&mut tx).await, Verified::Deleted { before_id: ids[21] });
    tx.rollback().await.unwrap();

    // Swap two entries (ids stay, content moves).
    let mut tx = hub.pool().begin().await.unwrap();
    sqlx::query("UPDATE disclosure_log SET id = -id WHERE id IN ($1, $2)")
        .bind(c)
        .bind(ids[31])
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE disclosure_log SET id = CASE WHEN id = -$1::bigint THEN $2 ELSE $1 END WHERE id IN (-$1::bigint, -$2::bigint)")
        .bind(c)
        .bind(ids[31])
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(verify_in(&mut tx).await, Verified::Reordered { id: c });
    tx.rollback().await.unwrap();

    assert!(matches!(verify(hub.pool()).await.unwrap(), Verified::Intact { .. }));
    hub.finish().await;

    async fn verify_in(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Verified {
        tracker::sharing::log::verify_with(&mut **tx).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_consent_stops_queued_health_updates_and_expiry_is_honoured() {
    let hub = TestHub::start_without_publisher().await;
    let samples = Path::new(SAMPLES);
    for (agency, connector, file) in [
        ("police-05", "police-custody", "police-custody-05CL-20261030-1000.csv"),
        ("court-b05lv00", "court-results", "court-results-B05LV00-20261103.xml"),
        ("probation", "probation-events", "probation-0002-psr.requested.json"),
        ("treatment", "treatment-records", "treatment-MERSDRG1-20261120-000412.dat"),
    ] {
        hub.send(agency, connector, &samples.join(file)).await;
    }
    // Daniel's health updates are decided for the court and probation (consent ALL) and queued.
    let queued = hub.count("SELECT count(*) FROM outbox WHERE consent_scope IS NOT NULL").await;
    assert_eq!(queued, 8, "4 health updates for each of court-b05lv00 and probation");
    let daniel = tracker::store::subjects::find(hub.pool(), "PNC", "2019/0012345G").await.unwrap().unwrap();
    let now = hub.hub.clock.now();
    let withdraw = ConsentChange {
        subject: daniel,
        change: Change::Withdraw,
        scope: tracker::sharing::decide::RecordedScope::One(tracker::sharing::decide::ConsentScope::Probation),
        effective: tracker::sharing::today(now),
        expiry: None,
        by: "test-operator".into(),
    };
    tracker::consent::record(hub.pool(), &withdraw, now).await.unwrap();
    assert_eq!(hub.unsent_list_mismatches().await, 0, "everything queued is listed unsent");
    hub.start_publisher().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    assert_eq!(hub.unsent_list_mismatches().await, 0, "rows published and withheld at publish are off the list");
    let got = received(&hub).await;
    assert_eq!(
        got["probation"].iter().filter(|r| r.record["data_class"] == "health").count(),
        0,
        "withdrawn before publishing"
    );
    assert_eq!(
        got["court-b05lv00"].iter().filter(|r| r.record["data_class"] == "health").count(),
        4,
        "courts still covered"
    );
    assert_eq!(
        hub.count("SELECT count(*) FROM disclosure_log WHERE stage = 'published' AND recipient = 'probation' AND reason = 'no_consent'").await,
        4
    );

    // A grant whose expiry has passed covers nothing: a new test result is withheld from both.
    let expired = ConsentChange {
        subject: daniel,
        change: Change::Grant,
        scope: tracker::sharing::decide::RecordedScope::All,
        effective: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        expiry: chrono::NaiveDate::from_ymd_opt(2026, 11, 27),
        by: "test-operator".into(),
    };
    tracker::consent::record(hub.pool(), &expired, now).await.unwrap();
    hub.send("treatment", "treatment-records", &samples.join("treatment-MERSDRG1-20261127-000419.dat")).await;
    let reasons: Vec<(String, String)> = sqlx::query_as(
        "SELECT l.recipient, l.reason FROM disclosure_log l JOIN events e USING (event_id)
         WHERE e.message_id = 'treatment-MERSDRG1-20261127-000419.dat' AND e.subject_id = $1 ORDER BY l.recipient",
    )
    .bind(daniel)
    .fetch_all(hub.pool())
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [("court-b05lv00", "no_consent"), ("police-05", "denied"), ("probation", "no_consent")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_broker_user_is_refused_on_every_other_agency_queue_and_key() {
    use lapin::BasicProperties;
    use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
    let user_prefix = format!("u{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let hub = TestHub::start_with(|s| s.broker.user_prefix = user_prefix.clone()).await;
    let creds_file = std::env::temp_dir().join(format!("{user_prefix}creds.json"));
    let settings = hub.hub.settings.clone();
    let file = creds_file.clone();
    let creds = tokio::task::spawn_blocking(move || tracker::broker::users::provision_users(&settings, &file))
        .await
        .unwrap()
        .unwrap();
    let (user, password) = creds["police-05"].clone();
    assert_eq!(user, format!("{user_prefix}police-05"));
    let conn = tracker::broker::connect(&format!("amqp://{user}:{password}@127.0.0.1:5672/%2f")).await.unwrap();
    let props = || {
        BasicProperties::default()
            .with_user_id(user.as_str().into())
            .with_message_id("mine.csv".into())
            .with_delivery_mode(2)
    };
    let publish = |key: String| {
        let conn = &conn;
        let inbound = hub.names.inbound_exchange();
        async move {
            let ch = conn.create_channel().await.unwrap();
            ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
            let body = std::fs::read("samples/police-custody-05AN-20261110-1200.csv").unwrap();
            match ch
                .basic_publish(
                    inbound.as_str().into(),
                    key.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    props(),
                )
                .await
            {
                Ok(confirm) => confirm.await.map(|c| c.is_ack()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    // Its own key: accepted by the broker and applied by the hub.
    let before = hub.acknowledged();
    assert_eq!(publish("police-05.police-custody".into()).await, Ok(true));
    hub.wait_acknowledged(before + 1).await;
    assert_eq!(hub.count("SELECT count(*) FROM inbox WHERE message_id = 'mine.csv' AND outcome = 'applied'").await, 1);
    let get = |queue: String| {
        let conn = &conn;
        async move {
            let ch = conn.create_channel().await.unwrap();
            ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    assert_eq!(get(hub.names.outbound_queue("police-05")).await, Ok(()), "its own outbound queue");
    for other in hub.hub.settings.agencies.keys().filter(|a| *a != "police-05") {
        let refused = publish(format!("{other}.police-custody")).await.unwrap_err();
        assert!(refused.contains("ACCESS_REFUSED"), "publish as {other}: {refused}");
        let refused = get(hub.names.outbound_queue(other)).await.unwrap_err();
        assert!(refused.contains("ACCESS_REFUSED"), "read {other}'s queue: {refused}");
    }
    let refused = get(hub.names.inbound_queue("police-05")).await.unwrap_err();
    assert!(refused.contains("ACCESS_REFUSED"), "inbound queues are the hub's: {refused}");
    let _ = conn.close(200, "done".into()).await;
    let settings = hub.hub.settings.clone();
    tokio::task::spawn_blocking(move || tracker::broker::users::delete_users(&settings)).await.unwrap().unwrap();
    let _ = std::fs::remove_file(&creds_file);
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_fetch_the_writer_schema_by_its_fingerprint() {
    let hub = TestHub::start().await;
    let base = hub.start_http().await.expect("HTTP served");
    let fingerprint = hub.hub.schemas.fingerprint_hex();
    let (ok, body, missing, anonymous) = tokio::task::spawn_blocking(move || {
        let (ok, body) = crate::support::http("GET", &format!("{base}/schemas/{fingerprint}"), Some("sub"), None);
        let (missing, _) = crate::support::http("GET", &format!("{base}/schemas/0000000000000000"), Some("sub"), None);
        let (anonymous, _) = crate::support::http("GET", &format!("{base}/schemas/{fingerprint}"), None, None);
        (ok, body, missing, anonymous)
    })
    .await
    .unwrap();
    assert_eq!((ok, missing, anonymous), (200, 404, 401));
    let schema: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(schema["name"], "Update");
    let pcf = tracker::schemas::parsing_canonical_form(&schema, "tracker.v1");
    assert_eq!(
        hex::encode(tracker::schemas::rabin_fingerprint(pcf.as_bytes()).to_le_bytes()),
        hub.hub.schemas.fingerprint_hex()
    );
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_subscriber_gets_the_same_record_as_json() {
    let hub = TestHub::start_with(|s| {
        if let Some(a) = s.agencies.get_mut("court-b13bd00") {
            a.delivery = tracker::settings::DeliveryFormat::Json;
        }
    })
    .await;
    hub.send("police-13", "police-custody", &Path::new(SAMPLES).join("police-custody-13BD-20261101-2100.csv")).await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let got = hub.drain(&hub.names.outbound_queue("court-b13bd00")).await;
    assert_eq!(got.len(), 3);
    let m = &got[0];
    assert_eq!(m.delivery.properties.content_type().as_ref().map(|c| c.as_str()), Some("application/json"));
    let record: Json = serde_json::from_slice(&m.delivery.data).unwrap();
    assert_eq!(record["event_type"], "Arrested");
    assert_eq!(record["payload"]["officer_ref"], Json::Null);
    assert_eq!(record["redacted"], serde_json::json!(["payload.officer_ref"]));
    assert_eq!(record["disclosure"]["agreement"], "A1");
    assert_eq!(record["subject"]["identifiers"][0]["value"], "2024/0011223N");
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_what_if_answer_without_changing_anything() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let log_before = hub.count("SELECT count(*) FROM disclosure_log").await;
    let dt: uuid::Uuid = sqlx::query_scalar(
        "SELECT e.event_id FROM events e JOIN subject_identifiers i USING (subject_id)
         WHERE e.event_type = 'DrugTestOnArrest' AND i.scheme = 'PNC' AND i.value = '2019/0012345G'",
    )
    .fetch_one(hub.pool())
    .await
    .unwrap();
    let now = hub.hub.clock.now();
    let explained =
        tracker::sharing::inspect::explain(hub.pool(), &hub.hub.sharing, dt, "treatment", now).await.unwrap();
    let text = explained.text();
    assert!(text.contains("Logged (decided"), "{text}");
    assert!(text.contains("A3"), "{text}");
    assert!(text.contains("deliver under A3 with address"), "{text}");
    // The same, for a program.
    let json = serde_json::to_value(&explained).unwrap();
    assert_eq!(json["logged"][0]["stage"], "decided");
    assert!(json["rules"].as_array().unwrap().iter().any(|r| r["id"] == "A3"), "{json}");
    assert!(json["decision_now"].as_str().unwrap().starts_with("deliver under A3"), "{json}");
    let text =
        tracker::sharing::inspect::explain(hub.pool(), &hub.hub.sharing, dt, "police-13", now).await.unwrap().text();
    assert!(text.contains("Logged: nothing"), "{text}");

    // Agreements without A3: both drug tests on arrest would no longer reach treatment.
    let dir = std::env::temp_dir().join(format!("agreements-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["courts.toml", "probation.toml", "treatment.toml"] {
        std::fs::copy(Path::new("config/agreements").join(f), dir.join(f)).unwrap();
    }
    let police = std::fs::read_to_string("config/agreements/police.toml").unwrap();
    let without_a3 = police.split("[[agreement]]\nid = \"A3\"").next().unwrap().to_string();
    std::fs::write(dir.join("police.toml"), without_a3).unwrap();
    let what_if = tracker::sharing::inspect::what_if(hub.pool(), &hub.hub.sharing, &dir, now).await.unwrap();
    assert_eq!(
        what_if.changes.iter().filter(|c| c.event_type == "DrugTestOnArrest" && c.recipient == "treatment").count(),
        2
    );
    let text = what_if.text();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("DrugTestOnArrest") && l.contains("-> treatment")).count(),
        2,
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(&format!(
            "2 of {} logged decisions would change under {}",
            log_before,
            dir.display()
        )),
        "{text}"
    );
    assert_eq!(hub.count("SELECT count(*) FROM disclosure_log").await, log_before, "read-only");
    let _ = std::fs::remove_dir_all(&dir);
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_restart_resends_only_unconfirmed_rows_with_the_same_message_ids() {
    let hub = TestHub::start_without_publisher().await;
    hub.send("police-13", "police-custody", &Path::new(SAMPLES).join("police-custody-13BD-20261101-2100.csv")).await;
    hub.start_publisher().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let first: Vec<String> = received(&hub).await["court-b13bd00"].iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(first.len(), 3);
    let log_before = hub.count("SELECT count(*) FROM disclosure_log").await;
    // As if the hub died after the broker confirmed the last delivery but before marking it.
    sqlx::query("UPDATE outbox SET published_at = NULL WHERE id = (SELECT max(id) FROM outbox)")
        .execute(hub.pool())
        .await
        .unwrap();
    hub.hub.publisher_wakeup.notify_one();
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let again: Vec<String> = received(&hub).await["court-b13bd00"].iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(again, [first[2].clone()], "only the unmarked row, under the same message id");
    assert_eq!(hub.count("SELECT count(*) FROM disclosure_log").await, log_before, "no second log entry");
    hub.finish().await;
}

/// Sends the sample month in plan order but for one file, sent last, and waits for the deliveries.
async fn send_plan_with_last(hub: &TestHub, last: &str) {
    let plan = tracker::tools::demo::send_plan(Path::new(SAMPLES)).unwrap();
    let (late, rest): (Vec<_>, Vec<_>) = plan.into_iter().partition(|p| p.file == last);
    assert_eq!(late.len(), 1, "{last} is in the plan");
    for p in rest.iter().chain(&late) {
        hub.send(&p.agency, &p.connector, &Path::new(SAMPLES).join(&p.file)).await;
    }
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
}

/// Facts are judged at the update's own time, not at arrival: Daniel's arrest of 28/10 reaches
/// the hub only after the court's order of 17/11 (as when the police queue drains last after an
/// outage). He had no active order on 28/10, so probation is not told of the arrest (agreement A2
/// needs one) — as when the files arrive in the order they were made. Before event time, the
/// order already stored made the arrest deliverable to probation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrest_arriving_after_a_later_order_is_judged_at_its_own_time() {
    const DANIEL: &str = "2019/0012345G";
    const ARREST_FILE: &str = "police-custody-05CL-20261030-1000.csv";
    let hub = TestHub::start().await;
    send_plan_with_last(&hub, ARREST_FILE).await;
    let got = received(&hub).await;
    let to_probation: Vec<&str> =
        got["probation"].iter().filter(|r| r.pnc == DANIEL).map(|r| r.event_type.as_str()).collect();
    assert!(to_probation.contains(&"OrderMade"), "{to_probation:?}");
    assert!(!to_probation.contains(&"Arrested"), "no active order on 28/10: {to_probation:?}");
    let (decision, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT l.decision, l.reason FROM disclosure_log l JOIN events e ON e.event_id = l.event_id
         WHERE e.message_id = $1 AND e.event_type = 'Arrested' AND l.recipient = 'probation' AND l.stage = 'decided'",
    )
    .bind(ARREST_FILE)
    .fetch_one(hub.pool())
    .await
    .unwrap();
    assert_eq!((decision.as_str(), reason.as_deref()), ("withhold", Some("condition_not_met")));
    // The court got the arrest as history: it happened before the charge that named the court.
    let arrest_to_court = got["court-b05lv00"].iter().find(|r| r.pnc == DANIEL && r.event_type == "Arrested").unwrap();
    assert!(arrest_to_court.catch_up);
    hub.finish().await;
}

/// A late fact decides again: Marek's supervision (his order, from June) reaches the hub last.
/// His arrest and release of 09/11 and his arrest on the warrant of 22/11 were first withheld
/// from probation (no active order known), and the late record delivers them — the same
/// deliveries as when the records arrive in the order they were made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_arriving_late_delivers_the_updates_it_allows() {
    const MAREK: &str = "2010/0098765E";
    const ORDER_FILE: &str = "probation-0001-supervision.started.json";
    let hub = TestHub::start().await;
    send_plan_with_last(&hub, ORDER_FILE).await;
    let got = received(&hub).await;
    let mut have: Vec<&str> =
        got["probation"].iter().filter(|r| r.pnc == MAREK).map(|r| r.event_type.as_str()).collect();
    have.sort_unstable();
    let mut want: Vec<String> = expected()["probation"].iter().filter(|w| w.0 == MAREK).map(|w| w.1.clone()).collect();
    want.sort_unstable();
    assert_eq!(have, want);
    let redecided: i64 = hub
        .count("SELECT count(*) FROM disclosure_log WHERE recipient = 'probation' AND stage = 'redecided' AND decision <> 'withhold'")
        .await;
    assert_eq!(redecided, 4, "the arrest, the release, the warrant executed and the bail decision");
    // The chain still verifies, redecisions included.
    assert!(matches!(
        tracker::sharing::log::verify(hub.pool()).await.unwrap(),
        tracker::sharing::log::Verified::Intact { .. }
    ));
    hub.finish().await;
}

/// A late fact retracts: after the sample month, probation reports that Marek's order ended on
/// 1 November. His arrest and release of 09/11 and his arrest on the warrant of 22/11 (with its
/// bail decision) had gone to probation under agreement A2 (active order); each now gets a
/// retraction notice naming the delivery by its message id — what the hub would have decided had
/// the termination arrived first. Sending the termination again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_ended_earlier_than_known_retracts_what_it_no_longer_allows() {
    const MAREK: &str = "2010/0098765E";
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let before = received(&hub).await;
    let a2: BTreeMap<String, String> = before["probation"]
        .iter()
        .filter(|r| r.pnc == MAREK && r.record["disclosure"]["agreement"] == "A2")
        .map(|r| (r.message_id.clone(), r.event_type.clone()))
        .collect();
    assert_eq!(a2.len(), 4, "{a2:?}");

    let plan = tracker::tools::demo::send_plan(Path::new(SAMPLES)).unwrap();
    let probation = plan.iter().find(|p| p.file.starts_with("probation-")).unwrap();
    let key = format!("{}.{}", probation.agency, probation.connector);
    let termination = serde_json::json!({
        "eventType": "probation-case.order.terminated", "version": 1, "occurredAt": "2026-11-01T12:00:00+00:00",
        "personReference": {"identifiers": [{"type": "CRN", "value": "X512001"}, {"type": "PNC", "value": MAREK}]},
        "additionalInformation": {"orderId": "2500381", "terminationDate": "2026-11-01", "reason": "REVOKED"}
    });
    let body = serde_json::to_vec(&termination).unwrap();
    hub.send_bytes(&key, "probation-9001-order.terminated.json", &body).await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(30)).await.unwrap();
    let after = received(&hub).await;
    let notices: Vec<&Received> =
        after["probation"].iter().filter(|r| r.event_type == tracker::sharing::notice::EVENT_TYPE).collect();
    let mut retracted: Vec<String> =
        notices.iter().map(|n| n.record["payload"]["refers_to_message_id"].as_str().unwrap().to_string()).collect();
    retracted.sort();
    assert_eq!(retracted, a2.keys().cloned().collect::<Vec<_>>(), "every A2 delivery about Marek, and nothing else");
    for n in &notices {
        let payload = &n.record["payload"];
        assert_eq!(payload["kind"], "retraction");
        assert_eq!(payload["reason"], "condition_not_met");
        assert_eq!(
            payload["refers_to_event_type"].as_str().unwrap(),
            a2[payload["refers_to_message_id"].as_str().unwrap()]
        );
        assert_eq!(n.record["disclosure"]["agreement"], "A2");
        assert!(!a2.contains_key(&n.message_id), "a notice has its own message id");
    }
    // No one else is told anything but the termination itself (to Marek's courts, under A6).
    for (recipient, got) in after.iter().filter(|(r, _)| r.as_str() != "probation") {
        assert!(got.iter().all(|r| r.event_type == "OrderTerminated"), "{recipient}: {got:?}");
    }
    assert_eq!(after["probation"].len(), notices.len());
    let logged =
        hub.count("SELECT count(*) FROM disclosure_log WHERE stage = 'retracted' AND recipient = 'probation'").await;
    assert_eq!(logged, 4);

    // Redelivery changes nothing; the chain verifies with the retractions in it.
    hub.send_bytes(&key, "probation-9001-order.terminated.json", &body).await;
    assert_eq!(hub.count("SELECT count(*) FROM outbox WHERE kind = 'retraction'").await, 4);
    assert!(matches!(
        tracker::sharing::log::verify(hub.pool()).await.unwrap(),
        tracker::sharing::log::Verified::Intact { .. }
    ));
    hub.finish().await;
}

/// Involvement periods read back thinned (`store::involvements::naming_of_people`) are the
/// periods every naming event makes — with the records of `these` and without them — for
/// people with hundreds of records over years at random times, and periods of 1, 3 and 12
/// months (including gaps just under and over a period, and times in the same second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thinned_naming_events_make_the_same_periods_as_all_of_them() {
    use chrono::{DateTime, Duration, Utc};
    use tracker::sharing::periods::periods;
    let hub = TestHub::start_idle(|_| {}).await;
    let mut rng = fastrand::Rng::with_seed(12);
    let start: DateTime<Utc> = "2023-01-31T10:00:00Z".parse().unwrap();
    let agencies = ["police-05", "probation", "treatment"];
    let mut rows: Vec<(uuid::Uuid, uuid::Uuid, &str, DateTime<Utc>)> = Vec::new();
    let people: Vec<uuid::Uuid> = (0..12).map(|_| uuid::Uuid::new_v4()).collect();
    for (n, person) in people.iter().enumerate() {
        for agency in agencies {
            let mut at = start + Duration::days(rng.i64(0..60));
            for _ in 0..rng.usize(1..300) {
                rows.push((uuid::Uuid::new_v4(), *person, agency, at));
                // Mostly close together, sometimes a month or a year apart (by person, so
                // some people have only short gaps and some many long ones).
                at += match rng.u32(0..100) {
                    0..=2 => Duration::days(rng.i64(25..400)),
                    3..=5 if n % 2 == 0 => Duration::days(rng.i64(27..32)),
                    6..=8 => Duration::zero(),
                    _ => Duration::seconds(rng.i64(1..86_400 * 9)),
                };
            }
        }
    }
    for chunk in rows.chunks(1000) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|r| r.0).collect();
        let subjects: Vec<uuid::Uuid> = chunk.iter().map(|r| r.1).collect();
        let agencies: Vec<&str> = chunk.iter().map(|r| r.2).collect();
        let times: Vec<DateTime<Utc>> = chunk.iter().map(|r| r.3).collect();
        sqlx::query(
            "INSERT INTO involvements (event_id, subject_id, agency, occurred_at)
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[])",
        )
        .bind(ids)
        .bind(subjects)
        .bind(agencies)
        .bind(times)
        .execute(hub.pool())
        .await
        .unwrap();
    }
    let mut thinned_to = 0;
    for months in [1, 3, 12] {
        // A batch's records: a random tenth of them.
        let these: Vec<uuid::Uuid> = rows.iter().filter(|_| rng.u32(0..10) == 0).map(|r| r.0).collect();
        let mut tx = hub.pool().begin().await.unwrap();
        let read = tracker::store::involvements::naming_of_people(&mut tx, &people, &these, months).await.unwrap();
        tx.rollback().await.unwrap();
        if months == 12 {
            thinned_to = read.len();
        }
        for person in &people {
            for agency in agencies {
                let all: Vec<_> = rows.iter().filter(|r| r.1 == *person && r.2 == agency).collect();
                let mine = |with_these: bool| -> Vec<DateTime<Utc>> {
                    read.iter()
                        .filter(|r| r.1 == *person && r.2.as_str() == agency)
                        .filter(|r| with_these || r.0.is_none_or(|e| !these.contains(&e)))
                        .map(|r| r.3)
                        .collect()
                };
                let times = |with_these: bool| -> Vec<DateTime<Utc>> {
                    all.iter().filter(|r| with_these || !these.contains(&r.0)).map(|r| r.3).collect()
                };
                for with_these in [true, false] {
                    assert_eq!(
                        periods(&mine(with_these), months),
                        periods(&times(with_these), months),
                        "{agency}, {months} months, with this batch's records: {with_these}"
                    );
                }
            }
        }
    }
    assert!(thinned_to * 3 < rows.len(), "a few rows per window, not one per record: {thinned_to} of {}", rows.len());
    hub.finish().await;
}
