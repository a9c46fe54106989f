//! A record's life after it is sent (DPA 2018 Part 3): a disclosure recalled as unlawful or
//! mistaken reaches its recipient as one erasure notice naming the delivery, and nobody else
//! hears anything; the recall is logged and stops the court seeing the update.
use crate::sharing::received;
use crate::support::{TestHub, http, post_form};
use tracker::ops::recall::{RecallError, RecallReason, Recalled};

const CHLOE: &str = "2021/0456789D";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recalled_disclosure_sends_its_recipient_one_erasure_notice_and_nothing_else() {
    let hub = TestHub::start().await;
    hub.send_sample_plan().await;
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
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
    assert!(page.1.contains("name=message_id"), "{}", page.1);
    assert_eq!(as_court.0, 403);
    assert_eq!(posted.0, 200, "{}", posted.1);
    assert!(posted.1.contains("erasure notice"), "{}", posted.1);
    assert_eq!(unknown.0, 404, "{}", unknown.1);

    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
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
    tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
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
    assert!(matches!(
        tracker::sharing::log::verify(hub.pool()).await.unwrap(),
        tracker::sharing::log::Verified::Intact { .. }
    ));
    hub.finish().await;
}
