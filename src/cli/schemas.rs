//! `tracker schemas show | release | check`: the Avro schemas and their compatibility with the
//! last released version (needs no configuration).
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::schemas;

#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// Fail if a schema changed incompatibly with its last released version.
    Check {
        #[arg(long, default_value = "schemas/released.json")]
        released: PathBuf,
    },
    /// Record the current schemas as the released version, and the envelope in
    /// schemas/history/ by its fingerprint (so data it writes is read after later changes).
    Release {
        #[arg(long, default_value = "schemas/released.json")]
        released: PathBuf,
    },
    /// Print the envelope writer schema and its fingerprint.
    Show,
}

pub fn run(command: &SchemasCommand) -> anyhow::Result<ExitCode> {
    let current = schemas::get()?;
    match command {
        SchemasCommand::Show => {
            println!("fingerprint (CRC-64-AVRO): {}", current.fingerprint_hex());
            println!(
                "parsing canonical form: {}",
                schemas::parsing_canonical_form(&current.envelope_json, "tracker.v1")
            );
            println!("{}", serde_json::to_string_pretty(&current.envelope_json)?);
        }
        SchemasCommand::Release { released } => {
            std::fs::write(released, serde_json::to_string_pretty(&current.files)? + "\n")?;
            let history = released.parent().unwrap_or(std::path::Path::new(".")).join("history");
            std::fs::create_dir_all(&history)?;
            let writer = history.join(format!("{}.json", current.fingerprint_hex()));
            std::fs::write(&writer, serde_json::to_string_pretty(&current.envelope_json)? + "\n")?;
            println!(
                "recorded {} schemas as released in {}, and the writer schema as {}",
                current.files.len(),
                released.display(),
                writer.display()
            );
        }
        SchemasCommand::Check { released } => {
            let text = std::fs::read_to_string(released).with_context(|| format!("reading {}", released.display()))?;
            let old = serde_json::from_str(&text)?;
            let problems = schemas::check_compatibility(&old)?;
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("incompatible: {p}");
                }
                return Ok(ExitCode::FAILURE);
            }
            println!("schemas are backward compatible with {}", released.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
