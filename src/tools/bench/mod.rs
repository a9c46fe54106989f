//! Benchmarks that print figures (never timed tests), each beside baselines measured in the same
//! run: `inbound` (custody files through a sandboxed hub), `delivery` (updates three agencies each
//! receive, end to end), `hostile` (one agency's hostile traffic against everyone else's
//! latency), `reports` (the 42 reports over a generated or the configured store) and `court`
//! (the court's list and bench summary over one).
//! `traffic` builds the payloads and watches the recipients' queues; `baseline` measures what
//! the broker alone does with the same messages; `cpu` what the processors did meanwhile (busy, idle,
//! stolen by the host).
mod baseline;
mod court;
mod cpu;
mod delivery;
mod hostile;
mod inbound;
mod reports;
mod traffic;

use clap::Subcommand;

use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Generated traffic for N people over M months loaded through the connectors (`tracker
    /// load`), then every report timed; or, with --store, every report timed over the configured
    /// store as it is.
    Reports(Store),
    /// Deliveries end to end (three recipients per update): throughput flat out, then latency
    /// percentiles at a steady rate, beside the raw broker pass-through.
    Delivery {
        /// People (and updates per phase).
        #[arg(long, default_value_t = 2_000)]
        updates: usize,
        /// Updates per second in the latency phase (default: half the flat-out rate measured).
        #[arg(long)]
        rate: Option<u32>,
    },
    /// Police deliveries at a steady rate, quiet and while a court sends hostile payloads:
    /// latency percentiles of both and their ratio.
    Hostile {
        /// Arrests (and people) per phase.
        #[arg(long, default_value_t = 600)]
        updates: usize,
        /// Arrests per second.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Hostile court payloads sent during the second phase.
        #[arg(long, default_value_t = 100)]
        hostile: usize,
    },
    /// The court's views — the bench summary of the longest history a court has, the court list
    /// of the busiest sitting — over generated traffic (N people over M months, loaded as `bench
    /// reports` does; `--people 10000 --months 120` is about a million events, with a sitting of
    /// over 200 defendants and ten-year histories) or, with --store, over the configured store.
    Court(Store),
    /// Police files totalling N rows through the hub, beside the raw broker pass-through.
    Inbound {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 500)]
        rows_per_file: usize,
    },
}

/// The store a benchmark reads: generated traffic for N people over M months loaded through the
/// connectors (`tracker load`), or with --store the configured one as it is.
#[derive(Debug, clap::Args)]
pub struct Store {
    #[arg(long, default_value_t = 2_000)]
    people: usize,
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// Files per transaction while loading (fewer where they reach --batch-bytes).
    #[arg(long, default_value_t = crate::tools::load::Batches::DEFAULT_FILES)]
    batch: usize,
    /// Bytes of files per transaction at most while loading.
    #[arg(long, default_value_t = crate::tools::load::Batches::DEFAULT_MAX_BYTES)]
    batch_bytes: usize,
    /// Read the configured database instead (period: the events' span, to the last one
    /// recorded).
    #[arg(long)]
    store: bool,
    /// Keep the generated store afterwards (its URL is printed) to time it again with --store.
    #[arg(long, conflicts_with = "store")]
    keep: bool,
}

impl Store {
    fn batches(&self) -> crate::tools::load::Batches {
        crate::tools::load::Batches { files: self.batch, max_bytes: self.batch_bytes }
    }
}

pub async fn run(settings: Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Inbound { rows, rows_per_file } => inbound::run(settings, rows, rows_per_file).await,
        BenchCommand::Delivery { updates, rate } => delivery::run(settings, updates, rate).await,
        BenchCommand::Hostile { updates, rate, hostile } => hostile::run(settings, updates, rate, hostile).await,
        BenchCommand::Reports(Store { store: true, .. }) => reports::over_store(settings).await,
        BenchCommand::Reports(generated) => reports::run(settings, &generated).await,
        BenchCommand::Court(Store { store: true, .. }) => court::over_store(settings).await,
        BenchCommand::Court(generated) => court::run(settings, &generated).await,
    }
}
