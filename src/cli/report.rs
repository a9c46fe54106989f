//! `tracker report list | run`: the catalogue of 42 reports, run over the store and rendered.
use std::process::ExitCode;

use clap::Subcommand;

use crate::reports::{self, Params, render};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The reports there are.
    List {
        #[command(flatten)]
        output: super::Output,
    },
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
        /// The same as `--format json`.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Write the report into this directory under its file name (number, name, period,
        /// scope) instead of printing it; a CSV also gets a JSON sidecar (`….csv.json`) saying
        /// what it is.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// List the records behind the figures instead (an auditor's view, kept in the
        /// consultation log with --by).
        #[arg(long)]
        detail: bool,
        #[command(flatten)]
        actor: super::Actor,
    },
}

pub async fn run(settings: &Settings, command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::List { output } if output.json => output.print(
            &reports::REPORTS
                .iter()
                .map(|r| serde_json::json!({"number": r.number, "name": r.name, "title": r.title, "definition": r.definition}))
                .collect::<Vec<_>>(),
        )?,
        ReportCommand::List { .. } => {
            for r in reports::REPORTS {
                println!("{:>2}  {:<28} {}", r.number, r.name, r.title);
            }
        }
        ReportCommand::Run { name, from, to, court, agency, format, json, out, detail, actor } => {
            let format = if json { render::Format::Json } else { format };
            let pool = super::store(settings).await?;
            let params = Params { from, to, court, agency };
            let report = if detail {
                let looker = crate::consultations::Looker {
                    viewer: &actor.by,
                    role: "auditor",
                    purpose: "",
                    at: super::now(settings)?,
                };
                reports::detail(&pool, &name, params, &looker).await?
            } else {
                reports::run(&pool, &name, params).await?
            };
            match out {
                None => print!("{}", render::render(&report, format)),
                Some(dir) => {
                    let path = dir.join(render::file_name(&report, format));
                    std::fs::write(&path, render::render(&report, format))
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                    if format == render::Format::Csv {
                        let sidecar = path.with_extension("csv.json");
                        std::fs::write(&sidecar, serde_json::to_string_pretty(&render::metadata(&report))? + "\n")
                            .map_err(|e| anyhow::anyhow!("writing {}: {e}", sidecar.display()))?;
                    }
                    println!("{}", path.display());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
