//! A record's life after it is sent (DPA 2018 Part 3): a disclosure recalled as unlawful or
//! mistaken reaches its recipient as one erasure notice naming the delivery, and nobody else
//! hears anything; the recall is logged and stops the court seeing the update.
use crate::sharing::received;
use crate::support::{TestHub, http, post_form};
use tracker::ops::recall::{RecallError, RecallReason, Recalled};

const CHLOE: &str = "2021/0456789D";

/// A hub that has processed and delivered the sample month, its recipients' queues drained.
async fn after_the_sample_month() -> TestHub {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    all_published(&hub).await;
    received(&hub).await;
    hub
}

async fn all_published(hub: &TestHub) {
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
}

/// (recipient, message id) of every confirmed delivery of these records.
async fn holders(hub: &TestHub, events: &[uuid::Uuid]) -> std::collections::BTreeSet<(String, String)> {
    sqlx::query_as::<_, (String, uuid::Uuid)>(
        "SELECT recipient, message_id FROM outbox WHERE event_id = ANY($1) AND kind = 'delivery' AND published_at IS NOT NULL",
    )
    .bind(events)
    .fetch_all(hub.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(r, m)| (r, m.to_string()))
    .collect()
}

async fn assert_chain_intact(hub: &TestHub) {
    assert!(matches!(
        tracker::sharing::log::verify(hub.pool()).await.unwrap(),
        tracker::sharing::log::Verified::Intact { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recalled_disclosure_sends_its_recipient_one_erasure_notice_and_nothing_else() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    all_published(&hub).await;
    let before = received(&hub).await;
    // A delivery about Chloë to her court.
    let delivery = before["court-b05lv00"]
        .iter()
        .find(|r| r.pnc == CHLOE && r.event_type == "Charged")
        .expect("her charge went to B05LV00")
        .clone();
    let message_id: uuid::Uuid = delivery.message_id.parse().unwrap();
    let event_id: uuid::Uuid = delivery.record["event_id"].as_str().unwrap().parse().unwrap();
    let subject: uuid::Uuid = delivery.record["subject"]["subject_id"].as_str().unwrap().parse().unwrap();
    let seen = |hub: &TestHub| {
        let pool = hub.pool().clone();
        async move {
            tracker::store::court::seen(&pool, "court-b05lv00", subject)
                .await
                .unwrap()
                .iter()
                .any(|r| r.event_id == event_id)
        }
    };
    assert!(seen(&hub).await, "the court sees her charge before the recall");

    // An auditor recalls it from the console: the page is theirs, not a court's.
    let base = hub.start_http().await.expect("HTTP served");
    let url = format!("{base}/console/recall");
    let (page, as_court, posted, unknown) = tokio::task::spawn_blocking(move || {
        let page = http("GET", &url, Some("aud"), None);
        let as_court = http("GET", &url, Some("lv"), None);
        let fields = [("message_id", delivery.message_id.as_str()), ("reason", "unlawful"), ("note", "no basis")];
        let posted = post_form(&url, Some("aud"), Some(&base), &fields);
        let nobody = uuid::Uuid::new_v4().to_string();
        let unknown = post_form(&url, Some("aud"), Some(&base), &[("message_id", &nobody), ("reason", "mistaken")]);
        (page, as_court, posted, unknown)
    })
    .await
    .unwrap();
    assert_eq!(page.0, 200);
    assert!(page.1.contains("name=\"message_id\""), "{}", page.1);
    assert_eq!(as_court.0, 403);
    assert_eq!(posted.0, 200, "{}", posted.1);
    assert!(posted.1.contains("erasure notice"), "{}", posted.1);
    assert_eq!(unknown.0, 404, "{}", unknown.1);

    all_published(&hub).await;
    let after = received(&hub).await;
    for (recipient, got) in &after {
        if recipient != "court-b05lv00" {
            assert!(got.is_empty(), "{recipient} hears nothing: {got:?}");
        }
    }
    let notices = &after["court-b05lv00"];
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    let notice = &notices[0];
    assert_eq!(notice.event_type, tracker::sharing::notice::EVENT_TYPE);
    assert_eq!(notice.record["payload"]["kind"], "erasure");
    assert_eq!(notice.record["payload"]["reason"], "unlawful");
    assert_eq!(notice.record["payload"]["refers_to_message_id"], message_id.to_string());
    assert_eq!(notice.record["payload"]["refers_to_event_type"], "Charged");
    assert!(notice.record["payload"]["explanation"].as_str().unwrap().contains("Erase it"));
    assert_eq!(notice.message_id, tracker::sharing::erasure_message_id(message_id).to_string());

    // Recalled twice: nothing more. A message id that is no delivery: refused.
    let now = hub.hub.clock.now();
    let again = tracker::ops::recall::recall(hub.pool(), message_id, RecallReason::Mistaken, "dpo", "", now).await;
    assert_eq!(again.unwrap(), Recalled::AlreadyRecalled);
    let notice_id = tracker::sharing::erasure_message_id(message_id);
    let of_notice = tracker::ops::recall::recall(hub.pool(), notice_id, RecallReason::Mistaken, "dpo", "", now).await;
    assert!(matches!(of_notice, Err(RecallError::NotFound(_))));
    all_published(&hub).await;
    assert!(received(&hub).await.values().all(Vec::is_empty), "nothing sent twice");

    // Logged once, with who did it; the court no longer sees the update; the chain verifies.
    let logged: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT recipient, decision, reason FROM disclosure_log WHERE stage = 'recalled' AND event_id = $1",
    )
    .bind(event_id)
    .fetch_all(hub.pool())
    .await
    .unwrap();
    assert_eq!(logged, [("court-b05lv00".to_string(), "withhold".to_string(), Some("unlawful".to_string()))]);
    let action: (String, String) = sqlx::query_as("SELECT actor, target FROM operator_actions WHERE action = 'recall'")
        .fetch_one(hub.pool())
        .await
        .unwrap();
    assert_eq!(action.0, "aud");
    assert!(action.1.contains(&message_id.to_string()) && action.1.contains("no basis"), "{}", action.1);
    assert!(!seen(&hub).await, "the court no longer sees a recalled update");
    assert_chain_intact(&hub).await;
    hub.finish().await;
}

/// Every delivery says its subject's category and whether it is fact or assessment (DPA 2018
/// s.38(2)-(3)), from the connectors' mappings; a subscriber decodes it with fastavro from the
/// schema the hub publishes, and one still on the schema before these fields decodes it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_carry_category_and_nature_and_an_old_subscriber_still_decodes_them() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    all_published(&hub).await;
    let mut bodies = Vec::new();
    for agency in hub.hub.settings.agencies.keys() {
        for m in hub.drain(&hub.names.outbound_queue(agency)).await {
            bodies.push(m.delivery.data.clone());
        }
    }
    assert!(bodies.len() > 50, "{}", bodies.len());
    // Our own decoding: what the mappings declare.
    let decoded: Vec<serde_json::Value> =
        bodies.iter().map(|b| hub.hub.schemas.decode_single_object(b).expect("decodes")).collect();
    let kinds = |t: &str| -> std::collections::BTreeSet<(String, String)> {
        decoded
            .iter()
            .filter(|d| d["event_type"] == t)
            .map(|d| (d["subject_category"].as_str().unwrap().into(), d["nature"].as_str().unwrap().into()))
            .collect()
    };
    assert_eq!(kinds("Arrested"), [("suspect".into(), "fact".into())].into());
    assert_eq!(kinds("OrderMade"), [("convicted".into(), "fact".into())].into());
    assert_eq!(kinds("PreSentenceReport"), [("convicted".into(), "assessment".into())].into());
    assert!(kinds("HearingResulted").contains(&("convicted".into(), "fact".into())));
    assert!(kinds("HearingResulted").contains(&("suspect".into(), "fact".into())));

    // fastavro, with the writer schema fetched from the hub, and with the earlier one as the
    // reader schema (a subscriber that has not upgraded).
    let base = hub.start_http().await.expect("HTTP served");
    let dir = std::env::temp_dir().join(format!("fastavro-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let fingerprint = hub.hub.schemas.fingerprint_hex();
    let fetched = {
        let (base, fingerprint) = (base.clone(), fingerprint.clone());
        tokio::task::spawn_blocking(move || {
            let list = http("GET", &format!("{base}/schemas"), Some("sub"), None);
            let writer = http("GET", &format!("{base}/schemas/{fingerprint}"), Some("sub"), None);
            let old = http("GET", &format!("{base}/schemas/6e82a96800714ab3"), Some("sub"), None);
            (list, writer, old)
        })
        .await
        .unwrap()
    };
    assert!(fetched.0.1.contains("6e82a96800714ab3"), "the earlier schema is listed: {}", fetched.0.1);
    assert_eq!((fetched.1.0, fetched.2.0), (200, 200));
    std::fs::write(dir.join("writer.json"), &fetched.1.1).unwrap();
    std::fs::write(dir.join("old.json"), &fetched.2.1).unwrap();
    let mut files = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        let path = dir.join(format!("{i}.avro"));
        std::fs::write(&path, b).unwrap();
        files.push(path);
    }
    let script = r#"
import io, json, sys, fastavro
writer = fastavro.parse_schema(json.load(open(sys.argv[1])))
old = fastavro.parse_schema(json.load(open(sys.argv[2])))
out = []
for path in sys.argv[3:]:
    body = open(path, "rb").read()
    assert body[:2] == b"\xc3\x01"
    new = fastavro.schemaless_reader(io.BytesIO(body[10:]), writer)
    as_old = fastavro.schemaless_reader(io.BytesIO(body[10:]), writer, old)
    out.append([str(new["event_id"]), new["subject_category"], new["nature"], str(as_old["event_id"]), "nature" in as_old])
print(json.dumps(out))
"#;
    let run = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.join("writer.json"))
        .arg(dir.join("old.json"))
        .args(&files)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        run.status.success(),
        "fastavro decodes every delivery (pip install fastavro; .ci/run installs it): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let rows: Vec<(String, String, String, String, bool)> = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(rows.len(), decoded.len());
    for (row, ours) in rows.iter().zip(&decoded) {
        assert_eq!(row.0, ours["event_id"].as_str().unwrap());
        assert_eq!(
            (row.1.as_str(), row.2.as_str()),
            (ours["subject_category"].as_str().unwrap(), ours["nature"].as_str().unwrap())
        );
        assert_eq!(row.3, row.0, "the old reader reads the same update");
        assert!(!row.4, "and without the fields it does not know");
    }
    hub.finish().await;
}

/// The court sends its 17/11 result for Daniel O'Hara again, for the same case and hearing, with
/// the sentence's result text amended: a correction. Exactly the agencies that received the
/// original result receive it — once each, as the corrected update naming the delivery it
/// supersedes and the changed field — and nobody else; the unchanged order in the same file is
/// not sent again; the reports and the court see the corrected result only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_court_result_reaches_exactly_the_agencies_that_had_the_original_once_each() {
    let hub = after_the_sample_month().await;
    let original: uuid::Uuid = sqlx::query_scalar(
        "SELECT event_id FROM events WHERE agency = 'court-b05lv00' AND event_type = 'HearingResulted'
           AND payload->>'hearing_date' = '2026-11-17'",
    )
    .fetch_one(hub.pool())
    .await
    .unwrap();
    let had: std::collections::BTreeMap<String, String> = holders(&hub, &[original]).await.into_iter().collect();
    assert!(had.len() >= 2, "the result went to several agencies: {had:?}");

    let xml =
        std::fs::read_to_string(format!("{}/court-results-B05LV00-20261117.xml", crate::support::SAMPLES)).unwrap();
    assert!(xml.contains(">Community order<"), "{xml}");
    let corrected = xml.replace(">Community order<", ">Community order, 12 months, with unpaid work<");
    let dir = std::env::temp_dir().join(format!("correction-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("court-results-B05LV00-20261117-corrected.xml");
    std::fs::write(&path, &corrected).unwrap();
    hub.send("court-b05lv00", "court-results", &path).await;
    all_published(&hub).await;

    let after = received(&hub).await;
    let mut got = std::collections::BTreeMap::new();
    for (recipient, messages) in &after {
        for m in messages {
            assert_eq!(m.event_type, "HearingResulted", "{recipient} gets only the corrected result: {m:?}");
            let correction = &m.record["correction"];
            assert!(correction["changed_fields"].as_array().unwrap().iter().any(|f| f == "offences"), "{correction}");
            assert_eq!(
                m.record["payload"]["offences"][0]["result_text"],
                "Community order, 12 months, with unpaid work"
            );
            assert!(
                got.insert(recipient.clone(), correction["corrects_message_id"].as_str().unwrap().to_string())
                    .is_none()
            );
        }
    }
    assert_eq!(got, had, "each agency that had the original, once, naming its delivery; nobody else");

    // The store holds the correction; reports and the court read the corrected result only.
    let (corrected_by,): (uuid::Uuid,) = sqlx::query_as("SELECT corrected_by FROM corrections WHERE event_id = $1")
        .bind(original)
        .fetch_one(hub.pool())
        .await
        .unwrap();
    let projected: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT event_id FROM hearings WHERE court = 'B05LV00' AND hearing_date = '2026-11-17'")
            .fetch_all(hub.pool())
            .await
            .unwrap();
    assert_eq!(projected, [corrected_by]);
    let logged = hub.count("SELECT count(*) FROM disclosure_log WHERE stage = 'corrected'").await;
    assert_eq!(logged as usize, had.len());
    let subject: uuid::Uuid = sqlx::query_scalar("SELECT subject_id FROM events WHERE event_id = $1")
        .bind(original)
        .fetch_one(hub.pool())
        .await
        .unwrap();
    let seen = tracker::store::court::seen(hub.pool(), "court-b05lv00", subject).await.unwrap();
    assert!(seen.iter().any(|r| r.event_id == corrected_by) && !seen.iter().any(|r| r.event_id == original));

    // The same file again (redelivered), or sent again unchanged under another name: nothing.
    hub.send("court-b05lv00", "court-results", &path).await;
    let again = dir.join("court-results-B05LV00-20261117-corrected-again.xml");
    std::fs::write(&again, &corrected).unwrap();
    hub.send("court-b05lv00", "court-results", &again).await;
    let _ = std::fs::remove_dir_all(&dir);
    all_published(&hub).await;
    assert!(received(&hub).await.values().all(Vec::is_empty), "nothing sent twice");
    assert_eq!(hub.count("SELECT count(*) FROM corrections").await, 1);
    assert_chain_intact(&hub).await;
    hub.finish().await;
}

/// Probation sends an event again for the same appointment (amended), then withdraws another
/// (`"deleted": true`): holders of the first get the corrected update marked as correcting their
/// copy; holders of the second get a correction notice saying it was withdrawn; nobody else
/// hears anything, and the withdrawn record leaves the reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probation_amends_one_event_and_withdraws_another() {
    let hub = after_the_sample_month().await;
    // Two probation events that went to somebody.
    let sent: Vec<(String, uuid::Uuid)> = sqlx::query_as(
        "SELECT DISTINCT e.message_id, e.event_id FROM events e JOIN outbox o USING (event_id)
         WHERE e.agency = 'probation' AND o.kind = 'delivery' AND o.published_at IS NOT NULL
           AND e.event_type IN ('AppointmentOutcome', 'BreachInitiated', 'RiskRegistration')
         ORDER BY 1",
    )
    .fetch_all(hub.pool())
    .await
    .unwrap();
    assert!(sent.len() >= 2, "{sent:?}");
    let (amended_file, amended_event) = sent[0].clone();
    let (withdrawn_file, withdrawn_event) = sent[1].clone();
    let by_recipient = |set: std::collections::BTreeSet<(String, String)>| -> std::collections::BTreeMap<_, _> {
        set.into_iter().collect()
    };
    let had_amended = by_recipient(holders(&hub, &[amended_event]).await);
    let had_withdrawn = by_recipient(holders(&hub, &[withdrawn_event]).await);

    let read = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{}/{file}", crate::support::SAMPLES)).unwrap()).unwrap()
    };
    let mut amended = read(&amended_file);
    amended["additionalInformation"]["outcomeCode"] = serde_json::json!("AMENDED");
    amended["additionalInformation"]["reason"] = serde_json::json!("amended by the officer");
    amended["additionalInformation"]["registerTypeDescription"] = serde_json::json!("amended description");
    let mut withdrawn = read(&withdrawn_file);
    withdrawn["additionalInformation"]["deleted"] = serde_json::json!(true);
    let key = "probation.probation-events";
    hub.send_bytes(key, "probation-9101-amended.json", &serde_json::to_vec(&amended).unwrap()).await;
    hub.send_bytes(key, "probation-9102-deleted.json", &serde_json::to_vec(&withdrawn).unwrap()).await;
    all_published(&hub).await;

    let after = received(&hub).await;
    let (mut corrections, mut withdrawals) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    for (recipient, messages) in &after {
        for m in messages {
            if m.event_type == tracker::sharing::notice::EVENT_TYPE {
                assert_eq!(m.record["payload"]["kind"], "correction");
                assert_eq!(m.record["payload"]["reason"], "withdrawn");
                assert!(m.record["payload"]["explanation"].as_str().unwrap().contains("withdrawn"));
                withdrawals.insert(
                    recipient.clone(),
                    m.record["payload"]["refers_to_message_id"].as_str().unwrap().to_string(),
                );
            } else {
                assert!(!m.record["correction"].is_null(), "{recipient} gets only corrections: {m:?}");
                corrections.insert(
                    recipient.clone(),
                    m.record["correction"]["corrects_message_id"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    assert_eq!(corrections, had_amended, "the amended event: each holder once, nobody else");
    assert_eq!(withdrawals, had_withdrawn, "the withdrawn event: each holder told once, nobody else");
    let gone: Option<uuid::Uuid> = sqlx::query_scalar("SELECT corrected_by FROM corrections WHERE event_id = $1")
        .bind(withdrawn_event)
        .fetch_one(hub.pool())
        .await
        .unwrap();
    assert_eq!(gone, None, "withdrawn: corrected by nothing");
    for table in ["appointments", "breaches", "risk_registrations"] {
        let left = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE event_id = $1"
        )))
        .bind(withdrawn_event)
        .fetch_one(hub.pool())
        .await
        .unwrap();
        assert_eq!(left, 0, "{table} no longer counts the withdrawn record");
    }
    assert_chain_intact(&hub).await;
    hub.finish().await;
}

/// Every row of every table where `needle` appears in any text, JSON, array or binary column:
/// (table, column, rows).
async fn everywhere(pool: &sqlx::PgPool, needle: &str) -> Vec<(String, String, i64)> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'json', 'bytea', 'ARRAY', 'character varying')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (table, column, kind) in columns {
        let test = if kind == "bytea" {
            format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
        } else {
            format!("\"{column}\"::text LIKE '%' || $1 || '%'")
        };
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM \"{table}\" WHERE {test}")))
            .bind(needle)
            .fetch_one(pool)
            .await
            .unwrap();
        if n > 0 {
            found.push((table, column, n));
        }
    }
    found
}

/// Police ask for Daniel O'Hara's arrest and charge of 28/10 to be erased: the offence's wording
/// (which only those two records carry) is then nowhere in the store — not in events, their Avro,
/// projections, the outbox, the log, the raw archive or the dead letters — while the rest of his
/// custody file stays readable; every agency that had a copy gets one erasure notice per delivery,
/// and nobody else hears anything. Another agency cannot have them erased; erasing again does
/// nothing more; the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_leaves_no_trace_of_the_record_in_the_store_and_tells_every_holder() {
    const WORDING: &str = "Stole meat products to the value of";
    let hub = after_the_sample_month().await;
    assert!(!everywhere(hub.pool(), WORDING).await.is_empty(), "the wording is stored before");
    let records: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT event_id FROM events WHERE agency = 'police-05' AND payload->>'offence_wording' LIKE $1 ORDER BY seq",
    )
    .bind(format!("{WORDING}%"))
    .fetch_all(hub.pool())
    .await
    .unwrap();
    assert_eq!(records.len(), 2, "the arrest and the charge");
    let had = holders(&hub, &records).await;
    assert!(!had.is_empty());
    let events_before = hub.count("SELECT count(*) FROM events").await;

    let refused = tracker::ops::erasure::erase(&hub.hub, &records, "court-b05lv00", "asked", "ops").await;
    assert!(matches!(refused, Err(tracker::ops::erasure::ErasureError::NotOwner { .. })), "{refused:?}");
    let done =
        tracker::ops::erasure::erase(&hub.hub, &records, "police-05", "recorded against the wrong person", "ops")
            .await
            .unwrap();
    assert_eq!(done.erased, records);
    assert_eq!(done.archive_copies, 2, "the message's archived copy, once per record");
    assert_eq!(hub.unsent_list_mismatches().await, 0, "notices are listed in their delivery's partition");
    all_published(&hub).await;

    assert_eq!(everywhere(hub.pool(), WORDING).await, [], "no trace of the erased records' payload");
    // What stays: the records existed and were erased, with no personal data.
    assert_eq!(hub.count("SELECT count(*) FROM events").await, events_before);
    assert_eq!(hub.count("SELECT count(*) FROM erasures WHERE agency = 'police-05'").await, 2);
    assert_eq!(
        hub.count("SELECT count(*) FROM record_identifiers r JOIN erasures x USING (event_id)").await,
        0,
        "no identifier of an erased record links anything"
    );
    let (archived,): (Vec<u8>,) = sqlx::query_as(
        "SELECT a.body FROM raw_archive a JOIN events e ON e.agency = a.agency AND e.message_id = a.message_id
         WHERE e.event_id = $1",
    )
    .bind(records[0])
    .fetch_one(hub.pool())
    .await
    .unwrap();
    let text = String::from_utf8(archived).unwrap();
    assert!(text.contains("DT1,05CL/26/004512") && text.contains("BAIL,05CL/26/004512"), "the other rows stay: {text}");

    let after = received(&hub).await;
    let mut told = std::collections::BTreeSet::new();
    for (recipient, messages) in &after {
        for m in messages {
            assert_eq!(m.event_type, tracker::sharing::notice::EVENT_TYPE, "{recipient}: {m:?}");
            assert_eq!(m.record["payload"]["kind"], "erasure");
            assert_eq!(m.record["payload"]["reason"], "erased_at_source");
            assert!(told.insert((
                recipient.clone(),
                m.record["payload"]["refers_to_message_id"].as_str().unwrap().to_string()
            )));
        }
    }
    assert_eq!(told, had, "one erasure notice per delivery of the records, to its recipient, and nothing else");

    let again = tracker::ops::erasure::erase(&hub.hub, &records, "police-05", "again", "ops").await.unwrap();
    assert_eq!((again.erased.len(), again.already.len(), again.notices), (0, 2, 0));
    assert_eq!(hub.count("SELECT count(*) FROM disclosure_log WHERE stage = 'erased'").await as usize, had.len());
    assert_chain_intact(&hub).await;
    hub.finish().await;
}

/// Identity after an erasure: the records left are placed as if the erased one had never come.
/// Treatment pairs client TRK0000001 and CRN X100001 with a PNC once, then sends two referrals
/// without it; erasing the one with the PNC leaves nothing tying the client to that person, so
/// the next referral (of a kind the index has placed before) and the one before it stand with
/// the CRN's own person, not the PNC's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_erasure_later_records_are_placed_as_if_the_erased_one_had_never_come() {
    use crate::support::treatment_referral_on;
    let hub = TestHub::start().await;
    let treatment = "treatment.treatment-records";
    let subject_of = |message: &'static str| {
        let pool = hub.pool().clone();
        async move {
            let s: Option<uuid::Uuid> = sqlx::query_scalar("SELECT subject_id FROM events WHERE message_id = $1")
                .bind(message)
                .fetch_one(&pool)
                .await
                .unwrap();
            s.expect("linked to a person")
        }
    };
    hub.send_bytes(treatment, "with-pnc", &treatment_referral_on("TRK0000001", "X100001", CHLOE, "20261101")).await;
    hub.send_bytes(treatment, "without", &treatment_referral_on("TRK0000001", "X100001", "", "20261102")).await;
    let pnc_person = subject_of("with-pnc").await;
    assert_eq!(subject_of("without").await, pnc_person, "joined through the CRN the PNC record pairs");
    let erased: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT event_id FROM events WHERE message_id = 'with-pnc'")
        .fetch_all(hub.pool())
        .await
        .unwrap();
    tracker::ops::erasure::erase(&hub.hub, &erased, "treatment", "recorded against the wrong person", "ops")
        .await
        .unwrap();
    hub.send_bytes(treatment, "after", &treatment_referral_on("TRK0000001", "X100001", "", "20261103")).await;
    let after = subject_of("after").await;
    assert_ne!(after, pnc_person, "nothing left ties the client to the PNC's person");
    assert_eq!(subject_of("without").await, after, "the earlier referral moved with it");
    assert_eq!(hub.rows_naming_a_missing_event().await, [], "erased and moved, every reference holds");
    assert_eq!(hub.rows_naming_a_missing_person().await, 0, "erased and moved, every person named is held");
    hub.finish().await;
}

/// Retention with the clock moved forward: police custody records kept 30 days, treatment's
/// health records 45; on 20/12 a review keeps West Yorkshire's custody records until June; the
/// retention run then erases exactly the records past their period (and not held) — nothing
/// else — tells their holders, and the reports no longer count them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_with_the_clock_moved_forward_erases_exactly_the_expired_records() {
    use tracker::settings::RetentionRule;
    let rule = |class: &str, agency: &str, keep: &str, review: &str| RetentionRule {
        data_class: class.into(),
        agency: agency.into(),
        keep: keep.into(),
        review: review.into(),
    };
    let rules = vec![
        rule("custody", "*", "30d", "14d"),
        rule("health", "treatment", "45d", "7d"),
        rule("health", "*", "8y", "1y"),
    ];
    let hub = TestHub::start_with(|s| s.retention.rules = rules.clone()).await;
    hub.send_sample_plan().await;
    all_published(&hub).await;
    received(&hub).await;
    // The same store, three weeks later.
    let mut later = hub.hub.settings.clone();
    later.clock.fixed = "2026-12-20T12:00:00Z".into();
    let later = tracker::hub::Hub::build(later).await.unwrap();
    let ids = |sql: &'static str| {
        let pool = hub.pool().clone();
        async move {
            let mut v: Vec<uuid::Uuid> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            v.sort();
            v
        }
    };
    let expired = ids(
        "SELECT event_id FROM events WHERE
           (data_class = 'custody' AND occurred_at < TIMESTAMP '2026-11-20' AT TIME ZONE 'Europe/London')
        OR (data_class = 'health' AND agency = 'treatment' AND occurred_at < TIMESTAMP '2026-11-05' AT TIME ZONE 'Europe/London')",
    )
    .await;
    let held = ids("SELECT event_id FROM events WHERE data_class = 'custody' AND agency = 'police-13'
           AND occurred_at < TIMESTAMP '2026-12-06' AT TIME ZONE 'Europe/London'")
    .await;
    assert!(expired.len() > 5 && !held.is_empty(), "{} expired, {} to hold", expired.len(), held.len());

    // What is due for review; a review keeps West Yorkshire's custody records until June.
    let due = tracker::retention::due(&later).await.unwrap();
    assert!(due.iter().any(|d| d.agency == "police-13" && d.data_class == "custody"), "{due:?}");
    let until = chrono::NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    let kept = tracker::retention::decide(
        &later,
        "police-13",
        "custody",
        tracker::retention::Decision::KeepUntil(until),
        "dpo",
    )
    .await
    .unwrap();
    assert_eq!(kept, held.len());
    assert!(!tracker::retention::due(&later).await.unwrap().iter().any(|d| d.agency == "police-13"));

    // A dry run counts; the run erases exactly what expired and is not held.
    let dry = tracker::retention::run(&later, true).await.unwrap();
    assert_eq!(hub.count("SELECT count(*) FROM erasures").await, 0, "a dry run erases nothing");
    let to_erase: Vec<uuid::Uuid> = expired.iter().filter(|e| !held.contains(e)).copied().collect();
    assert_eq!(dry.expired.values().flat_map(|c| c.values()).sum::<usize>(), to_erase.len());
    let pass = tracker::retention::run(&later, false).await.unwrap();
    assert_eq!(pass.erased, to_erase.len());
    assert_eq!(ids("SELECT event_id FROM erasures").await, to_erase, "exactly the expired records, and nothing else");
    assert_eq!(hub.count("SELECT count(*) FROM events WHERE payload = '{}'::jsonb").await as usize, to_erase.len());
    assert_eq!(
        hub.count("SELECT count(*) FROM custody_events c JOIN erasures x USING (event_id)").await,
        0,
        "reports count only what is kept"
    );
    let kept_custody = hub.count("SELECT count(*) FROM custody_events WHERE occurred_at < TIMESTAMP '2026-11-20' AT TIME ZONE 'Europe/London'").await;
    assert!(kept_custody > 0, "the held records stay in the reports");
    // Their holders are told; running again erases nothing more; the chain verifies.
    all_published(&hub).await;
    let notices: usize = received(&hub).await.values().map(Vec::len).sum();
    assert_eq!(notices, pass.notices);
    assert_eq!(tracker::retention::run(&later, false).await.unwrap().erased, 0);
    assert_chain_intact(&hub).await;
    hub.finish().await;
}

/// Police restrict Chloë Brennan's charge (kept as evidence): every agency holding a copy is
/// told once, the charge leaves the reports and the court's view, and auditors see the
/// restriction; lifted, it counts in the reports again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_record_is_kept_but_used_by_no_one_until_lifted() {
    let hub = after_the_sample_month().await;
    let (charge, subject): (uuid::Uuid, uuid::Uuid) = sqlx::query_as(
        "SELECT e.event_id, e.subject_id FROM events e JOIN subject_identifiers i USING (subject_id)
         WHERE i.value = $1 AND e.event_type = 'Charged'",
    )
    .bind(CHLOE)
    .fetch_one(hub.pool())
    .await
    .unwrap();
    let had = holders(&hub, &[charge]).await;
    assert!(!had.is_empty());
    use tracker::ops::restriction;
    assert!(matches!(
        restriction::restrict(&hub.hub, &[charge], "probation", "x", "ops").await,
        Err(restriction::RestrictionError::NotOwner { .. })
    ));
    let (restricted, notices) =
        restriction::restrict(&hub.hub, &[charge], "police-05", "evidence in an appeal", "ops").await.unwrap();
    assert_eq!((restricted, notices), (1, had.len()));
    assert_eq!(restriction::restrict(&hub.hub, &[charge], "police-05", "again", "ops").await.unwrap(), (0, 0));
    all_published(&hub).await;
    let mut told = std::collections::BTreeSet::new();
    for (recipient, messages) in received(&hub).await {
        for m in messages {
            assert_eq!(m.record["payload"]["kind"], "restriction", "{recipient}: {m:?}");
            told.insert((recipient.clone(), m.record["payload"]["refers_to_message_id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(told, had, "each holder once, nobody else");
    let in_reports = |hub: &TestHub| {
        let pool = hub.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM charges WHERE event_id = $1")
                .bind(charge)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(in_reports(&hub).await, 0, "no report counts it");
    let seen = tracker::store::court::seen(hub.pool(), "court-b05lv00", subject).await.unwrap();
    assert!(!seen.iter().any(|r| r.event_id == charge), "the court does not see it");
    let listed = tracker::store::restrictions::list(hub.pool()).await.unwrap();
    assert_eq!((listed.len(), listed[0].event_id, listed[0].lifted_at), (1, charge, None), "auditors see it");
    assert_eq!(hub.count("SELECT count(*) FROM disclosure_log WHERE stage = 'restricted'").await as usize, had.len());

    assert_eq!(restriction::lift(&hub.hub, &[charge], "police-05", "ops").await.unwrap(), 1);
    assert_eq!(in_reports(&hub).await, 1, "lifted, it counts again");
    assert_chain_intact(&hub).await;
    hub.finish().await;
}
