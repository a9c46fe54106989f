//! `tracker person show` (an operator's view of one person) and `tracker person export` (subject
//! access, DPA 2018 s.45, recorded with who asked). Both are logged in the consultation log
//! (DPA 2018 s.62) with who looked, and why.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Actor;
use crate::consultations::Looker;
use crate::person;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Subject access: everything held about the person and every disclosure of it (JSON, and
    /// a readable HTML page beside it), recorded with who asked (report 39).
    Export {
        key: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        actor: Actor,
    },
    /// Show a person's identifiers, names and timeline.
    Show {
        /// e.g. PNC:2019/0012345G
        key: String,
        #[arg(long)]
        json: bool,
        /// Why you look (kept in the consultation log).
        #[arg(long, default_value = "")]
        purpose: String,
        #[command(flatten)]
        actor: Actor,
    },
}

pub async fn run(settings: &Settings, command: PersonCommand) -> anyhow::Result<ExitCode> {
    match command {
        PersonCommand::Export { key, out, actor } => {
            let key = person::parse_key(&key)?;
            let pool = super::store(settings).await?;
            let doc = crate::export::export(&pool, settings, &key, &out, &actor.by, super::now(settings)?).await?;
            println!(
                "wrote {} and {} ({} events, {} disclosure log entries)",
                out.display(),
                out.with_extension("html").display(),
                doc["person"]["timeline"].as_array().map_or(0, Vec::len),
                doc["disclosures"].as_array().map_or(0, Vec::len)
            );
        }
        PersonCommand::Show { key, json, purpose, actor } => {
            let key = person::parse_key(&key)?;
            let pool = super::store(settings).await?;
            let looker = Looker { viewer: &actor.by, role: "operator", purpose: &purpose, at: super::now(settings)? };
            match person::show(&pool, &key, &looker).await {
                Ok(p) if json => println!("{}", serde_json::to_string_pretty(&p)?),
                Ok(p) => print!("{}", person::render_table(&p)),
                Err(person::PersonError::NotFound(k)) => {
                    eprintln!("no person has {k}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
