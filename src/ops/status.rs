//! `tracker status`: the hub at a glance for a terminal — queue depths and consumers, dead
//! letters (count, oldest, reasons), the outbox backlog, and each connector's last refusal.
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde::Serialize;

use crate::broker::Names;
use crate::settings::Settings;
use crate::store;

#[derive(Debug, Clone, Serialize)]
pub struct QueueDepth {
    pub queue: String,
    pub messages: u32,
    pub consumers: u32,
    /// Messages per second in and out, from the management API when it answers.
    pub publish_rate: Option<f64>,
    pub deliver_rate: Option<f64>,
}

/// (queue name, publish rate, deliver rate) from the management API, if it answers.
fn management_rates(settings: &Settings) -> Vec<(String, Option<f64>, Option<f64>)> {
    let (vhost, auth) = crate::broker::management_access(&settings.broker.url);
    let api = format!(
        "{}/api/queues/{vhost}?columns=name,message_stats",
        settings.broker.management_url.trim_end_matches('/')
    );
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(3))).build().into();
    let Ok(mut res) = agent.get(&api).header("Authorization", &auth).call() else { return Vec::new() };
    let Ok(queues) = res.body_mut().read_json::<serde_json::Value>() else { return Vec::new() };
    queues
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| {
            let stats = &q["message_stats"];
            Some((
                q["name"].as_str()?.to_string(),
                stats["publish_details"]["rate"].as_f64(),
                stats["deliver_get_details"]["rate"].as_f64(),
            ))
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub queues: Vec<QueueDepth>,
    pub dead_letters_open: i64,
    pub dead_letters_oldest: Option<DateTime<Utc>>,
    pub dead_letter_reasons: Vec<(String, String, i64)>,
    pub outbox_backlog: i64,
    pub outbox_oldest: Option<DateTime<Utc>>,
    pub last_refusals: Vec<(String, DateTime<Utc>, String)>,
    pub received: Vec<(String, i64, i64, i64)>,
}

/// Every queue of the broker contract with its depth and consumers (passive declares).
pub async fn queue_depths(settings: &Settings) -> anyhow::Result<Vec<QueueDepth>> {
    let names = Names::new(&settings.broker.prefix);
    let conn = crate::broker::connect(&settings.broker.url).await?;
    let mut queues = Vec::new();
    let mut all: Vec<String> = settings.agencies.keys().map(|a| names.inbound_queue(a)).collect();
    all.extend(settings.agencies.keys().map(|a| names.outbound_queue(a)));
    all.push(names.dead_queue());
    for q in all {
        // A passive declare of a missing queue closes the channel: one channel each.
        let ch = conn.create_channel().await?;
        let opts = QueueDeclareOptions { passive: true, ..Default::default() };
        match ch.queue_declare(q.as_str().into(), opts, FieldTable::default()).await {
            Ok(info) => queues.push(QueueDepth {
                queue: q,
                messages: info.message_count(),
                consumers: info.consumer_count(),
                publish_rate: None,
                deliver_rate: None,
            }),
            Err(_) => queues.push(QueueDepth {
                queue: format!("{q} (missing: run tracker provision)"),
                messages: 0,
                consumers: 0,
                publish_rate: None,
                deliver_rate: None,
            }),
        }
    }
    crate::broker::close(&conn, "status").await;
    let s = settings.clone();
    let rates = tokio::task::spawn_blocking(move || management_rates(&s)).await.unwrap_or_default();
    for q in &mut queues {
        if let Some((_, publish, deliver)) = rates.iter().find(|(name, _, _)| *name == q.queue) {
            q.publish_rate = *publish;
            q.deliver_rate = *deliver;
        }
    }
    Ok(queues)
}

pub async fn gather(settings: &Settings, pool: &sqlx::PgPool) -> anyhow::Result<Status> {
    let queues = queue_depths(settings).await?;
    let (dead_letters_open, dead_letters_oldest) = store::refusals::open_and_oldest(pool).await?;
    let dead_letter_reasons = store::refusals::open_per_connector_and_code(pool).await?;
    let (outbox_backlog, outbox_oldest) = store::outbox::backlog_and_oldest(pool).await?;
    let last_refusals = store::refusals::latest_per_connector(pool).await?;
    let received = store::inbox::outcomes_per_connector(pool).await?;
    Ok(Status {
        queues,
        dead_letters_open,
        dead_letters_oldest,
        dead_letter_reasons,
        outbox_backlog,
        outbox_oldest,
        last_refusals,
        received,
    })
}

pub fn render(s: &Status, now: DateTime<Utc>) -> String {
    let age = |t: Option<DateTime<Utc>>| {
        t.map(|t| {
            let m = (now - t).num_minutes().max(0);
            if m < 120 { format!("{m} min") } else { format!("{} h", m / 60) }
        })
        .unwrap_or_else(|| "-".into())
    };
    let rate = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.1}/s"));
    let mut out = String::from("Queues                                   messages  consumers      in/s     out/s\n");
    for q in &s.queues {
        let _ = writeln!(
            out,
            "  {:<38} {:>8} {:>10} {:>9} {:>9}",
            q.queue,
            q.messages,
            q.consumers,
            rate(q.publish_rate),
            rate(q.deliver_rate)
        );
    }
    let _ = writeln!(out, "\nDead letters open: {} (oldest {})", s.dead_letters_open, age(s.dead_letters_oldest));
    for (connector, code, n) in &s.dead_letter_reasons {
        let _ = writeln!(out, "  {connector:<20} {code:<18} {n}");
    }
    let _ = writeln!(out, "\nOutbox backlog: {} (oldest {})", s.outbox_backlog, age(s.outbox_oldest));
    out.push_str("\nMessages per connector          received  applied  refused\n");
    for (connector, received, applied, refused) in &s.received {
        let _ = writeln!(out, "  {connector:<28} {received:>8} {applied:>8} {refused:>8}");
    }
    out.push_str("\nLast refusal per connector:\n");
    for (connector, at, reason) in &s.last_refusals {
        let _ = writeln!(out, "  {connector:<20} {} {reason}", at.format("%Y-%m-%d %H:%M"));
    }
    out
}
