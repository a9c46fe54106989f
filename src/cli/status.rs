//! `tracker status`: queues, dead letters, outbox backlog and each connector's last refusal.
use std::process::ExitCode;

use clap::Args;

use crate::ops::status;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

pub async fn run(settings: &Settings, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let pool = super::store(settings).await?;
    let found = status::gather(settings, &pool).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", status::render(&found, super::now(settings)?));
    }
    Ok(ExitCode::SUCCESS)
}
