//! `tracker demo`: provisions the broker, runs the hub, sends the sample month (then the bad
//! files) in the order the agencies produced them, and prints what was stored per agency and
//! per person. The samples live in `samples/` (a copy of the agencies' public sample traffic).
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use sqlx::PgPool;

use crate::broker::{Names, provision, publish};
use crate::hub::Hub;

/// One payload of the send plan (`samples/expected.json` → `send`).
#[derive(Debug, Clone, Deserialize)]
pub struct PlannedSend {
    pub file: String,
    pub agency: String,
    pub connector: String,
}

#[derive(Deserialize)]
struct Expected {
    send: Vec<PlannedSend>,
}

/// The send plan: the month in date order, then `bad/`.
pub fn send_plan(samples: &Path) -> anyhow::Result<Vec<PlannedSend>> {
    let path = samples.join("expected.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let expected: Expected = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(expected.send)
}

/// Waits until the inbox holds the message (the hub has committed it).
pub async fn wait_processed(pool: &PgPool, agency: &str, message_id: &str, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let done: Option<i32> = sqlx::query_scalar("SELECT 1 FROM inbox WHERE agency = $1 AND message_id = $2")
            .bind(agency)
            .bind(message_id)
            .fetch_optional(pool)
            .await?;
        if done.is_some() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("the hub did not process {agency}/{message_id} within {} s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends every planned file, one at a time, each after the previous one was committed.
pub async fn send_all(hub: &Hub, samples: &Path, plan: &[PlannedSend]) -> anyhow::Result<()> {
    let names = Names::new(&hub.settings.broker.prefix);
    let conn = crate::broker::connect(&hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    for p in plan {
        let path: PathBuf = samples.join(&p.file);
        publish::send_file(&ch, &names, &p.agency, &p.connector, &path)
            .await
            .with_context(|| format!("sending {}", p.file))?;
        let message_id = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        wait_processed(&hub.pool, &p.agency, message_id, Duration::from_secs(60)).await?;
    }
    crate::broker::close(&conn, "sent").await;
    Ok(())
}

pub async fn run(hub: Arc<Hub>, samples: &Path) -> anyhow::Result<()> {
    let plan = send_plan(samples)?;
    let declared = provision::provision(&hub.settings).await?;
    println!(
        "Provisioned {} exchanges and queues on {}",
        declared.len(),
        crate::broker::redact_url(&hub.settings.broker.url)
    );
    let app = crate::app::App::around(hub.clone());
    app.start().await;
    let mut sent = send_all(&hub, samples, &plan).await;
    if sent.is_ok() {
        sent = wait_published(&hub.pool, Duration::from_secs(60)).await;
    }
    app.shutdown().await?;
    sent?;
    println!("Sent {} payloads from {} in the order they were produced\n", plan.len(), samples.display());
    print!("{}", summary(&hub.pool).await?);
    print!("{}", deliveries(&hub.pool).await?);
    Ok(())
}

/// Waits until the publisher has sent (or withheld) every decided delivery.
pub async fn wait_published(pool: &PgPool, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND withheld_at_publish IS NULL",
        )
        .fetch_one(pool)
        .await?;
        if pending == 0 {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("{pending} deliveries still unpublished after {} s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What each agency received, in the order it was published (c = history catch-up).
pub async fn deliveries(pool: &PgPool) -> anyhow::Result<String> {
    let rows: Vec<(String, String, String, bool, Vec<String>)> = sqlx::query_as(
        "SELECT o.recipient,
                coalesce((SELECT name FROM subject_details d WHERE d.subject_id = e.subject_id ORDER BY first_seen_at LIMIT 1), '?'),
                CASE o.kind WHEN 'delivery' THEN e.event_type ELSE 'RETRACTION of ' || e.event_type END, o.catch_up, o.withheld_fields
         FROM outbox o JOIN events e USING (event_id) WHERE o.published_at IS NOT NULL ORDER BY o.recipient, o.id",
    )
    .fetch_all(pool)
    .await?;
    let mut out = String::from("\nDelivered, per recipient (c = history catch-up; fields withheld in brackets):\n");
    let mut current = String::new();
    for (recipient, person, event_type, catch_up, withheld) in rows {
        if recipient != current {
            out.push_str(&format!("  {recipient}\n"));
            current = recipient;
        }
        let withheld = if withheld.is_empty() { String::new() } else { format!(" [{}]", withheld.join(", ")) };
        out.push_str(&format!("    {person:<22} {event_type}{}{withheld}\n", if catch_up { " (c)" } else { "" }));
    }
    let withheld: Vec<(String, i64)> = sqlx::query_as(
        "SELECT reason, count(*) FROM disclosure_log WHERE decision = 'withhold' GROUP BY reason ORDER BY reason",
    )
    .fetch_all(pool)
    .await?;
    out.push_str("\nWithheld (logged with the reason): ");
    out.push_str(&withheld.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", "));
    out.push('\n');
    Ok(out)
}

/// What the store holds: per agency, per person, and every refusal.
pub async fn summary(pool: &PgPool) -> anyhow::Result<String> {
    let mut out = String::from("Stored, per publishing agency:\n");
    out.push_str(&format!(
        "  {:<15} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
        "agency", "messages", "applied", "refused", "kept", "events"
    ));
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT agency, count(*), count(*) FILTER (WHERE outcome IN ('applied', 'partial')),
                sum(refused), sum(kept), sum(events)
         FROM inbox GROUP BY agency ORDER BY agency",
    )
    .fetch_all(pool)
    .await?;
    for (agency, messages, applied, refused, kept, events) in rows {
        out.push_str(&format!("  {agency:<15} {messages:>8} {applied:>8} {refused:>8} {kept:>8} {events:>7}\n"));
    }
    out.push_str("\nPeople (one subject across every agency that knows them):\n");
    let people: Vec<(uuid::Uuid, String, String, String)> = sqlx::query_as(
        "SELECT s.subject_id,
                coalesce((SELECT name FROM subject_details d WHERE d.subject_id = s.subject_id ORDER BY first_seen_at LIMIT 1), ''),
                (SELECT string_agg(scheme || ' ' || value, ', ' ORDER BY scheme) FROM subject_identifiers i WHERE i.subject_id = s.subject_id),
                coalesce((SELECT string_agg(agency || ' ' || n, ', ' ORDER BY agency)
                          FROM (SELECT agency, count(*) n FROM events e WHERE e.subject_id = s.subject_id GROUP BY agency) a), '')
         FROM subjects s ORDER BY 2",
    )
    .fetch_all(pool)
    .await?;
    for (id, name, ids, per_agency) in people {
        out.push_str(&format!(
            "  {name} ({})\n    identifiers: {ids}\n    events: {per_agency}\n",
            &id.to_string()[..8]
        ));
    }
    out.push_str("\nRefused (each dead-lettered with its reason):\n");
    let refusals: Vec<(String, String, i32, String)> =
        sqlx::query_as("SELECT connector, message_id, item_position, reason FROM refusals ORDER BY id")
            .fetch_all(pool)
            .await?;
    for (connector, message_id, position, reason) in refusals {
        let at = if position == 0 { "whole payload".to_string() } else { format!("item {position}") };
        out.push_str(&format!("  {connector} {message_id} ({at}): {reason}\n"));
    }
    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, label FROM kept_items ORDER BY message_id").fetch_all(pool).await?;
    if !kept.is_empty() {
        out.push_str("\nKept, not routed (event types Tracker does not handle):\n");
        for (message_id, label) in kept {
            out.push_str(&format!("  {message_id}: {label}\n"));
        }
    }
    Ok(out)
}
