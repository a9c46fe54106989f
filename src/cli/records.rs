//! `tracker records erase | restrict | unrestrict | restrictions`: erase or restrict records at
//! their owning agency's request (DPA 2018 s.47), and list restrictions (for auditors).
use std::process::ExitCode;

use clap::Subcommand;
use uuid::Uuid;

use super::Actor;
use crate::hub::Hub;
use crate::ops::erasure::{self, ErasureError};
use crate::ops::restriction::{self, RestrictionError};
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
    /// Restrict records (event ids) at the request of the agency that sent them: kept (as
    /// evidence) but sent to nobody, counted in no report, not shown to courts; agencies
    /// holding copies get a restriction notice.
    Restrict {
        #[arg(required = true)]
        events: Vec<Uuid>,
        #[arg(long)]
        agency: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Lift restrictions: the records count in reports and decisions again.
    Unrestrict {
        #[arg(required = true)]
        events: Vec<Uuid>,
        #[arg(long)]
        agency: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Every restriction, newest first (lifted ones too).
    Restrictions {
        #[arg(long)]
        json: bool,
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
        RecordsCommand::Restrict { events, agency, reason, actor } => {
            let hub = Hub::build(settings).await?;
            match restriction::restrict(&hub, &events, &agency, &reason, &actor.by).await {
                Ok((restricted, notices)) => {
                    println!("restricted {restricted} record(s); {notices} restriction notice(s) queued")
                }
                Err(e @ (RestrictionError::NotFound(_) | RestrictionError::NotOwner { .. })) => {
                    eprintln!("refused: {e}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
        RecordsCommand::Unrestrict { events, agency, actor } => {
            let hub = Hub::build(settings).await?;
            match restriction::lift(&hub, &events, &agency, &actor.by).await {
                Ok(lifted) => println!("lifted {lifted} restriction(s)"),
                Err(e @ (RestrictionError::NotFound(_) | RestrictionError::NotOwner { .. })) => {
                    eprintln!("refused: {e}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
        RecordsCommand::Restrictions { json } => {
            let pool = super::store(&settings).await?;
            for r in crate::store::restrictions::list(&pool).await? {
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    println!(
                        "{}  {}  {:<14} {:<20} {}{}  by {}: {}",
                        r.restricted_at.format("%Y-%m-%d %H:%M UTC"),
                        r.event_id,
                        r.agency,
                        r.event_type,
                        r.subject_id.map(|s| s.to_string()).unwrap_or_default(),
                        r.lifted_at.map(|l| format!(" (lifted {})", l.format("%Y-%m-%d"))).unwrap_or_default(),
                        r.restricted_by,
                        r.reason
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
