//! The court's view of a person: a court user sees its defendants' bench summaries, built only
//! from what that court was sent and its own records; every field the agreements withheld from
//! the court is absent; another court's user is refused and the attempt logged; every view is in
//! the consultation log, whose chain verifies.
use serde_json::Value as Json;
use uuid::Uuid;

use crate::support::{TestHub, http, http_bytes};

/// (viewer, court, person, purpose, outcome) of a consultation.
type Logged = (String, Option<String>, Option<Uuid>, String, String);

async fn person(hub: &TestHub, pnc: &str) -> Uuid {
    sqlx::query_scalar("SELECT subject_id FROM subject_identifiers WHERE scheme = 'PNC' AND value = $1")
        .bind(pnc)
        .fetch_one(hub.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_sees_its_defendant_from_what_it_was_sent_and_never_a_withheld_field() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
    let daniel = person(&hub, "2019/0012345G").await;
    let chloe = person(&hub, "2021/0456789D").await;
    let aisha = person(&hub, "2024/0011223N").await;
    // Every value the log says was withheld from B05LV00 on an update about Daniel that it was
    // sent (event, field, stored value).
    let withheld: Vec<(Uuid, String, Json)> = sqlx::query_as(
        "SELECT l.event_id, f, e.payload -> f FROM disclosure_log l JOIN events e USING (event_id),
                unnest(l.fields_withheld) AS f
         WHERE l.recipient = 'court-b05lv00' AND e.subject_id = $1 AND l.decision IN ('deliver', 'redact')
           AND jsonb_typeof(e.payload -> f) IS DISTINCT FROM 'null'",
    )
    .bind(daniel)
    .fetch_all(hub.pool())
    .await
    .unwrap();
    assert!(!withheld.is_empty(), "the agreements withhold some of Daniel's fields from the court");
    let base = hub.start_http().await.expect("HTTP served");
    let (page, json) = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let page = http("GET", &format!("{base}/court/people/{daniel}?purpose=sentence+review"), Some("lv"), None);
            let json =
                http("GET", &format!("{base}/api/v1/court/people/{daniel}?purpose=case+system"), Some("lv"), None);
            (page, json)
        })
        .await
        .unwrap()
    };
    assert_eq!(page.0, 200, "{}", page.1);
    let html = page.1;
    for part in ["The case before the court", "The record", "Orders and compliance", "Needs and treatment"] {
        assert!(html.contains(part), "{part} in {html}");
    }
    assert!(html.to_lowercase().contains("o&#x27;hara"), "the apostrophe escaped: {html}");
    assert!(html.contains("Charged") && html.contains("(c) history"), "{html}");
    assert!(html.contains("<svg") && html.contains("@page{size:A4"), "a drug-test chart and an A4 print layout");
    assert_eq!(json.0, 200, "{}", json.1);
    let summary: Json = serde_json::from_str(&json.1).unwrap();
    let items: Vec<&Json> =
        summary["parts"].as_object().unwrap().values().flat_map(|p| p.as_array().unwrap()).collect();
    let kinds: Vec<&str> = items.iter().map(|i| i["event_type"].as_str().unwrap()).collect();
    for kind in ["Arrested", "Charged", "HearingResulted", "OrderMade", "SupervisionStarted", "AppointmentOutcome"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // Daniel consented to share: his treatment reaches the court, with the tests as a journal.
    assert!(kinds.contains(&"DrugTestResult") && kinds.contains(&"TreatmentEpisode"), "{kinds:?}");
    assert_eq!(summary["compliance"]["appointments"], 3, "{}", summary["compliance"]);
    assert!(summary["drug_tests"].as_array().unwrap().len() >= 3, "{}", summary["drug_tests"]);
    // Nothing withheld, field by field: absent from the item, and its value nowhere on the page
    // or in the JSON (where the court was not sent that value in another field either).
    let sent: String = items.iter().map(|i| i["details"].to_string()).collect();
    for (event, field, value) in &withheld {
        let item = items.iter().find(|i| i["event_id"] == event.to_string()).expect("the update was sent");
        assert!(item["details"].get(field).is_none(), "{field} of {event} withheld, yet in {item}");
        let text = match value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.len() >= 4 && !sent.contains(&text) {
            assert!(!json.1.contains(&text), "withheld {field} value {text} in the JSON");
            assert!(!html.contains(&tracker::html::esc(&text)), "withheld {field} value {text} in the page");
        }
    }

    let lists = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            (
                http("GET", &format!("{base}/api/v1/court/list?date=2026-11-17"), Some("lv"), None),
                http("GET", &format!("{base}/court/list?date=2026-11-17"), Some("lv"), None),
                http("GET", &format!("{base}/api/v1/court/list?date=2026-11-16"), Some("bd"), None),
                http("GET", &format!("{base}/api/v1/court/list"), Some("lv"), None),
            )
        })
        .await
        .unwrap()
    };
    // The list of a sitting: Daniel was adjourned to 17/11 at B05LV00 and sentenced that day;
    // Aisha, at B13BD00 on 16/11, is on that court's list and not on B05LV00's.
    let (lv_json, lv_page, bd_json, today) = lists;
    assert_eq!(lv_json.0, 200, "{}", lv_json.1);
    let lv: Json = serde_json::from_str(&lv_json.1).unwrap();
    let listed = |list: &Json| -> Vec<String> {
        list["defendants"].as_array().unwrap().iter().map(|d| d["subject_id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed(&lv), [daniel.to_string()], "{lv}");
    let why = lv["defendants"][0]["why"].to_string();
    assert!(why.contains("adjourned to this day") && why.contains("a result for this day"), "{why}");
    assert!(lv_page.1.contains(&format!("/court/people/{daniel}?purpose=hearing+2026-11-17")), "{}", lv_page.1);
    let bd: Json = serde_json::from_str(&bd_json.1).unwrap();
    assert_eq!(listed(&bd), [aisha.to_string()], "{bd}");
    // Without a date: the hub's today (28/11 in tests).
    let today: Json = serde_json::from_str(&today.1).unwrap();
    assert_eq!(today["sitting"], "2026-11-28");

    let console = base.clone();
    let (chloe_page, aisha_by_lv, daniel_by_bd, aisha_by_bd, by_operator) = tokio::task::spawn_blocking(move || {
        (
            http("GET", &format!("{base}/court/people/{chloe}?purpose=trial"), Some("lv"), None),
            http("GET", &format!("{base}/court/people/{aisha}"), Some("lv"), None),
            http("GET", &format!("{base}/court/people/{daniel}?purpose=curious"), Some("bd"), None),
            http("GET", &format!("{base}/api/v1/court/people/{aisha}"), Some("bd"), None),
            http("GET", &format!("{base}/court/people/{daniel}"), Some("op"), None),
        )
    })
    .await
    .unwrap();
    // Chloë refused consent: her treatment is withheld, and the court is told so and why.
    assert_eq!(chloe_page.0, 200);
    assert!(
        chloe_page.1.contains("Treatment details withheld from this court: no consent (3 updates)"),
        "{}",
        chloe_page.1
    );
    assert!(!chloe_page.1.contains("DrugTestResult") && !chloe_page.1.contains("Treatment:"), "{}", chloe_page.1);
    // Another court's defendant: refused, whichever way round.
    assert_eq!(aisha_by_lv.0, 403);
    assert_eq!(daniel_by_bd.0, 403);
    assert!(!daniel_by_bd.1.contains("Hara"));
    assert_eq!(aisha_by_bd.0, 200);
    assert_eq!(by_operator.0, 403, "the court view is for court users only");

    let logged: Vec<Logged> =
        sqlx::query_as("SELECT viewer, court, subject_id, purpose, outcome FROM consultation_log ORDER BY id")
            .fetch_all(hub.pool())
            .await
            .unwrap();
    let entry = |viewer: &str, subject: Uuid, outcome: &str| {
        logged.iter().filter(|l| l.0 == viewer && l.2 == Some(subject) && l.4 == outcome).count()
    };
    assert_eq!(logged.len(), 10, "every view and every refusal: {logged:?}");
    assert_eq!(logged.iter().filter(|l| l.2.is_none() && l.4 == "shown").count(), 4, "the lists: {logged:?}");
    assert_eq!(entry("lv", daniel, "shown"), 2);
    assert!(logged.iter().any(|l| l.0 == "lv" && l.3 == "sentence review"), "{logged:?}");
    assert_eq!(entry("bd", daniel, "refused"), 1);
    assert_eq!(logged.iter().find(|l| l.0 == "bd" && l.2 == Some(daniel)).unwrap().1.as_deref(), Some("court-b13bd00"));
    assert_eq!(entry("lv", aisha, "refused"), 1);
    assert_eq!(
        tracker::consultations::verify(hub.pool()).await.unwrap(),
        tracker::chain::Verified::Intact { entries: 10 }
    );
    // Auditors see the consultations on the console; operators do not.
    let (audit, ops) = tokio::task::spawn_blocking(move || {
        (
            http("GET", &format!("{console}/console"), Some("aud"), None),
            http("GET", &format!("{console}/console"), Some("op"), None),
        )
    })
    .await
    .unwrap();
    assert!(audit.1.contains("id=\"consultations\"") && audit.1.contains("sentence review"), "{}", audit.1);
    assert!(audit.1.contains(&daniel.to_string()) && audit.1.contains("refused"));
    assert!(ops.0 == 200 && !ops.1.contains("id=\"consultations\""));
    // An entry edited afterwards is found.
    sqlx::query("UPDATE consultation_log SET purpose = 'nothing to see' WHERE viewer = 'bd'")
        .execute(hub.pool())
        .await
        .unwrap();
    assert!(matches!(
        tracker::consultations::verify(hub.pool()).await.unwrap(),
        tracker::chain::Verified::Edited { .. }
    ));
    hub.finish().await;
}

/// In headless Chromium, as a legal adviser at B05LV00 would: the list of 17/11, a click on
/// Daniel, his summary — and each prints as one A4 page. With TRACKER_SCREENSHOTS=DIR the pages
/// are also saved there as PNGs (the README's pictures).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_and_a_summary_in_chromium_each_print_on_one_a4_page() {
    use crate::support::browser::{Browser, pdf_pages};
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
    let daniel = person(&hub, "2019/0012345G").await;
    let base = hub.start_http().await.expect("HTTP served");
    let court = base.replace("http://", "http://lv:lv-secret@");
    let shots = std::env::var_os("TRACKER_SCREENSHOTS").map(std::path::PathBuf::from);
    let pages = tokio::task::spawn_blocking(move || {
        let browser = Browser::start();
        browser.resize(1100, 1000);
        browser.go(&format!("{court}/court/list?date=2026-11-17"));
        assert!(browser.text("h1").contains("Court list"), "{}", browser.source());
        let table = browser.text("table");
        assert!(table.to_lowercase().contains("o'hara") && table.contains("adjourned to this day"), "{table}");
        if let Some(dir) = &shots {
            std::fs::write(dir.join("court-list.png"), browser.screenshot()).unwrap();
        }
        let list_pdf = browser.print_pdf();
        browser.click(&format!("a[href^='/court/people/{daniel}']"));
        assert!(browser.text("h1").contains("Bench summary"), "{}", browser.source());
        for part in ["#case", "#record", "#orders", "#needs"] {
            assert!(browser.find(part).is_some(), "{part} on the page");
        }
        assert!(browser.text("#orders").contains("kept 2, missed 1"), "{}", browser.text("#orders"));
        if let Some(dir) = &shots {
            std::fs::write(dir.join("bench-summary.png"), browser.screenshot()).unwrap();
        }
        let summary_pdf = browser.print_pdf();
        (pdf_pages(&list_pdf), pdf_pages(&summary_pdf))
    })
    .await
    .unwrap();
    assert_eq!(pages, (1, 1), "the list and the summary each print as one A4 page");
    // The hub prints the same pages to PDF itself: his summary on one page, and a sitting's
    // bench pack with one page per defendant on its list. (Every sample sitting has one
    // defendant, so the court sends one more: Chloë's and Daniel's cases heard on 27/11 and
    // adjourned to 4/12.)
    let busiest = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let mut cases = String::new();
    for day in ["20261031", "20261103"] {
        let xml =
            std::fs::read_to_string(format!("{}/court-results-B05LV00-{day}.xml", crate::support::SAMPLES)).unwrap();
        let case = &xml[xml.find("  <Case ").unwrap()..xml.find("</Case>").unwrap() + "</Case>".len()];
        let case = with_dates_replaced(case, &["2026-10-31", "2026-11-03"], "2026-11-27");
        cases.push_str(&with_dates_replaced(&case, &["2026-11-23", "2026-11-17"], "2026-12-04"));
        cases.push('\n');
    }
    let sitting = std::env::temp_dir().join(format!("court-results-B05LV00-20261127-{}.xml", Uuid::new_v4().simple()));
    std::fs::write(
        &sitting,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ResultsBatch xmlns=\"urn:libra:results:2\" court=\"B05LV00\" \
             courtName=\"North Liverpool Community Justice Centre\" sittingDate=\"2026-11-27\" batchId=\"B05LV00-20261127-01\">\n\
             {cases}</ResultsBatch>\n"
        ),
    )
    .unwrap();
    hub.send("court-b05lv00", "court-results", &sitting).await;
    let _ = std::fs::remove_file(&sitting);
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
    let (summary_pdf, pack_pdf, listed) = tokio::task::spawn_blocking(move || {
        let purpose = "hearing+2026-11-17";
        let summary =
            http_bytes("GET", &format!("{base}/court/people/{daniel}/pdf?purpose={purpose}"), Some("lv"), None);
        let pack = http_bytes("GET", &format!("{base}/court/list/pack.pdf?date={busiest}"), Some("lv"), None);
        let list = http("GET", &format!("{base}/api/v1/court/list?date={busiest}"), Some("lv"), None);
        let list: serde_json::Value = serde_json::from_str(&list.1).unwrap();
        (summary, pack, list["defendants"].as_array().unwrap().len())
    })
    .await
    .unwrap();
    assert_eq!(summary_pdf.0, 200, "{}", String::from_utf8_lossy(&summary_pdf.1));
    assert!(summary_pdf.1.starts_with(b"%PDF"));
    assert_eq!(pdf_pages(&summary_pdf.1), 1, "the hub's PDF of a summary is one page");
    assert_eq!(pack_pdf.0, 200, "{}", String::from_utf8_lossy(&pack_pdf.1));
    assert_eq!(listed, 2, "the sitting of {busiest} lists Chloë and Daniel");
    assert_eq!(pdf_pages(&pack_pdf.1), listed, "the bench pack is one page per defendant listed");
    // Each view is logged with its purpose: the click (the list gave it), the PDF, the pack.
    let purposes: Vec<(String, String)> =
        sqlx::query_as("SELECT view, purpose FROM consultation_log WHERE subject_id = $1 ORDER BY id")
            .bind(daniel)
            .fetch_all(hub.pool())
            .await
            .unwrap();
    let expected = [("bench summary", "hearing 2026-11-17"), ("bench summary (pdf)", "hearing 2026-11-17")];
    assert_eq!(purposes[..2], expected.map(|(v, p)| (v.to_string(), p.to_string())));
    let packed: Vec<(Option<Uuid>, String)> =
        sqlx::query_as("SELECT subject_id, purpose FROM consultation_log WHERE view = 'bench pack (pdf)' ORDER BY id")
            .fetch_all(hub.pool())
            .await
            .unwrap();
    assert_eq!(packed.len(), listed + 1, "the pack's list and each person in it are logged: {packed:?}");
    assert_eq!(packed[0], (None, format!("sitting of {busiest}: 2 defendants")));
    assert!(packed[1..].iter().all(|p| p.0.is_some() && p.1 == format!("bench pack for the sitting of {busiest}")));
    hub.finish().await;
}

/// `text` with every one of `dates` replaced by `to`.
fn with_dates_replaced(text: &str, dates: &[&str], to: &str) -> String {
    dates.iter().fold(text.to_string(), |t, d| t.replace(d, to))
}
