//! `tracker identity conflicts | link | apart`: records whose identifiers named two people, and
//! the operator's decision on them (recorded with who made it).
use std::process::ExitCode;

use clap::Subcommand;

use super::Actor;
use crate::hub::Hub;
use crate::ops::identity::{Decision, decide, list};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Conflicts waiting for a decision (`--all` includes decided ones).
    Conflicts {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: super::Output,
    },
    /// Link the people of a conflict as one person.
    Link {
        id: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Keep the people of a conflict apart (the record goes to its strongest identifier's person).
    Apart {
        id: i64,
        #[command(flatten)]
        actor: Actor,
    },
}

pub async fn run(settings: Settings, command: IdentityCommand) -> anyhow::Result<ExitCode> {
    let hub = Hub::build(settings).await?;
    match command {
        IdentityCommand::Conflicts { all, output } => {
            let conflicts = list(&hub, !all).await?;
            if output.json {
                output.print(&conflicts)?;
                return Ok(ExitCode::SUCCESS);
            }
            for c in conflicts {
                println!(
                    "{:>5}  {}  {} {}  identifiers {}  subjects {:?}  {}{}",
                    c.id,
                    c.detected_at.format("%Y-%m-%d %H:%M"),
                    c.agency,
                    c.message_id,
                    c.identifiers,
                    c.subject_ids,
                    c.status,
                    c.decided_by.map(|b| format!(" by {b}")).unwrap_or_default()
                );
            }
        }
        IdentityCommand::Link { id, actor } => {
            println!("linked as subject {}", decide(&hub, id, Decision::Link, &actor.by).await?)
        }
        IdentityCommand::Apart { id, actor } => println!(
            "kept apart; the record goes to subject {}",
            decide(&hub, id, Decision::KeepApart, &actor.by).await?
        ),
    }
    Ok(ExitCode::SUCCESS)
}
