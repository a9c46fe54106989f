//! `tracker records erase`: erase records at their owning agency's request (DPA 2018 s.47).
use std::process::ExitCode;

use clap::Subcommand;
use uuid::Uuid;

use super::Actor;
use crate::hub::Hub;
use crate::ops::erasure::{self, ErasureError};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Erase records (event ids) at the request of the agency that sent them: their personal data
    /// goes from the whole store (events, projections, identifier index, raw archive), the fact
    /// of the erasure stays, and every agency holding a copy gets an erasure notice.
    Erase {
        #[arg(required = true)]
        events: Vec<Uuid>,
        /// The owning agency that asks (it must have sent every record named).
        #[arg(long)]
        agency: String,
        /// Why (kept with the erasure; no personal data, please).
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: Actor,
    },
}

pub async fn run(settings: Settings, command: RecordsCommand) -> anyhow::Result<ExitCode> {
    match command {
        RecordsCommand::Erase { events, agency, reason, json, actor } => {
            let hub = Hub::build(settings).await?;
            match erasure::erase(&hub, &events, &agency, &reason, &actor.by).await {
                Ok(done) if json => println!("{}", serde_json::to_string(&done)?),
                Ok(done) => println!(
                    "erased {} record(s) ({} erased before); {} archived cop{} blanked; {} erasure notice(s) queued",
                    done.erased.len(),
                    done.already.len(),
                    done.archive_copies,
                    if done.archive_copies == 1 { "y" } else { "ies" },
                    done.notices
                ),
                Err(e @ (ErasureError::NotFound(_) | ErasureError::NotOwner { .. } | ErasureError::NoReason)) => {
                    eprintln!("refused: {e}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
