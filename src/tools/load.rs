//! `tracker load DIR`: backloads files an agency kept (history from before it joined, or a
//! generated store) through the same path as broker traffic — admission, connector, schema
//! validation, identity, sharing decisions and the disclosure log — but many files per
//! transaction, so a million events load in minutes rather than hours. Each file is archived and
//! entered in the inbox like a broker message whose id is the file name, so loading again (or
//! after an interruption) stores nothing twice. Refused items are dead-lettered with their reasons
//! once their batch commits; deliveries wait in the outbox for the running hub's publisher.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::Channel;
use tokio::sync::mpsc;

use crate::broker::{Names, publish};
use crate::hub::Hub;
use crate::runtime::apply::Applied;
use crate::runtime::message::Inbound;
use crate::runtime::record::Mode;
use crate::store::message::{Envelope, ReadyItem};
use crate::tools::demo::PlannedSend;

/// The files to load and the directory they are under: a directory's send plan, or the given
/// files of one agency and connector (in the order given).
pub fn plan_for(
    agency: Option<String>,
    connector: Option<String>,
    paths: &[PathBuf],
) -> anyhow::Result<(PathBuf, Vec<PlannedSend>)> {
    match (agency, connector) {
        (Some(agency), Some(connector)) => Ok((
            PathBuf::new(),
            paths
                .iter()
                .map(|p| PlannedSend {
                    file: p.display().to_string(),
                    agency: agency.clone(),
                    connector: connector.clone(),
                })
                .collect(),
        )),
        _ => {
            let [dir] = paths else {
                anyhow::bail!(
                    "give one directory holding a send plan (expected.json), or --agency and --connector with files"
                );
            };
            Ok((dir.clone(), crate::tools::demo::send_plan(dir)?))
        }
    }
}

/// A file read and run through its connector, ready to store.
struct Prepared {
    file: String,
    msg: Inbound,
    env: Envelope,
    items: Vec<ReadyItem>,
    /// When it was read: its events' `recorded_at`, in the store as in their Avro.
    read_at: chrono::DateTime<chrono::Utc>,
}

/// What a load did.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub files: usize,
    /// Files the inbox already held (loaded before): nothing changed.
    pub already_loaded: usize,
    pub events: usize,
    pub refused: usize,
    pub kept: usize,
    pub queued: usize,
    pub took: Duration,
    /// Files the store refused outright (a defect to report), with the store's error.
    pub failed: Vec<(String, String)>,
}

impl Loaded {
    pub fn describe(&self) -> String {
        let secs = self.took.as_secs_f64().max(1e-9);
        format!(
            "loaded {} file{} ({} already loaded) in {:.1} s: {} events ({:.0}/s), {} items refused and dead-lettered, {} kept without events, {} deliveries queued{}",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.already_loaded,
            secs,
            self.events,
            self.events as f64 / secs,
            self.refused,
            self.kept,
            self.queued,
            if self.failed.is_empty() { String::new() } else { format!(", {} files failed", self.failed.len()) }
        )
    }
}

/// Where refused items go once their batch has committed.
pub struct DeadLetters<'a> {
    pub ch: &'a Channel,
    pub names: &'a Names,
}

/// Loads `plan` (files under `dir`, in order) `batch` files per transaction. Reading the next
/// batch (parsing, validating, encoding) overlaps with storing this one.
pub async fn load(
    hub: Arc<Hub>,
    dir: &Path,
    plan: Vec<PlannedSend>,
    batch: usize,
    dead: &DeadLetters<'_>,
) -> anyhow::Result<Loaded> {
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Vec<Prepared>>>(2);
    let reader_hub = hub.clone();
    let dir = dir.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        for chunk in plan.chunks(batch.max(1)) {
            let prepared = chunk.iter().map(|p| prepare(&reader_hub, &dir, p)).collect();
            if tx.blocking_send(prepared).is_err() {
                return;
            }
        }
    });
    let mut loaded = Loaded::default();
    let mut statistics = Statistics::new(&hub.pool).await?;
    while let Some(prepared) = rx.recv().await {
        let prepared = prepared?;
        loaded.files += prepared.len();
        store_batch(&hub, &prepared, dead, &mut loaded).await?;
        statistics.keep_up(&hub.pool, loaded.events).await?;
    }
    reader.await.context("the file reader stopped")?;
    loaded.took = start.elapsed();
    Ok(loaded)
}

/// Keeps the planner's statistics up with the load. A store that grows from empty to a million
/// events in minutes outruns autovacuum (and some servers run without it); with statistics of an
/// empty table the planner scans whole tables for every lookup, and the load slows to a crawl.
/// So the loader runs ANALYZE each time the store has doubled since the last one.
struct Statistics {
    events_at_last: i64,
    loaded_at_last: usize,
}

impl Statistics {
    async fn new(pool: &sqlx::PgPool) -> anyhow::Result<Statistics> {
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
        Ok(Statistics { events_at_last: events, loaded_at_last: 0 })
    }

    async fn keep_up(&mut self, pool: &sqlx::PgPool, loaded: usize) -> anyhow::Result<()> {
        let grown = (loaded - self.loaded_at_last) as i64;
        if grown >= self.events_at_last.max(2_000) {
            let started = Instant::now();
            sqlx::query("ANALYZE").execute(pool).await.context("ANALYZE after loading")?;
            tracing::info!(
                events = self.events_at_last + grown,
                took_ms = started.elapsed().as_millis() as u64,
                "statistics refreshed"
            );
            self.events_at_last += grown;
            self.loaded_at_last = loaded;
        }
        Ok(())
    }
}

fn prepare(hub: &Hub, dir: &Path, p: &PlannedSend) -> anyhow::Result<Prepared> {
    let path: PathBuf = dir.join(&p.file);
    let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or(&p.file).to_string();
    let msg = Inbound {
        queue_agency: p.agency.as_str().into(),
        routing_key: format!("{}.{}", p.agency, p.connector),
        message_id: Some(file.clone()),
        user_id: None,
        body,
    };
    let env = msg.envelope();
    let read_at = hub.clock.now();
    let items = hub.read(&msg, &env, read_at);
    Ok(Prepared { file, msg, env, items, read_at })
}

/// Stores a batch in one transaction. If the store refuses one file outright (a constraint the
/// connector did not foresee), the batch is stored again file by file so only that file fails.
async fn store_batch(hub: &Hub, batch: &[Prepared], dead: &DeadLetters<'_>, loaded: &mut Loaded) -> anyhow::Result<()> {
    match store_together(hub, batch).await {
        Ok(applied) => settle(hub, &applied, dead, loaded).await,
        Err(e) if e.is_transient() => Err(e).context("storing a batch (nothing of it was kept; load again to resume)"),
        Err(_) => {
            for p in batch {
                match store_together(hub, std::slice::from_ref(p)).await {
                    Ok(applied) => settle(hub, &applied, dead, loaded).await?,
                    Err(e) if e.is_transient() => return Err(e).context(format!("storing {}", p.file)),
                    Err(e) => {
                        tracing::error!(file = %p.file, "the store refused this file: {e}");
                        loaded.failed.push((p.file.clone(), e.to_string()));
                    }
                }
            }
            Ok(())
        }
    }
}

async fn store_together(hub: &Hub, batch: &[Prepared]) -> Result<Vec<Applied>, crate::store::StoreError> {
    let mut tx = hub.pool.begin().await?;
    let mut applied = Vec::with_capacity(batch.len());
    for p in batch {
        let (headers, now) = (p.msg.archive_headers(), p.read_at);
        let archive_id = crate::store::archive::archive_with(&mut tx, &p.env, &p.msg.body, &headers, now).await?;
        match crate::runtime::apply::apply_in(&mut tx, &hub.sharing, &p.env, archive_id, &p.items, now, Mode::Arrival)
            .await?
        {
            Some(a) => applied.push(a),
            None => applied.push(Applied::Duplicate { dead_letters: Vec::new() }),
        }
    }
    tx.commit().await?;
    // Dead letters of files loaded before but not yet confirmed go out again.
    for (p, a) in batch.iter().zip(applied.iter_mut()) {
        if let Applied::Duplicate { dead_letters } = a {
            *dead_letters = crate::store::dead_letters::pending_dead_letters(
                &hub.pool,
                &p.env,
                hub.settings.limits.dead_letter_body_bytes,
            )
            .await?;
        }
    }
    Ok(applied)
}

/// Counts what a committed batch did and dead-letters its refused items.
async fn settle(hub: &Hub, applied: &[Applied], dead: &DeadLetters<'_>, loaded: &mut Loaded) -> anyhow::Result<()> {
    let mut confirmed = Vec::new();
    for a in applied {
        let dead_letters = match a {
            Applied::Stored { events, refused, kept, queued, dead_letters, .. } => {
                loaded.events += events;
                loaded.refused += refused;
                loaded.kept += kept;
                loaded.queued += queued;
                dead_letters
            }
            Applied::Duplicate { dead_letters } => {
                loaded.already_loaded += 1;
                dead_letters
            }
        };
        for dl in dead_letters {
            tracing::warn!(message_id = %dl.envelope.message_id, code = %dl.code, position = dl.position, "refused: {}", dl.reason.escape_debug());
        }
        publish::dead_letters(dead.ch, dead.names, dead_letters, publish::DeadLetterPolicy::of(&hub.settings.limits))
            .await?;
        confirmed.extend(dead_letters.iter().map(|dl| dl.refusal_id));
    }
    if !confirmed.is_empty() {
        crate::store::dead_letters::mark_dead_lettered(&hub.pool, &confirmed, hub.clock.now()).await?;
    }
    if loaded.queued > 0 {
        hub.publisher_wakeup.notify_one();
    }
    Ok(())
}
