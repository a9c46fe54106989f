//! `tracker connector test` (what a payload becomes; needs neither broker nor store) and
//! `tracker connector check`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::connectors::{Connector, ItemOutcome, Publisher, Registry};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Print the events a payload becomes (touches neither broker nor store).
    Test { connector_file: PathBuf, payload: PathBuf },
    /// Load and check every connector file.
    Check,
}

/// Exits 1 when anything was refused, so a script can tell a payload that reads.
pub fn test(config: &Path, connector_file: &Path, payload: &Path) -> anyhow::Result<ExitCode> {
    let connector = Connector::load(connector_file)?;
    let body = std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
    let limits = Settings::load(config).map(|s| s.limits.parse).unwrap_or_default();
    let outcome = connector.parse(&body, &Publisher { agency: "(test)", codes: &[] }, &limits);
    let (json, refused) = match outcome {
        Ok(items) => {
            let refused = items.iter().any(|i| matches!(i, ItemOutcome::Refused { .. }));
            (crate::connectors::describe(&items), refused)
        }
        Err(r) => (serde_json::json!({"refused": r.code, "reason": r.reason}), true),
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub fn run(settings: &Settings, command: ConnectorCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectorCommand::Test { .. } => unreachable!("run before configuration is loaded"),
        ConnectorCommand::Check => {
            let registry = Registry::load(&settings.paths.connectors)?;
            settings.check_connectors(&registry.names())?;
            for name in registry.names() {
                println!("ok {name}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
