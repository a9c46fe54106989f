//! `tracker audit verify`: the disclosure log's hash chain.
use std::process::ExitCode;

use clap::Subcommand;

use crate::settings::Settings;
use crate::sharing::log::{self, Verified};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the disclosure log's hash chain: says which entry was edited, deleted or reordered.
    Verify,
}

pub async fn run(settings: &Settings, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify => {
            let pool = crate::store::connect(&settings.database.url, 2).await?;
            match log::verify(&pool).await? {
                Verified::Intact { entries } => println!("disclosure log intact: {entries} entries"),
                broken => {
                    eprintln!("disclosure log broken: {}", log::describe(&broken));
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
