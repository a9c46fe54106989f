//! The `tracker` binary: parses the command line and hands over to `tracker::cli`.
use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = tracker::cli::Cli::parse();
    match tracker::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tracker: {e:#}");
            ExitCode::FAILURE
        }
    }
}
