//! `tracker audit verify`: the hash chains of the disclosure log and the consultation log;
//! `tracker audit consultations`: who looked at whom.
use std::process::ExitCode;

use clap::Subcommand;
use uuid::Uuid;

use crate::chain::{Verified, describe};
use crate::settings::Settings;
use crate::sharing::log;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chains of the disclosure log and the consultation log: says which entry was
    /// edited, deleted or reordered.
    Verify,
    /// List consultations (who viewed whose record, for which court and purpose, and attempts
    /// refused), newest first.
    Consultations {
        /// Only those about this person (subject id).
        #[arg(long)]
        person: Option<Uuid>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let pool = crate::store::connect(&settings.database.url, 2).await?;
    match command {
        AuditCommand::Verify => {
            let mut intact = true;
            for (name, verified) in [
                ("disclosure log", log::verify(&pool).await?),
                ("consultation log", crate::consultations::verify(&pool).await?),
            ] {
                match verified {
                    Verified::Intact { entries } => println!("{name} intact: {entries} entries"),
                    broken => {
                        eprintln!("{name} broken: {}", describe(&broken));
                        intact = false;
                    }
                }
            }
            if !intact {
                return Ok(ExitCode::FAILURE);
            }
        }
        AuditCommand::Consultations { person, limit, json } => {
            let rows = crate::consultations::latest(&pool, person, limit.clamp(1, 100_000)).await?;
            for (id, c) in rows {
                if json {
                    println!("{}", serde_json::json!({"id": id, "consultation": c}));
                } else {
                    println!(
                        "{id:>6}  {}  {:<8} {:<10} {:<14} {:<36} {:<22} {}  purpose: {}",
                        c.viewed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        c.outcome,
                        c.viewer,
                        c.court.as_deref().unwrap_or("-"),
                        c.subject_id.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                        c.view,
                        c.role,
                        c.purpose
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
