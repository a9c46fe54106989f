//! `tracker load DIR`: backloads files an agency kept (history from before it joined, or a
//! generated store) through the same path as broker traffic — admission, connector, schema
//! validation, identity, sharing decisions and the disclosure log — in batches of many files, each
//! a message of the group-commit path (`Hub::read_batch`, then `Hub::store_batch`: one transaction,
//! each run of one agency's files recorded and decided together), reading the next batch while
//! one is stored. Each file is archived and entered in the inbox like a broker message whose id is
//! the file name, so loading again (or after an interruption) stores nothing twice; a file the
//! store refuses is refused alone, as from the broker. Refused items are dead-lettered with their
//! reasons once their batch commits; deliveries wait in the outbox for the running hub's publisher.
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
use crate::tools::demo::PlannedSend;

/// The files a load reads, in order.
#[derive(Debug)]
pub enum Plan {
    /// Files given one by one (of one agency and connector).
    Listed(Vec<PlannedSend>),
    /// A directory's send plan (`expected.json`) of this many files, read entry by entry as the
    /// load goes: a generated year's plan is a quarter of a million entries.
    OfDirectory { files: usize },
}

impl From<Vec<PlannedSend>> for Plan {
    fn from(files: Vec<PlannedSend>) -> Plan {
        Plan::Listed(files)
    }
}

impl Plan {
    /// The send plan (`expected.json`) of `dir`, read through once to count its files, so that
    /// a malformed plan is refused before anything is loaded and the progress has a total.
    pub fn of_directory(dir: &Path) -> anyhow::Result<Plan> {
        let files = crate::tools::demo::for_each_planned_send(dir, |_| {})?;
        Ok(Plan::OfDirectory { files })
    }

    pub fn files(&self) -> usize {
        match self {
            Plan::Listed(files) => files.len(),
            Plan::OfDirectory { files } => *files,
        }
    }

    /// Hands each file of the plan to `each`, in order.
    fn for_each(self, dir: &Path, mut each: impl FnMut(PlannedSend)) -> anyhow::Result<()> {
        match self {
            Plan::Listed(files) => files.into_iter().for_each(each),
            Plan::OfDirectory { .. } => {
                crate::tools::demo::for_each_planned_send(dir, &mut each)?;
            }
        }
        Ok(())
    }
}

/// How much one transaction of a load takes: `files`, fewer where they reach `max_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct Batches {
    pub files: usize,
    pub max_bytes: usize,
}

impl Batches {
    /// What `tracker load` takes unless told: 400 files or 1 MiB. Larger batches than a
    /// consumer's (`broker.batch_size`, `batch_max_bytes`) because a load has no latency to keep,
    /// and each person's history is read once a batch: a generated quarter loaded 3,600–3,652
    /// events/s in batches of 400 files or 1 MiB, 3,067–3,425 in batches of 200 or 512 KiB (a
    /// year: 3,105 against 3,118, no gain).
    pub const DEFAULT_FILES: usize = 400;
    pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
}

/// The files to load and the directory they are under: a directory's send plan (checked here:
/// its entries are counted), or the given files of one agency and connector (in the order given).
pub fn plan_for(
    agency: Option<String>,
    connector: Option<String>,
    paths: &[PathBuf],
) -> anyhow::Result<(PathBuf, Plan)> {
    match (agency, connector) {
        (Some(agency), Some(connector)) => Ok((
            PathBuf::new(),
            Plan::Listed(
                paths
                    .iter()
                    .map(|p| PlannedSend {
                        file: p.display().to_string(),
                        agency: agency.clone(),
                        connector: connector.clone(),
                    })
                    .collect(),
            ),
        )),
        _ => {
            let [dir] = paths else {
                anyhow::bail!(
                    "give one directory holding a send plan (expected.json), or --agency and --connector with files"
                );
            };
            Ok((dir.clone(), Plan::of_directory(dir)?))
        }
    }
}

/// A file read from disk, as the message it stands for.
struct File {
    name: String,
    msg: Inbound,
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

/// Loads `plan` (files under `dir`, in order) in `batches`: a batch in hand takes some 40 times
/// its files' size in memory (records, Avro, decisions, the statements' parameters), and a
/// month's first files can be large. Reading the next batch (from disk, then archiving, parsing,
/// validating, encoding) overlaps with storing this one.
pub async fn load(
    hub: Arc<Hub>,
    dir: &Path,
    plan: Plan,
    batches: Batches,
    dead: &DeadLetters<'_>,
) -> anyhow::Result<Loaded> {
    let start = Instant::now();
    let mut progress = crate::tools::progress::Progress::new("loading", "files", plan.files());
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Vec<File>>>(2);
    let dir = dir.to_path_buf();
    let (max_files, max_bytes) = (batches.files.max(1), batches.max_bytes.max(1));
    let reader = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::new();
        let mut bytes = 0;
        let mut receiving = true;
        // The plan is read an entry at a time, each entry dropped once its file is read.
        let read = plan.for_each(&dir, |p| {
            if !receiving {
                return;
            }
            let file = read_file(&dir, &p);
            bytes += file.as_ref().map_or(0, |f| f.msg.body.len());
            chunk.push(file);
            if chunk.len() >= max_files || bytes >= max_bytes {
                bytes = 0;
                receiving = tx.blocking_send(std::mem::take(&mut chunk).into_iter().collect()).is_ok();
            }
        });
        if let Err(e) = read {
            chunk.push(Err(e));
        }
        if receiving && !chunk.is_empty() {
            let _ = tx.blocking_send(chunk.into_iter().collect());
        }
    });
    let mut loaded = Loaded::default();
    let mut statistics = Statistics::new(&hub.pool).await?;
    let mut next = match rx.recv().await {
        Some(files) => Some(read(&hub, files?).await?),
        None => None,
    };
    while let Some((files, read_batch)) = next.take() {
        loaded.files += files.len();
        let (stored, read_next) = tokio::join!(store(&hub, &files, read_batch, dead, &mut loaded), async {
            match rx.recv().await {
                Some(files) => read(&hub, files?).await.map(Some),
                None => Ok(None),
            }
        });
        stored?;
        next = read_next?;
        statistics.keep_up(&hub.pool, loaded.events).await?;
        progress.tick(loaded.files, Some(("events", loaded.events)));
    }
    reader.await.context("the file reader stopped")?;
    statistics.finish().await?;
    loaded.took = start.elapsed();
    Ok(loaded)
}

/// Archives and reads a batch of files (nothing stored yet).
async fn read(hub: &Hub, files: Vec<File>) -> anyhow::Result<(Vec<File>, crate::runtime::process::ReadBatch)> {
    let msgs: Vec<(&Inbound, u32)> = files.iter().map(|f| (&f.msg, 0)).collect();
    let read = hub.read_batch(&msgs).await.context("archiving a batch (load again to resume)")?;
    Ok((files, read))
}

/// Stores a batch read before, in one transaction, then dead-letters its refused items.
async fn store(
    hub: &Hub,
    files: &[File],
    read: crate::runtime::process::ReadBatch,
    dead: &DeadLetters<'_>,
    loaded: &mut Loaded,
) -> anyhow::Result<()> {
    let msgs: Vec<(&Inbound, u32)> = files.iter().map(|f| (&f.msg, 0)).collect();
    let outcomes =
        hub.store_batch(&msgs, read).await.context("storing a batch (nothing of it was kept; load again to resume)")?;
    let mut applied = Vec::with_capacity(outcomes.len());
    for (file, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Ok(a) => applied.push(a),
            Err(e) => {
                tracing::error!(file = %file.name, "the store refused this file, and its refusal: {e}");
                loaded.failed.push((file.name.clone(), e.to_string()));
            }
        }
    }
    settle(hub, &applied, dead, loaded).await
}

/// Keeps the planner's statistics up with the load. A store that grows from empty to a million
/// events in minutes outruns autovacuum (and some servers run without it); with statistics of an
/// empty table the planner scans whole tables for every lookup, and the load slows to a crawl.
/// So the loader runs ANALYZE each time the store has doubled since the last one, on a
/// connection of its own beside the load (it took ~1 s a time over a year's store, and the load
/// waited for it), one at a time; the last is waited for before the load reports.
struct Statistics {
    events_at_last: i64,
    loaded_at_last: usize,
    running: Option<tokio::task::JoinHandle<Result<(), sqlx::Error>>>,
}

impl Statistics {
    async fn new(pool: &sqlx::PgPool) -> anyhow::Result<Statistics> {
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
        Ok(Statistics { events_at_last: events, loaded_at_last: 0, running: None })
    }

    async fn keep_up(&mut self, pool: &sqlx::PgPool, loaded: usize) -> anyhow::Result<()> {
        if self.running.as_ref().is_some_and(|r| !r.is_finished()) {
            return Ok(());
        }
        self.finish().await?;
        let grown = (loaded - self.loaded_at_last) as i64;
        if grown >= self.events_at_last.max(2_000) {
            let events = self.events_at_last + grown;
            let pool = pool.clone();
            self.running = Some(tokio::spawn(async move {
                let started = Instant::now();
                sqlx::query("ANALYZE").execute(&pool).await?;
                tracing::info!(events, took_ms = started.elapsed().as_millis() as u64, "statistics refreshed");
                Ok(())
            }));
            self.events_at_last += grown;
            self.loaded_at_last = loaded;
        }
        Ok(())
    }

    /// Waits for the ANALYZE in progress, if any.
    async fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(running) = self.running.take() {
            running.await.context("the ANALYZE task stopped")?.context("ANALYZE after loading")?;
        }
        Ok(())
    }
}

fn read_file(dir: &Path, p: &PlannedSend) -> anyhow::Result<File> {
    let path: PathBuf = dir.join(&p.file);
    let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(&p.file).to_string();
    let msg = Inbound {
        queue_agency: p.agency.as_str().into(),
        routing_key: format!("{}.{}", p.agency, p.connector),
        message_id: Some(name.clone()),
        user_id: None,
        traceparent: None,
        body,
    };
    Ok(File { name, msg })
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
