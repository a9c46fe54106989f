//! Benchmarks that print figures (never timed tests).
use clap::Subcommand;

use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Police files totalling N rows through the hub, beside the raw broker pass-through.
    Inbound {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 500)]
        rows_per_file: usize,
    },
}

pub async fn run(_settings: Settings, _command: BenchCommand) -> anyhow::Result<()> {
    anyhow::bail!("the inbound benchmark is not built yet")
}
