//! `tracker sharing explain | what-if`: why an update went where it went, and what other
//! agreements would change (read-only).
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::hub::Hub;
use crate::settings::Settings;
use crate::sharing::inspect;

#[derive(Debug, Subcommand)]
pub enum SharingCommand {
    /// Explain the decision for an update and a recipient.
    Explain {
        event_id: uuid::Uuid,
        recipient: crate::domain::names::AgencyId,
        #[command(flatten)]
        output: super::Output,
    },
    /// Replay logged decisions against the agreements in DIR and list those that would change.
    WhatIf {
        agreements_dir: PathBuf,
        #[command(flatten)]
        output: super::Output,
    },
}

pub async fn run(settings: Settings, command: SharingCommand) -> anyhow::Result<ExitCode> {
    let hub = Hub::build(settings).await?;
    let now = hub.clock.now();
    match command {
        SharingCommand::Explain { event_id, recipient, output } => {
            let x = inspect::explain(&hub.pool, &hub.sharing, event_id, &recipient, now).await?;
            if output.json { output.print(&x)? } else { print!("{}", x.text()) }
        }
        SharingCommand::WhatIf { agreements_dir, output } => {
            let w = inspect::what_if(&hub.pool, &hub.sharing, &agreements_dir, now).await?;
            if output.json { output.print(&w)? } else { print!("{}", w.text()) }
        }
    }
    Ok(ExitCode::SUCCESS)
}
