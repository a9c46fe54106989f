//! The same records in any arrival order give the same disclosures. The sample month is applied
//! to fresh stores with each agency's messages kept in their own order but the agencies
//! interleaved at random (seeded; `TRACKER_INTERLEAVINGS`, default 100, sets how many). Every
//! interleaving must end with the same deliveries (update, recipient, person, fields), the same
//! withheld decisions and a chain that verifies. Messages go through the hub's own pipeline
//! (`Hub::process`: archive, read, store and decide in one transaction) on the real database;
//! the broker only changes when they arrive, which is what the seeds vary. Each interleaving also
//! restarts the hub (a new `Hub` on the same store) before a few random messages, and after half
//! of those restarts delivers the message before it again, as after a crash between commit and ack.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tracker::hub::Hub;
use tracker::runtime::message::Inbound;

use crate::support::{SAMPLES, test_settings};

/// (event id, recipient, person, fields disclosed) delivered and not retracted, and (event id,
/// recipient, reason) withheld (a retraction counts as withheld for its reason).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    delivered: BTreeSet<(String, String, String, Vec<String>)>,
    withheld: BTreeSet<(String, String, String)>,
    /// Each person's records (event ids), and the records held as conflicts.
    people: BTreeSet<Vec<String>>,
    held: BTreeSet<String>,
}

/// Seeded draws: the interleaving of a seed is the same on every machine.
struct Seeded(fastrand::Rng);

impl Seeded {
    fn new(seed: u64) -> Seeded {
        Seeded(fastrand::Rng::with_seed(seed))
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n.max(1))
    }
}

/// Each agency's files in plan order, the agencies merged at random. Half the seeds also hold one
/// agency's queue back until a random share of the others has drained (as after an outage, when
/// queues drain at different speeds), so facts arrive long after the updates they bear on.
fn interleave(plan: &[tracker::tools::demo::PlannedSend], seed: u64) -> Vec<&tracker::tools::demo::PlannedSend> {
    let mut queues: BTreeMap<&str, std::collections::VecDeque<&tracker::tools::demo::PlannedSend>> = BTreeMap::new();
    for p in plan {
        queues.entry(p.agency.as_str()).or_default().push_back(p);
    }
    let mut rng = Seeded::new(seed);
    let agencies: Vec<&str> = queues.keys().copied().collect();
    let held = (rng.below(2) == 0).then(|| agencies[rng.below(agencies.len())]);
    let release_at = rng.below(plan.len() + 1);
    let mut out = Vec::with_capacity(plan.len());
    while queues.values().any(|q| !q.is_empty()) {
        let mut ready: Vec<&str> = queues.iter().filter(|(_, q)| !q.is_empty()).map(|(a, _)| *a).collect();
        if out.len() < release_at && ready.len() > 1 {
            ready.retain(|a| Some(*a) != held);
        }
        let agency = ready[rng.below(ready.len())];
        if let Some(p) = queues.get_mut(agency).and_then(|q| q.pop_front()) {
            out.push(p);
        }
    }
    out
}

fn inbound(dir: &Path, p: &tracker::tools::demo::PlannedSend) -> Inbound {
    Inbound {
        queue_agency: p.agency.as_str().into(),
        routing_key: format!("{}.{}", p.agency, p.connector),
        message_id: Some(p.file.clone()),
        user_id: None,
        traceparent: None,
        body: std::fs::read(dir.join(&p.file)).unwrap(),
    }
}

/// Applies `order` as the hub's consumers do, in batches (group commit): in plan order (the
/// reference) one message at a time; in an interleaving (`restarts` holds its seed) in batches of
/// random size, 1 to 12, and the hub is built again (a new process on the same store: settings,
/// connectors, pool, sharing state) before random batches; half the time the message before the
/// restart is delivered again, as the broker does when a hub dies after its commit and before its
/// ack. Returns the hub now running and how many restarts and redeliveries there were.
async fn apply(
    mut hub: Hub,
    dir: &Path,
    order: &[&tracker::tools::demo::PlannedSend],
    restarts: Option<u64>,
) -> (Hub, usize, usize) {
    let (mut restarted, mut redelivered) = (0, 0);
    let mut rng = Seeded::new(restarts.unwrap_or(1) ^ 0xbf58_476d_1ce4_e5b9);
    let every = (order.len() / 4).max(1);
    let mut i = 0;
    while i < order.len() {
        if restarts.is_some() && i > 0 && rng.below(every) == 0 {
            let settings = hub.settings.clone();
            hub.pool.close().await;
            drop(hub);
            hub = tracker::hub::Hub::build(settings).await.unwrap();
            restarted += 1;
            if rng.below(2) == 0 {
                redelivered += 1;
                let applied = hub.process(&inbound(dir, order[i - 1]), 1).await.unwrap();
                assert!(
                    matches!(applied, tracker::runtime::apply::Applied::Duplicate { .. }),
                    "a redelivered message is recognised: {}",
                    order[i - 1].file
                );
            }
        }
        let size = if restarts.is_some() { 1 + rng.below(12) } else { 1 };
        let batch: Vec<Inbound> = order[i..(i + size).min(order.len())].iter().map(|p| inbound(dir, p)).collect();
        let msgs: Vec<(&Inbound, u32)> = batch.iter().map(|m| (m, 0)).collect();
        for outcome in hub.process_batch(&msgs).await.unwrap() {
            outcome.unwrap();
        }
        i += batch.len();
    }
    (hub, restarted, redelivered)
}

/// What the store says was disclosed (and not retracted since) and withheld; a person is named by
/// their sorted identifiers (subject ids are made afresh in every store).
async fn outcome(pool: &sqlx::PgPool) -> Outcome {
    let person = "(SELECT string_agg(si.scheme || ':' || si.value, ' ' ORDER BY si.scheme, si.value)
                   FROM subject_identifiers si WHERE si.subject_id = s.subject_id)";
    let delivered: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.event_id::text, o.recipient, coalesce({person}, ''), l.fields_disclosed
         FROM (SELECT DISTINCT ON (event_id, recipient) * FROM disclosure_log
               WHERE stage IN ('decided', 'redecided', 'retracted')
               ORDER BY event_id, recipient, id DESC) l
         JOIN outbox o ON o.event_id = l.event_id AND o.recipient = l.recipient AND o.kind = 'delivery'
              AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.refers_to = o.message_id)
         LEFT JOIN subjects s ON s.subject_id = o.subject_id
         WHERE l.decision <> 'withhold'"
    )))
    .fetch_all(pool)
    .await
    .unwrap();
    let withheld: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT event_id::text, recipient, coalesce(reason, '') FROM
           (SELECT DISTINCT ON (event_id, recipient) * FROM disclosure_log
            WHERE stage IN ('decided', 'redecided', 'retracted')
            ORDER BY event_id, recipient, id DESC) l
         WHERE decision = 'withhold'
           AND NOT EXISTS (SELECT 1 FROM identity_conflicts c WHERE c.event_id = l.event_id AND c.status = 'open')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let people: Vec<Vec<String>> = sqlx::query_scalar(
        "SELECT array_agg(event_id::text ORDER BY event_id) FROM events WHERE subject_id IS NOT NULL GROUP BY subject_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let held: Vec<String> = sqlx::query_scalar("SELECT event_id::text FROM identity_conflicts WHERE status = 'open'")
        .fetch_all(pool)
        .await
        .unwrap();
    Outcome {
        people: people.into_iter().collect(),
        held: held.into_iter().collect(),
        delivered: delivered
            .into_iter()
            .map(|(e, r, p, mut f)| {
                f.sort();
                (e, r, p, f)
            })
            .collect(),
        withheld: withheld.into_iter().collect(),
    }
}

fn only<T: Ord + Clone>(x: &BTreeSet<T>, y: &BTreeSet<T>) -> Vec<T> {
    x.difference(y).cloned().collect()
}

fn difference(a: &Outcome, b: &Outcome) -> String {
    format!(
        "delivered only in plan order: {:?}\ndelivered only here: {:?}\nwithheld only in plan order: {:?}\nwithheld only here: {:?}\n\
         people only in plan order: {:?}\npeople only here: {:?}\nheld only in plan order: {:?}\nheld only here: {:?}",
        only(&a.delivered, &b.delivered),
        only(&b.delivered, &a.delivered),
        only(&a.withheld, &b.withheld),
        only(&b.withheld, &a.withheld),
        only(&a.people, &b.people),
        only(&b.people, &a.people),
        only(&a.held, &b.held),
        only(&b.held, &a.held)
    )
}

/// A fresh store with its own hub.
async fn fresh_hub(admin: &str) -> Hub {
    let mut settings = test_settings();
    settings.database.url = tracker::store::create_scratch_database(admin, "tracker_order").await.unwrap();
    tracker::hub::Hub::build(settings).await.unwrap()
}

async fn drop_hub(hub: Hub, admin: &str) {
    let scratch = hub.settings.database.url.clone();
    hub.pool.close().await;
    tracker::store::drop_scratch_database(admin, &scratch).await.unwrap();
}

/// Applies `dir`'s send plan in plan order, then in `runs` seeded interleavings (from
/// `TRACKER_INTERLEAVING_SEED`, default 1), and checks every one against plan order. Returns
/// the reference outcome.
async fn check_interleavings(dir: &Path, runs: u64) -> Outcome {
    let first_seed: u64 = std::env::var("TRACKER_INTERLEAVING_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let plan = tracker::tools::demo::send_plan(dir).unwrap();
    let admin = test_settings().database.url;
    let hub = fresh_hub(&admin).await;
    let (hub, ..) = apply(hub, dir, &plan.iter().collect::<Vec<_>>(), None).await;
    let reference = outcome(&hub.pool).await;
    drop_hub(hub, &admin).await;
    let mut failing = Vec::new();
    let (mut redecided, mut retracted, mut moved, mut restarts, mut redeliveries) = (0, 0, 0, 0, 0);
    for seed in first_seed..first_seed + runs {
        let hub = fresh_hub(&admin).await;
        let (hub, r, d) = apply(hub, dir, &interleave(&plan, seed), Some(seed)).await;
        restarts += r;
        redeliveries += d;
        let got = outcome(&hub.pool).await;
        let late: (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE stage = 'redecided'), count(*) FILTER (WHERE stage = 'retracted'),
                    count(*) FILTER (WHERE stage = 'retracted' AND reason = 'wrong_person') FROM disclosure_log",
        )
        .fetch_one(&hub.pool)
        .await
        .unwrap();
        redecided += late.0;
        retracted += late.1;
        moved += late.2;
        let chain = tracker::sharing::log::verify(&hub.pool).await.unwrap();
        assert!(matches!(chain, tracker::sharing::log::Verified::Intact { .. }), "seed {seed}: {chain:?}");
        if got != reference {
            failing.push((seed, difference(&reference, &got)));
        }
        drop_hub(hub, &admin).await;
    }
    assert!(
        failing.is_empty(),
        "{} of {runs} interleavings of {} differ (replay one with TRACKER_INTERLEAVING_SEED=<seed> \
         TRACKER_INTERLEAVINGS=1); seeds {:?}; the first:\n{}",
        failing.len(),
        dir.display(),
        failing.iter().map(|f| f.0).collect::<Vec<_>>(),
        failing[0].1
    );
    eprintln!(
        "{runs} interleavings of {}: all identical; late facts delivered {redecided} and retracted {retracted} \
         ({moved} of them records that moved to another person) in all; {restarts} restarts between batches (of 1 to 12 messages), \
         {redeliveries} of them followed by a redelivery",
        dir.display()
    );
    reference
}

fn runs(default: u64) -> u64 {
    std::env::var("TRACKER_INTERLEAVINGS").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_interleaving_of_the_sample_month_gives_the_same_disclosures() {
    let reference = check_interleavings(Path::new(SAMPLES), runs(100)).await;
    assert_eq!(reference.delivered.len(), 68);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_interleaving_of_a_generated_quarter_gives_the_same_disclosures() {
    let dir = std::env::temp_dir().join(format!("interleaving-{}", std::process::id()));
    let files = tracker::tools::generate::generate(60, 3, 9, &dir).unwrap();
    assert!(files > 50, "{files} files");
    let reference = check_interleavings(&dir, runs(100)).await;
    assert!(reference.delivered.len() > 100, "{} deliveries", reference.delivered.len());
    assert!(!reference.held.is_empty(), "the generator's bridging records are held as conflicts");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What each recipient holds after applying every notice it received: (recipient, update, person,
/// fields redacted) of each delivery not retracted.
async fn held_by_recipients(hub: &crate::support::TestHub) -> BTreeSet<(String, String, String, String)> {
    let mut delivered: BTreeMap<String, (String, String, String, String)> = BTreeMap::new();
    let mut retracted: BTreeSet<String> = BTreeSet::new();
    for agency in hub.hub.settings.agencies.keys() {
        for m in hub.drain(&hub.names.outbound_queue(agency)).await {
            let record = hub.hub.schemas.decode_single_object(&m.delivery.data).expect("single-object Avro");
            let message_id = m.delivery.properties.message_id().as_ref().unwrap().to_string();
            if record["event_type"] == tracker::sharing::notice::EVENT_TYPE {
                retracted.insert(record["payload"]["refers_to_message_id"].as_str().unwrap().to_string());
            } else {
                let key = (
                    agency.to_string(),
                    record["event_id"].as_str().unwrap().to_string(),
                    record["subject"]["subject_id"].as_str().unwrap_or_default().to_string(),
                    record["redacted"].to_string(),
                );
                assert!(delivered.insert(message_id, key).is_none(), "a message id delivered twice");
            }
        }
    }
    assert!(retracted.iter().all(|r| delivered.contains_key(r)), "a notice names a delivery the recipient had");
    delivered.into_iter().filter(|(id, _)| !retracted.contains(id)).map(|(_, k)| k).collect()
}

/// The same over the broker: the generated quarter sent to a running hub in plan order, and to a
/// fresh one with probation's queue drained last (its consumer held back until every other
/// agency's traffic was in). Each recipient ends up holding the same deliveries, once notices
/// are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_broker_a_queue_drained_last_leaves_every_recipient_the_same_deliveries() {
    let dir = std::env::temp_dir().join(format!("held-back-{}", std::process::id()));
    tracker::tools::generate::generate(60, 3, 9, &dir).unwrap();
    let plan = tracker::tools::demo::send_plan(&dir).unwrap();
    let mut outcomes = Vec::new();
    let mut notices = Vec::new();
    for held_back in [None, Some("probation")] {
        let hub = crate::support::TestHub::start().await;
        let (last, first): (Vec<_>, Vec<_>) = plan.iter().partition(|p| Some(p.agency.as_str()) == held_back);
        for p in first.iter().chain(&last) {
            hub.send(&p.agency, &p.connector, &dir.join(&p.file)).await;
        }
        tracker::tools::demo::wait_published(hub.pool(), std::time::Duration::from_secs(60)).await.unwrap();
        outcomes.push(held_by_recipients(&hub).await);
        notices.push(hub.count("SELECT count(*) FROM outbox WHERE kind = 'retraction'").await);
        hub.finish().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(outcomes[0].len() > 100, "{} deliveries", outcomes[0].len());
    assert!(notices[1] > 0, "holding probation back makes late facts retract");
    let only = |a: &BTreeSet<_>, b: &BTreeSet<_>| a.difference(b).cloned().collect::<Vec<_>>();
    assert!(
        outcomes[0] == outcomes[1],
        "only in plan order: {:?}\nonly with probation last: {:?}",
        only(&outcomes[0], &outcomes[1]),
        only(&outcomes[1], &outcomes[0])
    );
}
