//! Reports over the sample month, checked against figures worked out by hand from
//! samples/README.md; empty periods; court and agency filters; every format; HTTP access.

use std::collections::BTreeMap;

use crate::support::TestHub;
use chrono::NaiveDate;
use tracker::reports::render::{Format, render};
use tracker::reports::{Params, REPORTS, run};

fn month() -> Params {
    Params { from: day("2026-10-01"), to: day("2026-11-30"), court: None, agency: None }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn rows(hub: &TestHub, name: &str, params: Params) -> Vec<Vec<String>> {
    run(hub.pool(), name, params).await.unwrap_or_else(|e| panic!("{name}: {e}")).rows
}

fn table(list: &[&[&str]]) -> Vec<Vec<String>> {
    list.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_month_gives_the_figures_worked_out_by_hand() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;

    // 1: each charge was made the day of the offence.
    assert_eq!(
        rows(&hub, "offence-to-charge", month()).await,
        table(&[&["05", "2", "0", "0.0", "0"], &["13", "1", "0", "0.0", "0"]])
    );
    // 2: Daniel charged 28/10, first hearing 03/11 (6 days); Chloë 30/10 → 31/10 (1); Aisha 01/11 → 16/11 (15).
    assert_eq!(
        rows(&hub, "charge-to-first-hearing", month()).await,
        table(&[&["B05LV00", "2", "3.5", "3.5"], &["B13BD00", "1", "15", "15.0"]])
    );
    // 7: Chloë's trial cracked.
    assert_eq!(rows(&hub, "trial-effectiveness", month()).await, table(&[&["B05LV00", "CRACKED", "1", "100.0"]]));
    // 8: B05LV00 first hearings — Daniel G, Chloë NG, Marek (breach) none; B13BD00 Aisha G.
    assert_eq!(
        rows(&hub, "guilty-plea-first-hearing", month()).await,
        table(&[&["B05LV00", "3", "1", "33.3"], &["B13BD00", "1", "1", "100.0"]])
    );
    // 10: Marek's warrant issued 20/11 (breach, no bail), executed 22/11.
    assert_eq!(
        rows(&hub, "warrants", month()).await,
        table(&[&["issued", "BREACH NO_BAIL", "1", ""], &["executed", "all", "1", "2.0"]])
    );
    // 11: police CB Daniel, RIC Chloë and Marek, UB Aisha; court UB Chloë 31/10, CB Daniel 03/11.
    assert_eq!(
        rows(&hub, "remand-outcomes", month()).await,
        table(&[
            &["court", "CB", "1"],
            &["court", "UB", "1"],
            &["police", "CB", "1"],
            &["police", "RIC", "2"],
            &["police", "UB", "1"]
        ])
    );
    // 13: Daniel CO and Chloë fine at B05LV00; Aisha conditional discharge at B13BD00.
    assert_eq!(
        rows(&hub, "sentencing-mix", month()).await,
        table(&[&["B05LV00", "community order", "1"], &["B05LV00", "fine", "1"], &["B13BD00", "discharge", "1"]])
    );
    assert_eq!(rows(&hub, "orders-by-requirement", month()).await, table(&[&["DRR", "1"], &["UPW", "1"]]));
    // 17: Daniel attended and complied 19/11 and 22/11, missed 24/11.
    assert_eq!(
        rows(&hub, "appointment-compliance", month()).await,
        table(&[&["2600917", "3", "2", "66.7"], &["all orders", "3", "2", "66.7"]])
    );
    // 22: 80 hours ordered on 17/11, 6 worked on 22/11.
    assert_eq!(
        rows(&hub, "unpaid-work", month()).await,
        table(&[&["B05LV00 2026-11-17", "80", "6"], &["all orders", "80", "6"]])
    );
    // 24: two tests at 05CL, one opiates positive (Daniel), one cocaine positive (Chloë); the bad
    // file's suite 05CL adds no test.
    assert_eq!(rows(&hub, "drug-test-on-arrest", month()).await, table(&[&["05CL", "2", "1", "50.0", "1", "50.0"]]));
    assert_eq!(rows(&hub, "risk-registrations", month()).await, table(&[&["RHRH", "1", "0"]]));
    assert!(rows(&hub, "order-terminations", month()).await.is_empty(), "no order ended this month");
    // 38: Chloë's three withholdings for no consent.
    let withheld = rows(&hub, "withheld-updates", month()).await;
    assert!(
        withheld.contains(&vec!["court-b05lv00".into(), "no_consent".into(), "A9".into(), "3".into()]),
        "{withheld:?}"
    );
    // 35: what each recipient received (the clock is 28/11, so the log is dated then).
    let disclosed: BTreeMap<String, u32> =
        rows(&hub, "disclosures", month()).await.into_iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r[0].clone()).or_default() += r[4].parse::<u32>().unwrap();
            m
        });
    assert_eq!(disclosed["court-b05lv00"], 26);
    assert_eq!(disclosed["treatment"], 6);
    // 40/41: throughput and dead letters.
    let throughput = rows(&hub, "connector-throughput", month()).await;
    assert!(
        throughput.contains(&vec!["police-custody".into(), "all".into(), "5".into(), "5".into(), "1".into()]),
        "{throughput:?}"
    );
    let dead = rows(&hub, "dead-letters", month()).await;
    assert_eq!(dead.len(), 5);

    // 3: Daniel first heard 03/11, sentenced 17/11 (14 days); Chloë 31/10 → 23/11 (23); Aisha same day.
    assert_eq!(
        rows(&hub, "first-hearing-to-sentence", month()).await,
        table(&[&["B05LV00", "2", "18.5", "18.5"], &["B13BD00", "1", "0", "0.0"]])
    );
    // 4: Daniel offence 28/10 convicted 03/11 (6), Chloë 30/10 → 23/11 (24), Aisha 01/11 → 16/11 (15).
    assert_eq!(
        rows(&hub, "offence-to-conviction", month()).await,
        table(&[&["B05LV00", "2", "15", "15.0"], &["B13BD00", "1", "15", "15.0"]])
    );
    assert_eq!(
        rows(&hub, "hearings-per-case", month()).await,
        table(&[
            &["B05LV00", "non-trial", "1", "2.00"],
            &["B05LV00", "trial", "1", "2.00"],
            &["B13BD00", "non-trial", "1", "1.00"]
        ])
    );
    // 6: Daniel adjourned for a PSR 03/11 → 17/11; Chloë for trial 31/10 → 23/11.
    assert_eq!(
        rows(&hub, "adjournments", month()).await,
        table(&[&["PSR", "1", "0.50", "14.0"], &["TRIAL", "1", "0.50", "23.0"]])
    );
    assert_eq!(
        rows(&hub, "completed-at-first-hearing", month()).await,
        table(&[&["B05LV00", "3", "0", "0.0"], &["B13BD00", "1", "1", "100.0"]])
    );
    // 12: requested 03/11, completed 14/11, before the sentencing hearing of 17/11.
    assert_eq!(rows(&hub, "psr-turnaround", month()).await, table(&[&["B05LV00", "1", "1", "11.0", "1"]]));
    // 14: Marek's breach case (first heard 20/11, warrant) is open on 30/11.
    assert_eq!(rows(&hub, "open-caseload", month()).await, table(&[&["B05LV00", "0-28", "1"]]));
    assert_eq!(rows(&hub, "order-commencement", month()).await, table(&[&["B05LV00", "CO", "1", "1", "1.0"]]));
    assert_eq!(rows(&hub, "breaches", month()).await, table(&[&["SSO", "RAR", "1", "1.00"]]));
    // 19: no enforceable failure of Marek's is recorded; breach 12/11, breach hearing 20/11.
    assert_eq!(
        rows(&hub, "breach-process-time", month()).await,
        table(&[&["B05LV00", "2026-11-12", "not recorded", "8"]])
    );
    // 20: Daniel's DRR review is set for 15/12: none in the month, one in December.
    assert!(rows(&hub, "drr-reviews", month()).await.is_empty());
    let december = Params { from: day("2026-12-01"), to: day("2026-12-31"), court: None, agency: None };
    assert_eq!(rows(&hub, "drr-reviews", december).await, table(&[&["scheduled", "-", "1"]]));
    // 25: Daniel tested 28/10, referred 18/11 (21 days); Chloë 30/10 → 01/11 (2).
    assert_eq!(rows(&hub, "referral-after-positive-test", month()).await, table(&[&["2", "2", "11.5", "11.5"]]));
    assert_eq!(rows(&hub, "referral-to-treatment-start", month()).await, table(&[&["2", "1", "2", "2.0"]]));
    // 27: under his DRR (17/11) Daniel tested positive for opiates on 20/11 (week 0), negative 27/11 (week 1).
    let trend = rows(&hub, "drug-test-trend", month()).await;
    assert_eq!(
        trend.iter().map(|r| r[1..].to_vec()).collect::<Vec<_>>(),
        table(&[&["0", "1", "1", "100.0"], &["1", "1", "0", "0.0"]])
    );
    assert_eq!(rows(&hub, "treatment-retention", month()).await, table(&[&["1", "0", "0", "0"]]));
    assert_eq!(rows(&hub, "reoffending-12-months", month()).await, table(&[&["3", "0", "0.0", "0"]]));
    assert_eq!(rows(&hub, "reoffending-by-disposal", month()).await.len(), 5);
    // 34: Chloë remanded 30/10, bailed by the court 31/10 (1 day); Marek remanded 22/11 to the period end (9).
    assert_eq!(rows(&hub, "custody-outcomes", month()).await, table(&[&["remanded in custody", "2", "5.0"]]));
    // 36: Daniel and Chloë have health data; only Daniel consents.
    assert_eq!(
        rows(&hub, "consent-coverage", month()).await,
        table(&[&["CRT", "2", "1", "50.0"], &["PRB", "2", "1", "50.0"]])
    );
    assert_eq!(
        rows(&hub, "consent-changes", month()).await,
        table(&[
            &["granted", "1"],
            &["refused", "1"],
            &["withdrawn", "0"],
            &["expired", "0"],
            &["expiring in the next 30 days", "0"]
        ])
    );
    let latency = rows(&hub, "delivery-latency", month()).await;
    assert!(
        latency.contains(&vec!["matched automatically".into(), "45".into(), "100.0%".into(), "".into(), "".into()]),
        "{latency:?}"
    );

    // A court filter: Bradford's figures only; a person at two courts (Marek: B05LP00 order,
    // B05LV00 warrant) counts at the court that dealt with each thing.
    let bradford = Params { court: Some("B13BD00".into()), ..month() };
    assert_eq!(rows(&hub, "sentencing-mix", bradford.clone()).await, table(&[&["B13BD00", "discharge", "1"]]));
    assert_eq!(rows(&hub, "charge-to-first-hearing", bradford).await, table(&[&["B13BD00", "1", "15", "15.0"]]));
    let lv = Params { court: Some("B05LV00".into()), ..month() };
    assert_eq!(rows(&hub, "warrants", lv).await[0][2], "1");
    let west_yorkshire = Params { agency: Some("police-13".into()), ..month() };
    assert_eq!(rows(&hub, "offence-to-charge", west_yorkshire).await, table(&[&["13", "1", "0", "0.0", "0"]]));

    // Empty periods: every report runs and says so.
    let empty = Params { from: day("2025-01-01"), to: day("2025-01-31"), court: None, agency: None };
    for def in REPORTS {
        let report = run(hub.pool(), def.name, empty.clone()).await.unwrap();
        assert!(report.rows.is_empty(), "{} has rows in an empty period", def.name);
        assert!(render(&report, Format::Table).contains("(nothing in this period)"));
    }
    let err = run(
        hub.pool(),
        "sentencing-mix",
        Params { from: day("2026-12-01"), to: day("2026-11-01"), court: None, agency: None },
    )
    .await;
    assert!(err.unwrap_err().to_string().contains("ends"));
    hub.finish().await;
}

/// Report 42's percentiles come from the totals the publisher keeps as it marks rows confirmed:
/// each is the least latency that share of a recipient's deliveries did not exceed, to the
/// millisecond below 1 s and to three significant figures above. A row confirmed twice (published
/// again after a crash before its mark) keeps its first time and counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_latency_counts_each_confirmed_delivery_once_at_its_latency() {
    let hub = TestHub::start_without_publisher().await;
    hub.send_sample_plan().await;
    let (recipient, decided_at): (String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT recipient, min(decided_at) FROM outbox GROUP BY recipient ORDER BY count(*) DESC, recipient LIMIT 1",
    )
    .fetch_one(hub.pool())
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE recipient = $1 ORDER BY id")
        .bind(&recipient)
        .fetch_all(hub.pool())
        .await
        .unwrap();
    assert!(ids.len() >= 8, "{recipient} has {} deliveries", ids.len());

    // Alternately under a second (exact to the ms) and above it (three significant figures).
    let latency_ms = |k: usize| if k.is_multiple_of(2) { 3 * k as i64 + 5 } else { 1_234 * k as i64 + 7 };
    for (k, id) in ids.iter().enumerate() {
        let at = decided_at + chrono::Duration::milliseconds(latency_ms(k));
        tracker::store::outbox::mark_published(hub.pool(), &[*id], &[at]).await.unwrap();
    }
    // Confirmed again, an hour later: nothing changes.
    tracker::store::outbox::mark_published(hub.pool(), &ids, &vec![decided_at + chrono::Duration::hours(1); ids.len()])
        .await
        .unwrap();

    let bucket = |ms: i64| {
        let step = if ms < 1_000 { 1 } else { 10_i64.pow(ms.ilog10() - 2) };
        ms - ms % step
    };
    let mut buckets: Vec<i64> = (0..ids.len()).map(|k| bucket(latency_ms(k))).collect();
    buckets.sort_unstable();
    let percentile = |pct: usize| {
        let rank = (pct * buckets.len()).div_ceil(100);
        let ms = buckets[rank - 1];
        format!("{}.{:03}", ms / 1_000, ms % 1_000)
    };
    let expected = vec![recipient.clone(), ids.len().to_string(), percentile(50), percentile(95), percentile(99)];
    let latency = rows(&hub, "delivery-latency", month()).await;
    assert!(latency.contains(&expected), "expected {expected:?} in {latency:?}");
    let latest: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT max(published_at) FROM outbox WHERE recipient = $1")
            .bind(&recipient)
            .fetch_one(hub.pool())
            .await
            .unwrap();
    let slowest = (0..ids.len()).map(latency_ms).max().unwrap();
    assert_eq!(latest, decided_at + chrono::Duration::milliseconds(slowest), "the first confirm's time is kept");

    // The share matched automatically counts every stored event, from its own running total.
    let (kept, counted): (i64, i64) =
        sqlx::query_as("SELECT (SELECT sum(events) FROM events_recorded_daily)::int8, (SELECT count(*) FROM events)")
            .fetch_one(hub.pool())
            .await
            .unwrap();
    assert_eq!(kept, counted);
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_states_the_definition_and_html_has_a_chart() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let report = run(hub.pool(), "sentencing-mix", month()).await.unwrap();
    let table_text = render(&report, Format::Table);
    assert!(table_text.starts_with("Report 13 sentencing-mix — Sentencing mix\nDisposals by type"), "{table_text}");
    let csv = render(&report, Format::Csv);
    assert!(csv.starts_with("court,disposal,orders\r\nB05LV00,community order,1\r\n"), "the header first: {csv}");
    let json: serde_json::Value = serde_json::from_str(&render(&report, Format::Json)).unwrap();
    assert_eq!(json["columns"], serde_json::json!(["court", "disposal", "orders"]));
    assert_eq!(json["definition"], report.definition);
    let html = render(&report, Format::Html);
    assert!(html.contains("<svg") && html.contains("<rect") && html.contains("Sentencing mix"), "{html}");
    assert!(html.contains("<td>community order</td>"));

    let base = hub.start_http().await.expect("HTTP served");
    tokio::task::spawn_blocking(move || {
        use crate::support::http;
        let url = format!("{base}/reports/sentencing-mix?from=2026-10-01&to=2026-11-30&court=B13BD00&format=csv");
        let (status, body) = http("GET", &url, Some("ana"), None);
        assert_eq!(status, 200);
        assert_eq!(body, "court,disposal,orders\r\nB13BD00,discharge,1\r\n");
        assert_eq!(http("GET", &url, None, None).0, 401);
        assert_eq!(http("GET", &url, Some("sub"), None).0, 403);
        let (status, list) = http("GET", &format!("{base}/reports"), Some("aud"), None);
        assert_eq!(status, 200);
        assert!(list.contains("\"sentencing-mix\""));
        assert_eq!(
            http("GET", &format!("{base}/reports/no-such?from=2026-10-01&to=2026-11-30"), Some("ana"), None).0,
            404
        );
        // A path the hub does not serve: a JSON 404 naming it, with or without credentials.
        for user in [None, Some("ana")] {
            let (status, body) = http("GET", &format!("{base}/no/such/path"), user, None);
            assert_eq!(status, 404);
            let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(body["code"], "not_found");
            assert_eq!(body["details"]["path"], "/no/such/path");
        }
        let (status, html) = http(
            "GET",
            &format!("{base}/reports/drug-test-on-arrest?from=2026-10-01&to=2026-11-30"),
            Some("ana"),
            None,
        );
        assert_eq!(status, 200);
        assert!(html.contains("<svg"));
    })
    .await
    .unwrap();
    hub.finish().await;
}

/// Every report's CSV, served by the hub, reads back with Python's `csv.DictReader` (as an
/// analyst's script would) into exactly the rows of its JSON; the file name says which report and
/// period it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_csv_report_reads_back_with_python_dictreader_as_its_json() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let base = hub.start_http().await.expect("HTTP served");
    tokio::task::spawn_blocking(move || {
        let dir = std::env::temp_dir().join(format!("csv-dictreader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut compared = 0;
        for r in tracker::reports::REPORTS {
            let url = format!("{base}/reports/{}?from=2026-10-01&to=2026-11-30", r.name);
            let (status, csv) = crate::support::http("GET", &format!("{url}&format=csv"), Some("ana"), None);
            assert_eq!(status, 200, "{}", r.name);
            let (_, json) = crate::support::http("GET", &format!("{url}&format=json"), Some("ana"), None);
            let json: serde_json::Value = serde_json::from_str(&json).unwrap();
            let columns: Vec<&str> = json["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            let expected: Vec<serde_json::Value> = json["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    let cells = row.as_array().unwrap();
                    serde_json::Value::Object(columns.iter().map(|c| c.to_string()).zip(cells.iter().cloned()).collect())
                })
                .collect();
            // The chart plots the column the report declares, labelled by columns it has.
            if let tracker::reports::catalogue::Chart::Bars { value, labels } = r.chart {
                for c in std::iter::once(&value).chain(labels) {
                    assert!(columns.contains(c), "{}: its chart names {c}, not among {columns:?}", r.name);
                }
            }
            let file = dir.join(format!("{}.csv", r.name));
            std::fs::write(&file, &csv).unwrap();
            let read = std::process::Command::new("python3")
                .args([
                    "-c",
                    "import csv, json, sys\nwith open(sys.argv[1], newline='') as f:\n    r = csv.DictReader(f)\n    print(json.dumps({'header': r.fieldnames, 'rows': list(r)}))",
                ])
                .arg(&file)
                .output()
                .expect("python3 runs");
            assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
            let read: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
            assert_eq!(read["header"], serde_json::json!(columns), "{}: the header is the first row", r.name);
            assert_eq!(read["rows"], serde_json::Value::Array(expected), "{}", r.name);
            compared += 1;
        }
        assert_eq!(compared, 42);
        // Offence to charge pictures the median days per force, not the force codes.
        let (_, html) = crate::support::http(
            "GET",
            &format!("{base}/reports/offence-to-charge?from=2026-10-01&to=2026-11-30"),
            Some("ana"),
            None,
        );
        assert!(html.contains("aria-label=\"median days by force\""), "{html}");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_access_export_holds_everything_and_every_disclosure_and_is_recorded() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let out = std::env::temp_dir().join(format!("sar-{}.json", uuid::Uuid::new_v4().simple()));
    let key = tracker::person::parse_key("PNC:2021/0456789D").unwrap();
    let doc =
        tracker::export::export(hub.pool(), &hub.hub.settings, &key, &out, "dpo", hub.hub.clock.now()).await.unwrap();
    let looked: Vec<(String, Option<uuid::Uuid>, String)> =
        sqlx::query_as("SELECT viewer, subject_id, view FROM consultation_log").fetch_all(hub.pool()).await.unwrap();
    let subject: uuid::Uuid = doc["person"]["subject_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(looked, [("dpo".to_string(), Some(subject), "subject access export".to_string())]);
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written, doc);
    // Chloë: police 4, court 3 (two hearings and the fine), treatment 4.
    assert_eq!(doc["person"]["timeline"].as_array().unwrap().len(), 11);
    let disclosures = doc["disclosures"].as_array().unwrap();
    let logged = hub.count("SELECT count(*) FROM disclosure_log l JOIN subject_identifiers i USING (subject_id) WHERE i.value = '2021/0456789D'").await;
    assert_eq!(disclosures.len() as i64, logged, "every disclosure of her data");
    assert_eq!(disclosures.iter().filter(|d| d["reason"] == "no_consent").count(), 3);
    let html = std::fs::read_to_string(out.with_extension("html")).unwrap();
    assert!(html.contains("Who was told what") && html.contains("TRK0004502"));
    // Readable by the person it is about: their name and date of birth first, identifiers and
    // agencies in words, no raw JSON, every decision in words.
    let name = doc["person"]["details"][0]["name"].as_str().unwrap();
    let born =
        chrono::NaiveDate::parse_from_str(doc["person"]["details"][0]["date_of_birth"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap()
            .format("%-d %B %Y")
            .to_string();
    let top = &html[..html.find("The numbers that identify you").unwrap()];
    assert!(top.contains(&tracker::html::esc(name)) && top.contains(&format!("born {born}")), "{top}");
    assert!(html.contains("Police National Computer number"), "identifiers explained");
    assert!(!html.contains("{&quot;") && !html.contains("{\"") && !html.contains("\":"), "no raw JSON");
    assert!(!html.contains(">police-05<") && !html.contains(">withhold<"), "agencies by name, decisions in words");
    assert!(html.contains("not shared") && html.contains("no consent"), "withheld for want of consent, in words");
    assert_eq!(html.matches("class=\"record\"").count(), 11, "every record");
    let params = Params { from: day("2026-11-01"), to: day("2026-11-30"), court: None, agency: None };
    let sar = rows(&hub, "subject-access", params).await;
    assert_eq!(sar.len(), 1);
    assert_eq!((sar[0][0].as_str(), sar[0][1].as_str()), ("dpo", "1"));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(out.with_extension("html"));
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_lists_the_records_behind_the_figures_for_auditors_only() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    let now = hub.hub.clock.now();
    let looker = tracker::consultations::Looker { viewer: "aud", role: "auditor", purpose: "", at: now };
    let orders = tracker::reports::detail(hub.pool(), "sentencing-mix", month(), &looker).await.unwrap();
    assert_eq!(orders.columns, ["event", "event_type", "agency", "message_id", "occurred"]);
    assert_eq!(orders.rows.len(), 3);
    assert!(orders.rows.iter().all(|r| r[1] == "OrderMade"));
    let bradford = tracker::reports::detail(
        hub.pool(),
        "sentencing-mix",
        Params { court: Some("B13BD00".into()), ..month() },
        &looker,
    )
    .await
    .unwrap();
    assert_eq!(bradford.rows.len(), 1);
    assert_eq!(bradford.rows[0][2], "court-b13bd00");
    // Every report has its detail, and none shows a record's contents.
    for def in REPORTS {
        let d = tracker::reports::detail(hub.pool(), def.name, month(), &looker)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert!(!d.columns.iter().any(|c| c == "payload"), "{}", def.name);
    }
    let withheld = tracker::reports::detail(
        hub.pool(),
        "withheld-updates",
        Params { agency: Some("court-b05lv00".into()), ..month() },
        &looker,
    )
    .await
    .unwrap();
    assert_eq!(withheld.rows.iter().filter(|r| r[4] == "no_consent").count(), 3);

    let base = hub.start_http().await.expect("HTTP served");
    tokio::task::spawn_blocking(move || {
        use crate::support::http;
        let url = format!("{base}/reports/sentencing-mix?from=2026-10-01&to=2026-11-30&detail=true&format=csv");
        assert_eq!(http("GET", &url, Some("ana"), None).0, 403, "analysts see figures, not the records behind them");
        assert_eq!(http("GET", &url, Some("op"), None).0, 403);
        let (status, body) = http("GET", &url, Some("aud"), None);
        assert_eq!(status, 200);
        assert_eq!(body.lines().filter(|l| l.contains(",OrderMade,")).count(), 3, "{body}");
    })
    .await
    .unwrap();
    // Each look at the records is in the consultation log (DPA 2018 s.62), the refused ones not
    // (they saw nothing), and the chain verifies.
    let looks: Vec<(String, String, String)> =
        sqlx::query_as("SELECT viewer, role, purpose FROM consultation_log WHERE view = 'report detail' ORDER BY id")
            .fetch_all(hub.pool())
            .await
            .unwrap();
    assert_eq!(looks.len(), REPORTS.len() + 4, "{looks:?}");
    assert_eq!(
        looks.last().unwrap(),
        &("aud".into(), "auditor".into(), "report sentencing-mix from 2026-10-01 to 2026-11-30".into())
    );
    assert!(matches!(
        tracker::consultations::verify(hub.pool()).await.unwrap(),
        tracker::chain::Verified::Intact { .. }
    ));
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_feeds_are_deterministic_and_go_in_through_the_real_connectors() {
    let out = |n: u32| std::env::temp_dir().join(format!("generated-{}-{n}", uuid::Uuid::new_v4().simple()));
    let (a, b) = (out(1), out(2));
    let files = tracker::tools::generate::generate(25, 4, 11, &a).unwrap();
    assert_eq!(tracker::tools::generate::generate(25, 4, 11, &b).unwrap(), files);
    for entry in std::fs::read_dir(&a).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name:?} differs for the same seed"
        );
    }
    let hub = TestHub::start().await;
    hub.send_plan_from(&a).await;
    assert_eq!(hub.count("SELECT count(*) FROM inbox").await as usize, files, "every payload processed");
    // The only refusals are the rows generated with impossible dates.
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT code FROM refusals").fetch_all(hub.pool()).await.unwrap();
    assert!(codes.iter().all(|c| c == "bad_value"), "{codes:?}");
    assert!(hub.count("SELECT count(*) FROM refusals").await >= 1, "some bad rows are generated");
    assert_eq!(hub.count("SELECT count(*) FROM identity_conflicts").await, 0);
    // Life events the reports measure are all there.
    for table in [
        "charges",
        "hearings",
        "orders",
        "order_requirements",
        "supervisions",
        "appointments",
        "treatment_episodes",
        "drug_tests",
        "consents",
        "pre_sentence_reports",
    ] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(hub.pool())
            .await
            .unwrap();
        assert!(n > 0, "no {table} generated");
    }
    let year = Params { from: day("2026-01-01"), to: day("2026-12-31"), court: None, agency: None };
    let mut with_rows = 0;
    for def in REPORTS {
        if !run(hub.pool(), def.name, year.clone()).await.unwrap().rows.is_empty() {
            with_rows += 1;
        }
    }
    assert!(with_rows >= 30, "{with_rows} of 42 reports have figures on generated traffic");
    let reviews = run(hub.pool(), "review-sanctions-incentives", year.clone()).await.unwrap().rows;
    assert!(!reviews.is_empty(), "DRR review hearings are generated");
    // Reports 35 and 38 read the log's daily rollup: it must count exactly what the log holds.
    let differing = hub
        .count(
            "SELECT count(*) FROM (
               (SELECT (logged_at AT TIME ZONE 'Europe/London')::date, recipient, stage, decision, coalesce(reason, ''),
                       coalesce(agreement, ''), coalesce(purpose, ''), data_class, count(*)
                FROM disclosure_log GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                EXCEPT SELECT day, recipient, stage, decision, reason, agreement, purpose, data_class, entries FROM disclosure_daily)
               UNION ALL
               (SELECT day, recipient, stage, decision, reason, agreement, purpose, data_class, entries FROM disclosure_daily
                EXCEPT SELECT (logged_at AT TIME ZONE 'Europe/London')::date, recipient, stage, decision, coalesce(reason, ''),
                       coalesce(agreement, ''), coalesce(purpose, ''), data_class, count(*)
                FROM disclosure_log GROUP BY 1, 2, 3, 4, 5, 6, 7, 8)) AS d",
        )
        .await;
    assert_eq!(differing, 0, "the disclosure rollup matches the log");
    let logged = hub.count("SELECT count(*) FROM disclosure_log").await;
    assert!(logged > 0);
    assert_eq!(hub.count("SELECT sum(entries)::bigint FROM disclosure_daily").await, logged);
    hub.finish().await;
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}
