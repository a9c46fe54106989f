//! `tracker retention run | review`: records kept no longer than their data class's period, and
//! the periodic review of what is kept (DPA 2018 s.39).
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Subcommand;

use super::Actor;
use crate::hub::Hub;
use crate::retention::{self, Decision};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Erase every record past its period (not held by a review); --dry-run counts them only.
    Run {
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// List what is due for review, by agency and class; with --agency and --class, decide for
    /// what is due: --keep-until DATE, or --erase.
    Review {
        #[arg(long, requires = "class")]
        agency: Option<String>,
        #[arg(long, requires = "agency")]
        class: Option<String>,
        #[arg(long, requires = "agency", conflicts_with = "erase")]
        keep_until: Option<NaiveDate>,
        #[arg(long, requires = "agency")]
        erase: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: Actor,
    },
}

pub async fn run(settings: Settings, command: RetentionCommand) -> anyhow::Result<ExitCode> {
    let hub = Hub::build(settings).await?;
    match command {
        RetentionCommand::Run { dry_run, json } => {
            let pass = retention::run(&hub, dry_run).await?;
            if json {
                println!("{}", serde_json::to_string(&pass)?);
                return Ok(ExitCode::SUCCESS);
            }
            for (agency, classes) in &pass.expired {
                for (class, n) in classes {
                    println!("{agency:<16} {class:<18} {n:>8} past their period");
                }
            }
            if dry_run {
                println!("dry run: nothing erased");
            } else {
                println!("erased {} record(s); {} erasure notice(s) queued", pass.erased, pass.notices);
            }
        }
        RetentionCommand::Review { agency: Some(agency), class: Some(class), keep_until, erase, json: _, actor } => {
            let decision = match (keep_until, erase) {
                (Some(until), false) => Decision::KeepUntil(until),
                (None, true) => Decision::Erase,
                _ => {
                    eprintln!("decide with --keep-until DATE or --erase");
                    return Ok(ExitCode::from(2));
                }
            };
            let n = retention::decide(&hub, &agency, &class, decision, &actor.by).await?;
            match decision {
                Decision::KeepUntil(until) => println!("{n} {class} record(s) of {agency} kept until {until}"),
                Decision::Erase => println!("{n} {class} record(s) of {agency} erased"),
            }
        }
        RetentionCommand::Review { json, .. } => {
            let due = retention::due(&hub).await?;
            if json {
                println!("{}", serde_json::to_string(&due)?);
            } else if due.is_empty() {
                println!("nothing is due for review");
            } else {
                println!("{:<16} {:<18} {:>8}  {:<11} keep / review", "agency", "class", "due", "oldest");
                for d in &due {
                    println!(
                        "{:<16} {:<18} {:>8}  {:<11} {:?} / {:?}",
                        d.agency,
                        d.data_class,
                        d.records,
                        d.oldest.map(|o| o.date_naive().to_string()).unwrap_or_default(),
                        d.keep,
                        d.review
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
