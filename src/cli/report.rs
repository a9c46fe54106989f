//! `tracker report list | run`: the catalogue of 42 reports, run over the store and rendered.
use std::process::ExitCode;

use clap::Subcommand;

use crate::reports::{self, Params, render};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The reports there are.
    List,
    /// Run one report.
    Run {
        name: String,
        /// First day of the period (inclusive).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day of the period (inclusive).
        #[arg(long)]
        to: chrono::NaiveDate,
        #[arg(long)]
        court: Option<String>,
        #[arg(long)]
        agency: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: render::Format,
        /// List the records behind the figures instead (an auditor's view).
        #[arg(long)]
        detail: bool,
    },
}

pub async fn run(settings: &Settings, command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::List => {
            for r in reports::REPORTS {
                println!("{:>2}  {:<28} {}", r.number, r.name, r.title);
            }
        }
        ReportCommand::Run { name, from, to, court, agency, format, detail } => {
            let pool = super::store(settings).await?;
            let params = Params { from, to, court, agency };
            let report = if detail {
                reports::detail(&pool, &name, params).await?
            } else {
                reports::run(&pool, &name, params).await?
            };
            print!("{}", render::render(&report, format));
        }
    }
    Ok(ExitCode::SUCCESS)
}
