//! Dead letters: every refusal is a row in `refusals` (the record) and a message on the dead
//! queue (the notification). Replay reads the refused message again from the raw archive through
//! its connector; purge gives up on it. Either way the dead queue is brought back in line with
//! the open refusals.
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use serde::Serialize;

use crate::broker::{Names, publish};
use crate::hub::Hub;
use crate::runtime::apply::Applied;
use crate::store::dead_letters::DeadLetter;

use crate::store::dead_letters as rows;
pub use crate::store::dead_letters::DeadLetterRow;

/// At most this many dead letters in one page of the console or the API.
pub const PAGE_LIMIT: i64 = 500;

/// Open dead letters with an id above `after`, oldest first, at most `limit` (capped at
/// [`PAGE_LIMIT`]): however many there are, a page costs the same.
pub async fn page(hub: &Hub, after: i64, limit: i64) -> anyhow::Result<Vec<DeadLetterRow>> {
    Ok(rows::open_page(&hub.pool, after, limit.clamp(1, PAGE_LIMIT)).await?)
}

/// Open dead letters counted by connector and code, most first: what a flood is made of.
pub async fn summary(hub: &Hub) -> anyhow::Result<Vec<(String, String, i64)>> {
    Ok(rows::open_by_connector_and_code(&hub.pool).await?)
}

/// Every open dead letter (the command line's `--all`, replay and tests).
pub async fn list(hub: &Hub) -> anyhow::Result<Vec<DeadLetterRow>> {
    Ok(rows::open_all(&hub.pool).await?)
}

use crate::store::dead_letters::FullDeadLetter;

/// How much of a refused payload `show` prints (a hostile one can be megabytes).
const SHOWN_BYTES: usize = 65_536;

/// One dead letter as data: the refusal, how its message arrived, and how large the refused
/// bytes are (they are fetched on their own: [`payload`]).
#[derive(Debug, Serialize)]
pub struct DeadLetterDetail {
    #[serde(flatten)]
    pub row: DeadLetterRow,
    /// "the whole payload" or "item N".
    pub refused: String,
    pub routing_key: String,
    /// The AMQP headers the message arrived with, as archived.
    pub headers: serde_json::Value,
    pub payload_bytes: usize,
    /// How it was resolved (replayed, purged), if it was.
    pub resolution: Option<String>,
}

/// One dead letter and its refused bytes, if there is one with this id.
pub async fn detail(hub: &Hub, id: i64) -> anyhow::Result<Option<(DeadLetterDetail, Vec<u8>)>> {
    let Some(FullDeadLetter { row, raw, routing_key, resolution }) = rows::full(&hub.pool, id).await? else {
        return Ok(None);
    };
    let headers = crate::store::archive::latest_headers(&hub.pool, &row.agency, &row.message_id).await?;
    let refused =
        if row.item_position == 0 { "the whole payload".to_string() } else { format!("item {}", row.item_position) };
    let detail = DeadLetterDetail {
        row,
        refused,
        routing_key,
        headers: headers.unwrap_or(serde_json::Value::Null),
        payload_bytes: raw.len(),
        resolution,
    };
    Ok(Some((detail, raw)))
}

/// One dead letter in full, as text: the refusal, its raw bytes, and how the message arrived.
pub async fn show(hub: &Hub, id: i64) -> anyhow::Result<String> {
    let Some((d, raw)) = detail(hub, id).await? else {
        anyhow::bail!("no dead letter {id}");
    };
    let shown = &raw[..raw.len().min(SHOWN_BYTES)];
    let cut = if raw.len() > shown.len() {
        format!("\n… {} more bytes not shown (the whole payload is in the raw archive)", raw.len() - shown.len())
    } else {
        String::new()
    };
    Ok(format!(
        "Dead letter {}: {} {} ({})\nreason ({}): {}\nrefused at {}{}\nrouting key {}; arrived with {}\nraw ({} bytes):\n{}{cut}\n",
        d.row.id,
        d.row.connector,
        d.row.message_id,
        d.refused,
        d.row.code,
        d.row.reason,
        d.row.refused_at,
        d.resolution.map(|r| format!("; resolved: {r}")).unwrap_or_default(),
        d.routing_key,
        d.headers,
        raw.len(),
        String::from_utf8_lossy(shown)
    ))
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayResult {
    pub message_id: String,
    /// Events stored by this replay (none when everything was already there).
    pub events: usize,
    pub still_refused: usize,
}

/// Replays the messages behind these dead letters (the latest archived copy of each), recorded
/// as `by`'s action.
pub async fn replay(hub: &Hub, ids: &[i64], by: &str) -> anyhow::Result<Vec<ReplayResult>> {
    // A replay follows a fix: read the connector files as they are now.
    hub.reload_connectors()?;
    let mut tx = hub.pool.begin().await?;
    crate::store::operator_actions::record(&mut tx, by, "replay", &format!("dead letters {ids:?}"), hub.clock.now())
        .await?;
    tx.commit().await?;
    let archives = crate::store::archive::latest_of_refusals(&hub.pool, ids).await?;
    anyhow::ensure!(!archives.is_empty(), "no dead letter among {ids:?} has an archived message");
    reprocess_archived(hub, &archives, |_| {}).await
}

/// The latest archived copy of every message of a connector received at or after `since`, as
/// (archive id, agency, message id): what `tracker reprocess` reads again.
pub async fn archived_since(
    hub: &Hub,
    connector: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    crate::store::archive::latest_since(&hub.pool, connector, since).await
}

/// Reprocesses archived messages, publishes any new dead letters, then syncs the dead queue.
/// `each_done` is told how many are done after each one (for a progress line).
pub async fn reprocess_archived(
    hub: &Hub,
    archives: &[(i64, String, String)],
    mut each_done: impl FnMut(usize),
) -> anyhow::Result<Vec<ReplayResult>> {
    let conn = crate::broker::connect(&hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    let names = Names::new(&hub.settings.broker.prefix);
    let mut results = Vec::new();
    for (archive_id, _, message_id) in archives {
        let applied = hub.reprocess(*archive_id).await?;
        let (events, dead_letters): (usize, Vec<DeadLetter>) = match applied {
            Applied::Stored { inserted, dead_letters, .. } => (inserted, dead_letters),
            Applied::Duplicate { dead_letters } => (0, dead_letters),
        };
        publish::dead_letters(&ch, &names, &dead_letters, publish::DeadLetterPolicy::of(&hub.settings.limits)).await?;
        let ids: Vec<i64> = dead_letters.iter().map(|d| d.refusal_id).collect();
        crate::store::dead_letters::mark_dead_lettered(&hub.pool, &ids, hub.clock.now()).await?;
        let still = rows::open_of_message(&hub.pool, message_id).await?;
        results.push(ReplayResult { message_id: message_id.clone(), events, still_refused: still as usize });
        each_done(results.len());
    }
    sync_dead_queue(hub, &ch, &names).await?;
    crate::broker::close(&conn, "replayed").await;
    Ok(results)
}

/// Gives up on these dead letters (`all`: every open one): resolved as purged, by whom.
pub async fn purge(hub: &Hub, ids: &[i64], all: bool, by: &str) -> anyhow::Result<u64> {
    let mut tx = hub.pool.begin().await?;
    let target = if all { "all open dead letters".to_string() } else { format!("dead letters {ids:?}") };
    crate::store::operator_actions::record(&mut tx, by, "purge", &target, hub.clock.now()).await?;
    // The purge and who did it are one record: both commit or neither.
    let n = rows::purge(&mut tx, ids, all, by, hub.clock.now()).await?;
    tx.commit().await?;
    let conn = crate::broker::connect(&hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    sync_dead_queue(hub, &ch, &Names::new(&hub.settings.broker.prefix)).await?;
    crate::broker::close(&conn, "purged").await;
    Ok(n)
}

fn header_text(headers: &lapin::types::FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn header_int(headers: &lapin::types::FieldTable, name: &str) -> Option<i32> {
    match headers.inner().get(name) {
        Some(AMQPValue::LongInt(i)) => Some(*i),
        Some(AMQPValue::ShortInt(i)) => Some(i32::from(*i)),
        Some(AMQPValue::LongLongInt(i)) => i32::try_from(*i).ok(),
        _ => None,
    }
}

/// Leaves on the dead queue exactly the dead letters still open: each message is taken off and,
/// if its refusal is open, put back (confirmed) before the original is acknowledged.
pub async fn sync_dead_queue(hub: &Hub, ch: &lapin::Channel, names: &Names) -> anyhow::Result<()> {
    let depth = ch
        .queue_declare(
            names.dead_queue().as_str().into(),
            lapin::options::QueueDeclareOptions { passive: true, ..Default::default() },
            lapin::types::FieldTable::default(),
        )
        .await?
        .message_count();
    for _ in 0..depth {
        let Some(m) = ch.basic_get(names.dead_queue().as_str().into(), BasicGetOptions::default()).await? else {
            break;
        };
        let props = m.delivery.properties.clone();
        let headers = props.headers().clone().unwrap_or_default();
        let key = (
            header_text(&headers, "tracker-agency"),
            header_text(&headers, "tracker-original-message-id"),
            header_int(&headers, "tracker-item-position"),
        );
        let open = match key {
            (Some(agency), Some(message_id), Some(position)) => {
                rows::is_open(&hub.pool, &agency, &message_id, position).await?
            }
            // Not one of ours (e.g. dead-lettered by the broker itself): keep it for a person.
            _ => true,
        };
        if open {
            publish::publish_confirmed(
                ch,
                &names.dead_exchange(),
                m.delivery.routing_key.as_str(),
                &m.delivery.data,
                props,
            )
            .await?;
        }
        m.delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    Ok(())
}
