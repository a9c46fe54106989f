//! `tracker consent grant | withdraw | show`: consent to share health data, recorded by an
//! operator with who recorded it.
use std::process::ExitCode;

use clap::Subcommand;
use sqlx::PgPool;
use uuid::Uuid;

use super::Actor;
use crate::consent::{Change, ConsentChange};
use crate::settings::Settings;
use crate::sharing::decide::RecordedScope;

/// A scope as the command line takes it: ALL, CRT (courts) or PRB (probation).
fn parse_scope(text: &str) -> Result<RecordedScope, String> {
    RecordedScope::parse(text).ok_or_else(|| format!("scope is ALL, CRT or PRB, not {text:?}"))
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Grant consent for a scope (ALL, CRT courts, PRB probation).
    Grant {
        key: String,
        #[arg(long, default_value = "ALL", value_parser = parse_scope)]
        scope: RecordedScope,
        /// First day covered (default: today by the hub's clock).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day covered (default: open).
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Withdraw consent for a scope: nothing not yet published is sent.
    Withdraw {
        key: String,
        #[arg(long, default_value = "ALL", value_parser = parse_scope)]
        scope: RecordedScope,
        #[command(flatten)]
        actor: Actor,
    },
    /// Show a person's consent records in the order applied.
    Show {
        key: String,
        #[command(flatten)]
        output: super::Output,
    },
}

/// The person a key (e.g. `PNC:2019/0012345G`) names.
async fn subject_of(pool: &PgPool, key: &str) -> anyhow::Result<Uuid> {
    let id = crate::person::parse_key(key)?;
    crate::store::subjects::find(pool, id.scheme().as_str(), id.value())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no person has {id}"))
}

pub async fn run(settings: &Settings, command: ConsentCommand) -> anyhow::Result<ExitCode> {
    let pool = super::store(settings).await?;
    let now = super::now(settings)?;
    match command {
        ConsentCommand::Grant { key, scope, from, until, actor } => {
            let subject = subject_of(&pool, &key).await?;
            let from = from.unwrap_or_else(|| crate::sharing::today(now));
            let change =
                ConsentChange { subject, change: Change::Grant, scope, effective: from, expiry: until, by: actor.by };
            crate::consent::record(&pool, &change, now).await?;
            println!("consent granted for {} from {from}", scope.code());
        }
        ConsentCommand::Withdraw { key, scope, actor } => {
            let subject = subject_of(&pool, &key).await?;
            let change = ConsentChange {
                subject,
                change: Change::Withdraw,
                scope,
                effective: crate::sharing::today(now),
                expiry: None,
                by: actor.by,
            };
            crate::consent::record(&pool, &change, now).await?;
            println!("consent withdrawn for {}: nothing not yet published will be sent", scope.code());
        }
        ConsentCommand::Show { key, output } if output.json => {
            let subject = subject_of(&pool, &key).await?;
            output.print(&crate::store::consents::history(&pool, subject).await?)?;
        }
        ConsentCommand::Show { key, .. } => {
            print!("{}", crate::consent::show(&pool, subject_of(&pool, &key).await?).await?)
        }
    }
    Ok(ExitCode::SUCCESS)
}
