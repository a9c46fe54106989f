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
use crate::store;

/// One payload of the send plan (`samples/expected.json` → `send`).
#[derive(Debug, Clone, Deserialize)]
pub struct PlannedSend {
    pub file: String,
    pub agency: String,
    pub connector: String,
}

/// The send plan: the month in date order, then `bad/`.
pub fn send_plan(samples: &Path) -> anyhow::Result<Vec<PlannedSend>> {
    let mut plan = Vec::new();
    for_each_planned_send(samples, |p| plan.push(p))?;
    Ok(plan)
}

/// Hands each entry of the send plan (`expected.json` → `send`) to `each`, in order, as the file
/// is read, and returns how many there were: a generated year's plan is 35 MB of JSON and a
/// quarter of a million entries, which a load need never hold at once.
pub fn for_each_planned_send(samples: &Path, each: impl FnMut(PlannedSend)) -> anyhow::Result<usize> {
    let path = samples.join("expected.json");
    let file = std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
    let count = serde::de::DeserializeSeed::deserialize(plan_reader::Expected(each), &mut reader)
        .and_then(|count| reader.end().map(|()| count))
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok(count)
}

/// serde visitors that read `expected.json` entry by entry: its `send` list is handed over an
/// entry at a time; every other key is skipped unread.
mod plan_reader {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::PlannedSend;

    /// The whole file: an object holding `send`. Yields how many entries it held.
    pub struct Expected<F>(pub F);

    impl<'de, F: FnMut(PlannedSend)> DeserializeSeed<'de> for Expected<F> {
        type Value = usize;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
            deserializer.deserialize_map(self)
        }
    }

    impl<'de, F: FnMut(PlannedSend)> Visitor<'de> for Expected<F> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object with a `send` list")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<usize, A::Error> {
            let mut count = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "send" && count.is_none() {
                    count = Some(map.next_value_seed(Sends(&mut self.0))?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            count.ok_or_else(|| serde::de::Error::missing_field("send"))
        }
    }

    /// The `send` list, an entry at a time.
    struct Sends<'f, F>(&'f mut F);

    impl<'de, F: FnMut(PlannedSend)> DeserializeSeed<'de> for Sends<'_, F> {
        type Value = usize;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de, F: FnMut(PlannedSend)> Visitor<'de> for Sends<'_, F> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of payloads to send")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut count = 0;
            while let Some(entry) = seq.next_element::<PlannedSend>()? {
                (self.0)(entry);
                count += 1;
            }
            Ok(count)
        }
    }
}

/// Waits until the inbox holds the message (the hub has committed it).
pub async fn wait_processed(pool: &PgPool, agency: &str, message_id: &str, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if store::inbox::is_processed(pool, agency, message_id).await? {
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
        let pending = store::outbox::backlog(pool).await?;
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
    let rows = store::outbox::published(pool).await?;
    let mut out = String::from("\nDelivered, per recipient (c = history catch-up; fields withheld in brackets):\n");
    let mut current = String::new();
    for row in rows {
        if row.recipient != current {
            out.push_str(&format!("  {}\n", row.recipient));
            current = row.recipient;
        }
        let withheld = if row.withheld_fields.is_empty() {
            String::new()
        } else {
            format!(" [{}]", row.withheld_fields.join(", "))
        };
        let catch_up = if row.catch_up { " (c)" } else { "" };
        out.push_str(&format!("    {:<22} {}{catch_up}{withheld}\n", row.person, row.what));
    }
    let withheld = store::disclosure_log::withheld_by_reason(pool).await?;
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
    for a in store::inbox::per_agency(pool).await? {
        out.push_str(&format!(
            "  {:<15} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
            a.agency, a.messages, a.applied, a.refused, a.kept, a.events
        ));
    }
    out.push_str("\nPeople (one subject across every agency that knows them):\n");
    for p in store::people::summaries(pool).await? {
        out.push_str(&format!(
            "  {} ({})\n    identifiers: {}\n    events: {}\n",
            p.name,
            &p.subject_id.to_string()[..8],
            p.identifiers.unwrap_or_default(),
            p.events_per_agency
        ));
    }
    out.push_str("\nRefused (each dead-lettered with its reason):\n");
    for (connector, message_id, position, reason) in store::refusals::all(pool).await? {
        let at = if position == 0 { "whole payload".to_string() } else { format!("item {position}") };
        out.push_str(&format!("  {connector} {message_id} ({at}): {reason}\n"));
    }
    let kept = store::refusals::kept_items(pool).await?;
    if !kept.is_empty() {
        out.push_str("\nKept, not routed (event types Tracker does not handle):\n");
        for (message_id, label) in kept {
            out.push_str(&format!("  {message_id}: {label}\n"));
        }
    }
    Ok(out)
}
