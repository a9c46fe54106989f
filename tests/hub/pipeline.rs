//! The inbound pipeline over the real broker and store: the sample month, bad input, redelivery.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{SAMPLES, TestHub};
use lapin::types::AMQPValue;

/// Row counts of every table the pipeline writes.
const TABLES: &[&str] = &[
    "raw_archive",
    "inbox",
    "subjects",
    "subject_identifiers",
    "subject_details",
    "identity_conflicts",
    "identifier_rejections",
    "events",
    "refusals",
    "kept_items",
    "hearings",
    "charges",
    "orders",
    "order_requirements",
    "supervisions",
    "appointments",
    "breaches",
    "warrants",
    "bail_decisions",
    "drug_tests",
    "treatment_episodes",
    "consents",
    "risk_registrations",
    "pre_sentence_reports",
    "custody_events",
    "offences_pleas",
    "cases",
];

async fn row_counts(hub: &TestHub) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(hub.pool())
            .await
            .unwrap();
        out.push((t.to_string(), n));
    }
    out
}

async fn subject_of(hub: &TestHub, scheme: &str, value: &str) -> uuid::Uuid {
    tracker::store::subjects::find(hub.pool(), scheme, value)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no subject for {scheme} {value}"))
}

fn header<'a>(m: &'a lapin::message::BasicGetMessage, name: &str) -> Option<&'a AMQPValue> {
    m.delivery.properties.headers().as_ref()?.inner().get(name)
}

fn header_text(m: &lapin::message::BasicGetMessage, name: &str) -> String {
    match header(m, name) {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("header {name}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_month_links_each_person_once_and_refuses_bad_input_alone() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;

    // Each person is one subject across the agencies that know them.
    let daniel = subject_of(&hub, "PNC", "2019/0012345G").await;
    for (scheme, value) in
        [("CRO", "012345/19R"), ("CRN", "X481516"), ("TREATMENT", "TRK0004417"), ("NHS", "4857773457")]
    {
        assert_eq!(subject_of(&hub, scheme, value).await, daniel, "{scheme} {value} links to Daniel");
    }
    let agencies: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT agency FROM events WHERE subject_id = $1 ORDER BY 1")
            .bind(daniel)
            .fetch_all(hub.pool())
            .await
            .unwrap();
    assert_eq!(agencies, ["court-b05lv00", "police-05", "probation", "treatment"]);
    let marek = subject_of(&hub, "NOMS", "A1234BC").await;
    assert_eq!(subject_of(&hub, "PNC", "2010/0098765E").await, marek);
    let chloe = subject_of(&hub, "TREATMENT", "TRK0004502").await;
    assert_eq!(subject_of(&hub, "PNC", "2021/0456789D").await, chloe);
    // Four people of the month, and Shannon from the good row of the bad CSV file.
    assert_eq!(hub.count("SELECT count(*) FROM subjects").await, 5);
    assert_eq!(hub.count("SELECT count(*) FROM identity_conflicts").await, 0);

    // What each message became.
    assert_eq!(hub.count("SELECT count(*) FROM inbox").await, 26);
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 45);
    assert_eq!(hub.rows_naming_a_missing_event().await, [], "every row naming an event names a stored one");
    assert_eq!(hub.rows_naming_a_missing_person().await, 0, "every row naming a person names a stored one");
    // The references to people are checked per statement (migration 0041), and people are never
    // deleted: the store still refuses a row naming someone it does not hold, as the foreign key did.
    let stranger = uuid::Uuid::new_v4();
    for (what, statement) in [
        (
            "an event moved to a stranger",
            "UPDATE events SET subject_id = $1 WHERE event_id = (SELECT event_id FROM events WHERE subject_id IS NOT NULL ORDER BY seq LIMIT 1)",
        ),
        (
            "an identifier of a stranger",
            "INSERT INTO subject_identifiers (scheme, value, subject_id, source_agency, first_seen_at) VALUES ('PNC', '2099/0000001Z', $1, 'police-05', now())",
        ),
        (
            "an identifier given to a stranger",
            "UPDATE subject_identifiers SET subject_id = $1 WHERE scheme = 'PNC' AND value = '2019/0012345G'",
        ),
        (
            "details of a stranger",
            "INSERT INTO subject_details (subject_id, name, source_agency, first_seen_at) VALUES ($1, 'Nobody', 'police-05', now())",
        ),
        ("a person deleted", "DELETE FROM subjects WHERE subject_id <> $1"),
    ] {
        let refused =
            sqlx::query(sqlx::AssertSqlSafe(statement)).bind(stranger).execute(hub.pool()).await.expect_err(what);
        let code = refused.as_database_error().and_then(|e| e.code()).map(|c| c.to_string());
        assert!(
            code.as_deref().is_some_and(|c| c.starts_with("23")),
            "{what}: refused as an integrity violation, got {refused}"
        );
    }
    assert_eq!(hub.count("SELECT count(*) FROM subjects").await, 5, "nobody was deleted");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT name FROM subject_details WHERE subject_id = $1 ORDER BY 1")
            .bind(chloe)
            .fetch_all(hub.pool())
            .await
            .unwrap();
    assert!(names.contains(&"CHLOË BRENNAN".to_string()), "Windows-1252 name decoded: {names:?}");

    // The bad CSV: row 2 applied, rows 3 and 4 refused alone with their row numbers.
    let bad_csv = "police-custody-05CL-20261112-1400-bad-rows.csv";
    let refusals: Vec<(i32, String, String)> =
        sqlx::query_as("SELECT item_position, code, reason FROM refusals WHERE message_id = $1 ORDER BY item_position")
            .bind(bad_csv)
            .fetch_all(hub.pool())
            .await
            .unwrap();
    assert_eq!(refusals.len(), 2);
    assert_eq!((refusals[0].0, refusals[0].1.as_str()), (3, "field_count"));
    assert!(refusals[0].2.starts_with("row 3: has 24 fields"), "{}", refusals[0].2);
    assert_eq!((refusals[1].0, refusals[1].1.as_str()), (4, "bad_value"));
    assert!(refusals[1].2.contains("row 4") && refusals[1].2.contains("31/11/2026"), "{}", refusals[1].2);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE message_id = $1")
        .bind(bad_csv)
        .fetch_one(hub.pool())
        .await
        .unwrap();
    assert_eq!(applied, 1, "row 2 of the bad file is applied");

    // Whole-file refusals: nothing from them is applied, each says why.
    for (file, code, says) in [
        ("court-results-B05LV00-20261119-not-well-formed.xml", "malformed", "line 12"),
        ("probation-0011-not-json.json", "malformed", "column 247"),
        ("treatment-MERSDRG1-20261128-000420-truncated.dat", "truncated", "says 5 records, the file has 2"),
    ] {
        let (position, got_code, reason): (i32, String, String) =
            sqlx::query_as("SELECT item_position, code, reason FROM refusals WHERE message_id = $1")
                .bind(file)
                .fetch_one(hub.pool())
                .await
                .unwrap();
        assert_eq!((position, got_code.as_str()), (0, code), "{file}");
        assert!(reason.contains(says), "{file}: {reason}");
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE message_id = $1")
            .bind(file)
            .fetch_one(hub.pool())
            .await
            .unwrap();
        assert_eq!(events, 0, "{file} applied nothing");
    }

    // The unknown probation event type is kept and counted, not refused.
    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, label FROM kept_items").fetch_all(hub.pool()).await.unwrap();
    assert_eq!(
        kept,
        [("probation-0010-unknown-event-type.json".to_string(), "probation-case.address.changed".to_string())]
    );
    let outcome: String =
        sqlx::query_scalar("SELECT outcome FROM inbox WHERE message_id = 'probation-0010-unknown-event-type.json'")
            .fetch_one(hub.pool())
            .await
            .unwrap();
    assert_eq!(outcome, "kept");

    // Every refusal is dead-lettered with its reason, connector, original key and its own raw bytes.
    let dead = hub.drain(&hub.names.dead_queue()).await;
    assert_eq!(dead.len(), 5);
    let row3 = dead.iter().find(|m| header_text(m, "tracker-error").starts_with("row 3")).expect("row 3 dead letter");
    assert_eq!(header_text(row3, "tracker-connector"), "police-custody");
    assert_eq!(header_text(row3, "tracker-original-routing-key"), "police-05.police-custody");
    assert_eq!(header_text(row3, "tracker-original-message-id"), bad_csv);
    assert!(String::from_utf8_lossy(&row3.delivery.data).starts_with("CHG,05CL/26/004601"), "the row's own bytes");
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE dead_lettered_at IS NULL").await, 0);

    // Events are validated Avro: the stored bytes decode to the stored payload.
    let (avro, payload): (Vec<u8>, serde_json::Value) =
        sqlx::query_as("SELECT avro, payload FROM events WHERE event_type = 'OrderMade' AND subject_id = $1")
            .bind(daniel)
            .fetch_one(hub.pool())
            .await
            .unwrap();
    let decoded = hub.hub.schemas.decode_datum(&avro).unwrap();
    assert_eq!(decoded["payload"]["requirements"], payload["requirements"]);
    assert_eq!(decoded["payload"]["requirements"][1]["type"], "DRR");

    // Projections: Daniel's order and its requirements; the October clock change respected.
    assert_eq!(hub.count("SELECT count(*) FROM orders").await, 3);
    assert_eq!(hub.count("SELECT count(*) FROM order_requirements WHERE requirement = 'DRR'").await, 1);
    let arrested: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT occurred_at FROM events WHERE event_type = 'Arrested' AND subject_id = $1")
            .bind(daniel)
            .fetch_one(hub.pool())
            .await
            .unwrap();
    assert_eq!(arrested.to_rfc3339(), "2026-10-28T14:35:00+00:00", "GMT after 25 October");
    let supervised: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT occurred_at FROM events WHERE event_type = 'SupervisionStarted' AND subject_id = $1",
    )
    .bind(marek)
    .fetch_one(hub.pool())
    .await
    .unwrap();
    assert_eq!(supervised.to_rfc3339(), "2026-06-02T08:30:00+00:00", "+01:00 offset honoured");

    // person show: every identifier and the timeline across agencies; the look is logged.
    let looker = tracker::consultations::Looker {
        viewer: "ops",
        role: "operator",
        purpose: "call from probation",
        at: hub.hub.clock.now(),
    };
    let key = tracker::person::parse_key("PNC:20190012345G").unwrap();
    let person = tracker::person::show(hub.pool(), &key, &looker).await.unwrap();
    let looked: (String, uuid::Uuid, String, String) =
        sqlx::query_as("SELECT viewer, subject_id, view, purpose FROM consultation_log")
            .fetch_one(hub.pool())
            .await
            .unwrap();
    assert_eq!(looked, ("ops".into(), person.subject_id, "person show".into(), "call from probation".into()));
    assert_eq!(person.identifiers.len(), 5);
    assert_eq!(person.timeline.len(), 19);
    assert!(person.timeline.windows(2).all(|w| w[0].occurred_at <= w[1].occurred_at));
    let table = tracker::person::render_table(&person);
    assert!(table.contains("TRK0004417") && table.contains("OrderMade"), "{table}");

    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_everything_a_second_time_changes_no_row() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let before = row_counts(&hub).await;
    let dead_before = hub.drain(&hub.names.dead_queue()).await.len();
    assert_eq!(dead_before, 5);
    hub.send_sample_plan().await;
    assert_eq!(row_counts(&hub).await, before);
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0, "no dead letter twice");
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_naming_another_agency_or_too_large_is_refused_whole() {
    let hub = TestHub::start_with(|s| s.limits.max_message_bytes = 4096).await;
    let samples = Path::new(SAMPLES);
    // A B05LV00 batch published by Bradford's court.
    hub.send("court-b13bd00", "court-results", &samples.join("court-results-B05LV00-20261031.xml")).await;
    let reason: String = sqlx::query_scalar("SELECT reason FROM refusals WHERE agency = 'court-b13bd00'")
        .fetch_one(hub.pool())
        .await
        .unwrap();
    assert!(reason.contains("B05LV00") && reason.contains("court-b13bd00"), "{reason}");
    // A Merseyside custody file published by West Yorkshire: each row names force 05.
    hub.send("police-13", "police-custody", &samples.join("police-custody-05AN-20261110-1200.csv")).await;
    assert_eq!(
        hub.count("SELECT count(*) FROM refusals WHERE agency = 'police-13' AND code = 'wrong_publisher'").await,
        2
    );
    // A connector the agency does not use.
    hub.send_bytes("probation.police-custody", "x-1", b"RecordType\r\n").await;
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE code = 'unknown_connector'").await, 1);
    // Too large.
    hub.send_bytes("probation.probation-events", "big-1", &vec![b' '; 5000]).await;
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM refusals WHERE code = 'too_large'").fetch_one(hub.pool()).await.unwrap();
    assert_eq!(reason, "message is 5000 bytes; the limit is 4096");
    assert_eq!(hub.count("SELECT count(*) FROM events").await, 0);
    assert_eq!(hub.drain(&hub.names.dead_queue()).await.len(), 5);
    // The raw payloads stay in the archive.
    assert_eq!(hub.count("SELECT count(*) FROM raw_archive").await, 4);
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_many_frames_long_reaches_the_archive_whole() {
    let hub = TestHub::start().await;
    // The hub asks the broker for small frames (they bound lapin's buffers per connection).
    let conn = tracker::broker::connect(&hub.hub.settings.broker.url).await.unwrap();
    assert_eq!(conn.configuration().frame_max(), tracker::broker::FRAME_MAX_BYTES);
    tracker::broker::close(&conn, "checked").await;
    // A payload of many frames arrives byte for byte (refused, as it is not JSON, and archived).
    let body: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    hub.send_bytes("probation.probation-events", "many-frames-1", &body).await;
    let archived: Vec<u8> = sqlx::query_scalar("SELECT body FROM raw_archive WHERE message_id = 'many-frames-1'")
        .fetch_one(hub.pool())
        .await
        .unwrap();
    assert_eq!(archived.len(), body.len());
    assert!(archived == body, "the archived payload is the one sent");
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE message_id = 'many-frames-1'").await, 1);
    hub.finish().await;
}

/// A batch's payloads are archived once each and answered in order, whether they fit one
/// statement (inserted and looked up together) or not (bodies past 8 MiB go in pieces): the
/// same payload twice in a batch, or again in a later batch, is one archive row, and a payload
/// whose message the inbox holds is recognised as committed before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_archived_once_per_payload_in_one_statement_or_in_pieces() {
    use tracker::store::archive::archive_many;
    use tracker::store::message::Envelope;
    let hub = TestHub::start_idle(|_| {}).await;
    let pool = hub.pool();
    let env = |id: &str| Envelope {
        agency: "police-05".into(),
        connector: "police-custody".into(),
        routing_key: "police-05.police-custody".into(),
        message_id: id.into(),
    };
    let (a, b, c) = (env("archive-a"), env("archive-b"), env("archive-c"));
    let headers = serde_json::json!({"user_id": "police-05"});
    let now = chrono::Utc::now();
    let small = |e, body: &'static [u8]| (e, body, headers.clone());
    let first = archive_many(pool, &[small(&a, b"one"), small(&b, b"two"), small(&a, b"one")], now).await.unwrap();
    assert_eq!(first[0], first[2], "the same payload twice in a batch is one archive row");
    assert_ne!(first[0].0, first[1].0);
    assert!(first.iter().all(|(_, before)| !before), "nothing was committed before");

    // The inbox takes a's message; a later batch finds a and b where they were.
    let mut tx = pool.begin().await.unwrap();
    let row = tracker::store::inbox::InboxRow {
        env: &a,
        archive_id: first[0].0,
        outcome: "refused",
        items: 1,
        events: 0,
        refused: 1,
        kept: 0,
    };
    tracker::store::inbox::insert_new_many(&mut tx, &[row], now).await.unwrap();
    tx.commit().await.unwrap();
    let again = archive_many(pool, &[small(&b, b"two"), small(&a, b"one")], now).await.unwrap();
    assert_eq!(again, vec![(first[1].0, false), (first[0].0, true)]);

    // Two bodies of 5 MiB pass one statement's 8 MiB: archived in pieces, answered the same way.
    let big: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    let batch = [
        (&c, big.as_slice(), headers.clone()),
        (&b, b"two".as_slice(), headers.clone()),
        (&a, big.as_slice(), headers.clone()),
    ];
    let pieces = archive_many(pool, &batch, now).await.unwrap();
    assert_eq!(pieces[1], (first[1].0, false), "b is where it was");
    assert!(!pieces[0].1 && pieces[2].1, "c is new, a's message committed before");
    assert_ne!(pieces[0].0, pieces[2].0, "another body under a's message id is another archive row");
    let stored: Vec<i32> = sqlx::query_scalar("SELECT length(body) FROM raw_archive WHERE id = ANY($1) ORDER BY id")
        .bind(vec![pieces[0].0, pieces[2].0])
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(stored, vec![big.len() as i32; 2], "each large body is archived whole");
    assert_eq!(hub.count("SELECT count(*) FROM raw_archive WHERE message_id LIKE 'archive-%'").await, 4);
    hub.finish().await;
}

fn registration(ids: &str, n: u32) -> Vec<u8> {
    format!(
        r#"{{"eventType":"probation-case.registration.added","version":1,"occurredAt":"2026-11-05T11:00:00+00:00",
        "personReference":{{"identifiers":[{ids}]}},
        "additionalInformation":{{"registerTypeCode":"MAPP","registrationDate":"2026-11-05","n":{n}}}}}"#
    )
    .into_bytes()
}

/// Where each message's record went: the PNCs of its person, or `held`.
async fn placed(hub: &TestHub) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT e.message_id, coalesce((SELECT string_agg(si.value, ' ' ORDER BY si.value) FROM subject_identifiers si
                                        WHERE si.subject_id = e.subject_id AND si.scheme = 'PNC'), 'held')
         FROM events e",
    )
    .fetch_all(hub.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// The brothers: the elder's probation record pairs his PNC with his CRN; the younger is known
/// by his PNC; a treatment record pairs the elder's CRN (issued by probation) with the younger's
/// PNC. Whichever arrives first, the treatment record is held as a conflict and each brother's
/// records stay his own. Arriving first, it was linked to the younger brother; the elder's record
/// then moves it into review. A PNC with a bad check letter links nobody, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_bridging_two_people_is_held_whatever_arrives_first() {
    const ELDER: &str = "2021/0456789D";
    const YOUNGER: &str = "2019/0012345G";
    let elder = registration(&format!(r#"{{"type":"PNC","value":"{ELDER}"}},{{"type":"CRN","value":"X100001"}}"#), 1);
    let younger = registration(&format!(r#"{{"type":"PNC","value":"{YOUNGER}"}}"#), 2);
    let bridge = crate::support::treatment_referral("TRK0009999", "X100001", YOUNGER);
    let mut outcomes = Vec::new();
    for bridge_first in [false, true] {
        let hub = TestHub::start().await;
        if bridge_first {
            hub.send_bytes("treatment.treatment-records", "c", &bridge).await;
            assert_eq!(placed(&hub).await["c"], YOUNGER, "alone, the CRN joins the PNC it came with");
        }
        hub.send_bytes("probation.probation-events", "a", &elder).await;
        hub.send_bytes("probation.probation-events", "b", &younger).await;
        if !bridge_first {
            hub.send_bytes("treatment.treatment-records", "c", &bridge).await;
        }
        let got = placed(&hub).await;
        assert_eq!(got["a"], ELDER);
        assert_eq!(got["b"], YOUNGER);
        assert_eq!(got["c"], "held", "bridge first: {bridge_first}");
        assert_eq!(
            hub.count("SELECT count(*) FROM identity_conflicts WHERE message_id = 'c' AND status = 'open' AND cardinality(subject_ids) = 2")
                .await,
            1
        );
        if bridge_first {
            hub.send_bytes(
                "probation.probation-events",
                "d",
                &registration(r#"{"type":"PNC","value":"2019/0012345H"}"#, 4),
            )
            .await;
            let reason: String = sqlx::query_scalar("SELECT reason FROM identifier_rejections WHERE message_id = 'd'")
                .fetch_one(hub.pool())
                .await
                .unwrap();
            assert_eq!(reason, "check letter is H, expected G");
            assert_eq!(hub.count("SELECT count(*) FROM events WHERE message_id = 'd' AND subject_id IS NULL").await, 1);
        }
        let people: i64 = hub.count("SELECT count(DISTINCT subject_id) FROM events WHERE subject_id IS NOT NULL").await;
        outcomes.push((got, people));
        hub.finish().await;
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_stops_consuming_and_loses_nothing() {
    let hub = TestHub::start().await;
    let samples = Path::new(SAMPLES);
    hub.send("police-05", "police-custody", &samples.join("police-custody-05CL-20261030-1000.csv")).await;
    let db = hub.hub.settings.database.url.rsplit_once('/').unwrap().1.to_string();
    let admin = tracker::store::connect("postgres://postgres@127.0.0.1:5432/test", 1, "tracker test").await.unwrap();
    let set = |allow: bool| format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {allow}");
    sqlx::query(sqlx::AssertSqlSafe(set(false))).execute(&admin).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db)
        .execute(&admin)
        .await
        .unwrap();

    // Published during the outage: confirmed by the broker, not acknowledged by the hub.
    let before = hub.acknowledged();
    let body = std::fs::read(samples.join("court-results-B05LV00-20261031.xml")).unwrap();
    let props = lapin::BasicProperties::default().with_message_id("during-outage.xml".into()).with_delivery_mode(2);
    tracker::broker::publish::publish_confirmed(
        &hub.ch,
        &hub.names.inbound_exchange(),
        "court-b05lv00.court-results",
        &body,
        props,
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(hub.acknowledged(), before, "nothing acknowledged while the store is away");

    sqlx::query(sqlx::AssertSqlSafe(set(true))).execute(&admin).await.unwrap();
    hub.wait_acknowledged(before + 1).await;
    assert_eq!(
        hub.count("SELECT count(*) FROM inbox WHERE message_id = 'during-outage.xml' AND outcome = 'applied'").await,
        1
    );
    assert_eq!(hub.count("SELECT count(*) FROM refusals").await, 0);
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0, "a transient fault never dead-letters");
    admin.close().await;
    hub.finish().await;
}

/// What a hub decided to deliver: (event, recipient, decision, catch-up) from the disclosure log.
async fn decisions(hub: &TestHub) -> Vec<(uuid::Uuid, String, String, bool)> {
    sqlx::query_as("SELECT event_id, recipient, decision, catch_up FROM disclosure_log ORDER BY 1, 2")
        .fetch_all(hub.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_load_stores_and_decides_what_the_broker_path_would_and_loading_again_changes_nothing() {
    // The same month through the broker, one message at a time…
    let by_broker = TestHub::start_without_publisher().await;
    by_broker.send_sample_plan().await;
    let expected_rows = row_counts(&by_broker).await;
    let expected_decisions = decisions(&by_broker).await;
    by_broker.finish().await;

    // …and loaded from the directory, seven files per transaction.
    let hub = TestHub::start_without_publisher().await;
    let dead = tracker::tools::load::DeadLetters { ch: &hub.ch, names: &hub.names };
    let plan = tracker::tools::demo::send_plan(Path::new(SAMPLES)).unwrap();
    let loaded =
        tracker::tools::load::load(hub.hub.clone(), Path::new(SAMPLES), plan.into(), batches(7), &dead).await.unwrap();
    assert_eq!((loaded.files, loaded.already_loaded, loaded.events), (26, 0, 45), "{loaded:?}");
    assert_eq!((loaded.refused, loaded.kept), (5, 1), "{loaded:?}");
    assert!(loaded.failed.is_empty(), "{:?}", loaded.failed);
    assert_eq!(row_counts(&hub).await, expected_rows, "the same rows as through the broker");
    assert_eq!(decisions(&hub).await, expected_decisions, "the same sharing decisions, logged");

    // Refused items are dead-lettered with their reasons, as from the broker.
    let dead_letters = hub.drain(&hub.names.dead_queue()).await;
    assert_eq!(dead_letters.len(), 5);
    assert!(dead_letters.iter().any(|m| header_text(m, "tracker-error").starts_with("row 3: has 24 fields")));
    assert_eq!(hub.count("SELECT count(*) FROM refusals WHERE dead_lettered_at IS NULL").await, 0);

    // Loading again (or resuming after an interruption) stores and sends nothing twice: here from
    // the directory's plan, read as the load goes.
    let (dir, plan) = tracker::tools::load::plan_for(None, None, &[SAMPLES.into()]).unwrap();
    let again = tracker::tools::load::load(hub.hub.clone(), &dir, plan, batches(10), &dead).await.unwrap();
    assert_eq!((again.already_loaded, again.events, again.queued), (26, 0, 0), "{again:?}");
    assert_eq!(row_counts(&hub).await, expected_rows);
    assert_eq!(hub.queue_depth(&hub.names.dead_queue()).await, 0, "no dead letter twice");

    // The running hub's publisher delivers what the load queued.
    let queued = hub.count("SELECT count(*) FROM outbox").await;
    assert!(queued > 0);
    hub.start_publisher().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        hub.count("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL OR withheld_at_publish IS NOT NULL")
            .await,
        queued
    );
    hub.finish().await;
}

#[test]
fn a_load_names_what_it_needs() {
    let err = tracker::tools::load::plan_for(None, None, &["a".into(), "b".into()]).unwrap_err();
    assert!(err.to_string().contains("one directory holding a send plan"), "{err}");
    let err = tracker::tools::load::plan_for(None, None, &["no-such-dir".into()]).unwrap_err();
    assert!(format!("{err:#}").contains("no-such-dir/expected.json"), "{err:#}");
    let (_, plan) =
        tracker::tools::load::plan_for(Some("police-05".into()), Some("police-custody".into()), &["x.csv".into()])
            .unwrap();
    let tracker::tools::load::Plan::Listed(plan) = plan else { panic!("files given one by one are listed") };
    assert_eq!(
        (plan[0].agency.as_str(), plan[0].connector.as_str(), plan[0].file.as_str()),
        ("police-05", "police-custody", "x.csv")
    );
    // A directory's plan is counted, and read as the load goes.
    let (_, plan) = tracker::tools::load::plan_for(None, None, &[SAMPLES.into()]).unwrap();
    assert!(matches!(plan, tracker::tools::load::Plan::OfDirectory { files: 26 }));
}

fn batches(files: usize) -> tracker::tools::load::Batches {
    tracker::tools::load::Batches { files, max_bytes: 512 * 1024 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_carries_the_trace_context_of_the_message_it_came_in() {
    use lapin::BasicProperties;
    use lapin::types::FieldTable;
    use tracker::trace_context::TraceParent;
    const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let traced = "police-custody-05CL-20261030-1000.csv";
    // The hub also sends its spans to a collector (a stand-in that keeps what it is sent).
    let collector = crate::support::Collector::start();
    let endpoint = collector.url.clone();
    let hub = TestHub::start_with(move |s| s.log.otlp_endpoint = endpoint).await;
    for p in tracker::tools::demo::send_plan(Path::new(SAMPLES)).unwrap() {
        if p.file != traced {
            hub.send(&p.agency, &p.connector, &Path::new(SAMPLES).join(&p.file)).await;
            continue;
        }
        // The force's adapter sends its own trace context with the file.
        let mut headers = FieldTable::default();
        headers.insert("traceparent".into(), AMQPValue::LongString(SENT.into()));
        let props =
            BasicProperties::default().with_message_id(traced.into()).with_delivery_mode(2).with_headers(headers);
        let body = std::fs::read(Path::new(SAMPLES).join(traced)).unwrap();
        let before = hub.acknowledged();
        tracker::broker::publish::publish_confirmed(
            &hub.ch,
            &hub.names.inbound_exchange(),
            &format!("{}.{}", p.agency, p.connector),
            &body,
            props,
        )
        .await
        .unwrap();
        hub.wait_acknowledged(before + 1).await;
    }
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
    // Which message each delivery came from, as the store says.
    let sources: BTreeMap<String, (String, String)> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT o.message_id::text, e.agency, e.message_id FROM outbox o JOIN events e USING (event_id)
         WHERE o.published_at IS NOT NULL",
    )
    .fetch_all(hub.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(delivery, agency, message)| (delivery, (agency, message)))
    .collect();
    let mut from_traced = 0;
    let mut spans = std::collections::BTreeSet::new();
    let mut traced_delivery_spans = std::collections::BTreeSet::new();
    let mut deliveries = 0;
    for agency in hub.hub.settings.agencies.keys().map(|a| a.to_string()).collect::<Vec<_>>() {
        for m in hub.drain(&hub.names.outbound_queue(&agency)).await {
            let id = m.delivery.properties.message_id().as_ref().unwrap().to_string();
            let tp = TraceParent::parse(&header_text(&m, "traceparent")).expect("a valid traceparent");
            let (source_agency, source_message) = &sources[&id];
            let expected = if source_message == traced {
                from_traced += 1;
                traced_delivery_spans.insert(hex::encode(tp.parent_id));
                TraceParent::parse(SENT).unwrap()
            } else {
                TraceParent::of_message(source_agency, source_message, None)
            };
            assert_eq!(tp.trace_id, expected.trace_id, "delivery {id} from {source_message}");
            assert_ne!(tp.parent_id, expected.parent_id, "each delivery is a span of its own");
            assert!(spans.insert(tp.parent_id), "one span per delivery");
            deliveries += 1;
        }
    }
    assert_eq!(deliveries, sources.len(), "every published delivery was read");
    assert!(from_traced >= 1, "the traced file was delivered somewhere");
    // The context is kept with the message in the archive, where a replay finds it.
    let archived: Option<String> =
        sqlx::query_scalar("SELECT headers->>'traceparent' FROM raw_archive WHERE message_id = $1")
            .bind(traced)
            .fetch_one(hub.pool())
            .await
            .unwrap();
    assert_eq!(archived.as_deref(), Some(SENT));

    // The collector has the trace: the force's span, under it the hub's processing of the file,
    // under that one span per delivery (the ids the deliveries' headers carry).
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let spans =
        collector.spans_of(trace_id, |s| s.iter().filter(|s| s["name"] == "tracker.deliver").count() >= from_traced);
    let process: Vec<_> = spans.iter().filter(|s| s["name"] == "tracker.process").collect();
    assert_eq!(process.len(), 1, "{spans:?}");
    assert_eq!(process[0]["parentSpanId"], "00f067aa0ba902b7", "under the force's span");
    let delivered: std::collections::BTreeSet<String> = spans
        .iter()
        .filter(|s| s["name"] == "tracker.deliver")
        .inspect(|s| assert_eq!(s["parentSpanId"], process[0]["spanId"], "under the processing span"))
        .map(|s| s["spanId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(delivered, traced_delivery_spans, "each delivery's span is the one its header names");
    hub.finish().await;
}

/// Each recipient's deliveries as its queue holds them, by message id, in arrival order.
async fn received_in_order(hub: &TestHub) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for agency in hub.hub.settings.agencies.keys() {
        let ids = hub
            .drain(&hub.names.outbound_queue(agency))
            .await
            .iter()
            .map(|m| m.delivery.properties.message_id().as_ref().expect("message id").to_string())
            .collect();
        out.insert(agency.to_string(), ids);
    }
    out
}

/// The publisher sends up to `broker.publish_window` deliveries before their confirms come back.
/// With a backlog to drain (a month decided while no publisher ran), a window of one and a window
/// of 1,024 put the same messages on every recipient's queue, each once and in decision (outbox)
/// order, and every row marked published is a message on the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_window_changes_neither_what_is_delivered_nor_its_order() {
    let mut by_window = Vec::new();
    for window in [1usize, 1024] {
        let hub = TestHub::start_idle(|s| s.broker.publish_window = window).await;
        hub.start_consumers().await;
        hub.send_sample_plan().await;
        let decided = hub.count("SELECT count(*) FROM outbox").await;
        assert!(decided > 50, "the month queues deliveries: {decided}");
        assert_eq!(hub.count("SELECT count(*) FROM outbox_unsent").await, decided, "all of it listed unsent");
        assert_eq!(hub.unsent_list_mismatches().await, 0);
        hub.start_publisher().await;
        tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
        assert_eq!(hub.count("SELECT count(*) FROM outbox_unsent").await, 0, "nothing left listed");
        assert_eq!(hub.unsent_list_mismatches().await, 0);
        let received = received_in_order(&hub).await;
        let order: BTreeMap<String, i64> =
            sqlx::query_as::<_, (uuid::Uuid, i64)>("SELECT message_id, id FROM outbox WHERE published_at IS NOT NULL")
                .fetch_all(hub.pool())
                .await
                .unwrap()
                .into_iter()
                .map(|(m, id)| (m.to_string(), id))
                .collect();
        let mut on_queues = 0;
        for (recipient, ids) in &received {
            let rows: Vec<i64> =
                ids.iter().map(|m| *order.get(m).expect("a queued message is a published row")).collect();
            assert!(
                rows.windows(2).all(|w| w[0] < w[1]),
                "{recipient} (window {window}) received out of order: {rows:?}"
            );
            on_queues += ids.len();
        }
        assert_eq!(on_queues, order.len(), "window {window}: every published row is on a queue once");
        by_window.push(received);
        hub.finish().await;
    }
    assert_eq!(by_window[0], by_window[1]);
}

/// Every projection table (kept from the events by trigger).
const PROJECTIONS: &[&str] = &[
    "custody_events",
    "charges",
    "bail_decisions",
    "cases",
    "hearings",
    "offences_pleas",
    "orders",
    "order_requirements",
    "warrants",
    "supervisions",
    "supervision_requirements",
    "appointments",
    "breaches",
    "order_terminations",
    "pre_sentence_reports",
    "risk_registrations",
    "drug_tests",
    "treatment_episodes",
    "consents",
];

/// Each projection table's rows as sorted JSON text; consents without their ordinal, which is
/// given by the order they were stored (the order of event ids by ordinal is listed instead).
async fn projected(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in PROJECTIONS {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT (to_jsonb(t) - 'ordinal')::text FROM {t} t ORDER BY 1"
        )))
        .fetch_all(&mut **tx)
        .await
        .unwrap();
        out.insert(t.to_string(), rows);
    }
    let consent_order: Vec<String> =
        sqlx::query_scalar("SELECT event_id::text FROM consents ORDER BY ordinal").fetch_all(&mut **tx).await.unwrap();
    out.insert("consents by ordinal".into(), consent_order);
    out
}

/// Re-projects every current record (not corrected since) from scratch, `per_statement` records
/// to an INSERT (0: all in one), in the order they were stored.
async fn reproject(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, per_statement: usize) {
    for t in PROJECTIONS {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {t}"))).execute(&mut **tx).await.unwrap();
    }
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT event_id FROM events WHERE event_id NOT IN (SELECT event_id FROM corrections) ORDER BY seq",
    )
    .fetch_all(&mut **tx)
    .await
    .unwrap();
    let size = if per_statement == 0 { ids.len().max(1) } else { per_statement };
    for chunk in ids.chunks(size) {
        sqlx::query(
            "INSERT INTO reprojections SELECT e.* FROM UNNEST($1::uuid[]) WITH ORDINALITY AS c(id, n)
             JOIN events e ON e.event_id = c.id ORDER BY c.n",
        )
        .bind(chunk)
        .execute(&mut **tx)
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM reprojections").execute(&mut **tx).await.unwrap();
}

/// Projections are made by one statement trigger over all the events a statement stores: a
/// generated quarter projected as it arrived, all in one statement, and one record at a time
/// gives the same rows in every table (a case keeps its first-stored person and earliest
/// hearing; consents keep the order they were stored in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_are_the_same_however_many_records_a_statement_stores() {
    let dir = std::env::temp_dir().join(format!("projections-{}", std::process::id()));
    tracker::tools::generate::generate(60, 3, 9, &dir).unwrap();
    let hub = TestHub::start().await;
    hub.send_plan_from(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(hub.rows_naming_a_missing_event().await, [], "every row naming an event names a stored one");
    assert_eq!(hub.rows_naming_a_missing_person().await, 0, "every row naming a person names a stored one");
    let mut tx = hub.pool().begin().await.unwrap();
    let as_arrived = projected(&mut tx).await;
    let empty: Vec<&String> = as_arrived.iter().filter(|(_, rows)| rows.is_empty()).map(|(t, _)| t).collect();
    assert!(empty.is_empty(), "the quarter projects into every table; empty: {empty:?}");
    for per_statement in [0, 1, 7] {
        reproject(&mut tx, per_statement).await;
        let again = projected(&mut tx).await;
        for (table, rows) in &as_arrived {
            assert!(
                &again[table] == rows,
                "{table} re-projected {per_statement} to a statement: {} rows against {} as arrived",
                again[table].len(),
                rows.len()
            );
        }
    }
    tx.rollback().await.unwrap();
    hub.finish().await;
}

/// Field lists go into the disclosure log and the outbox as array literals, one per row: what
/// PostgreSQL reads back must be the list exactly, whatever its items hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_list_reaches_the_store_exactly_as_it_was() {
    let hub = TestHub::start_idle(|_| {}).await;
    let lists: Vec<Vec<String>> = vec![
        vec![],
        vec!["offence.details".into(), "address".into()],
        ["", "with,comma", "{brace}", "quote\"d", "back\\slash", "NULL", " spaced ", "ünïcode"]
            .map(String::from)
            .into(),
    ];
    for list in lists {
        let stored: Vec<String> = sqlx::query_scalar("SELECT $1::text::text[]")
            .bind(tracker::store::text_array_literal(&list))
            .fetch_one(hub.pool())
            .await
            .unwrap();
        assert_eq!(stored, list);
    }
    hub.finish().await;
}
