//! `tracker deadletters list | show | replay | purge` and `tracker reprocess`: what was refused,
//! and reading it again after a fix (recorded with who did it).
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{Actor, Output};
use crate::hub::Hub;
use crate::ops::deadletters;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum DeadlettersCommand {
    /// Open dead letters, oldest first, a page at a time.
    List {
        /// Only those with an id above this (the next page).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many (up to 500).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        output: Output,
    },
    /// One dead letter: reason, raw payload, how it arrived.
    Show {
        id: i64,
        #[command(flatten)]
        output: Output,
    },
    /// Read the messages behind these dead letters again through their connectors. Exits 1
    /// when items are still refused.
    Replay {
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        actor: Actor,
        #[command(flatten)]
        output: Output,
    },
    /// Give up on these dead letters (recorded as purged, with who did it).
    Purge {
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        actor: Actor,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct ReprocessArgs {
    #[arg(long)]
    connector: String,
    /// Messages received at or after this instant (RFC 3339).
    #[arg(long)]
    since: chrono::DateTime<chrono::Utc>,
    #[command(flatten)]
    output: Output,
}

pub async fn run(settings: Settings, command: DeadlettersCommand) -> anyhow::Result<ExitCode> {
    let hub = Hub::build(settings).await?;
    match command {
        DeadlettersCommand::List { after, limit, output } => {
            let page = deadletters::page(&hub, after, limit).await?;
            if output.json {
                return output.print(&page).map(|()| ExitCode::SUCCESS);
            }
            for d in &page {
                let at = if d.item_position == 0 { "whole".to_string() } else { format!("item {}", d.item_position) };
                println!(
                    "{:>6}  {}  {:<18} {} ({at}): {}",
                    d.id,
                    d.refused_at.format("%Y-%m-%d %H:%M"),
                    d.connector,
                    crate::connectors::limits::printable(&d.message_id),
                    d.reason.escape_debug()
                );
            }
            if page.len() as i64 == limit.clamp(1, deadletters::PAGE_LIMIT)
                && let Some(last) = page.last()
            {
                println!("(more: tracker deadletters list --after {})", last.id);
            }
        }
        DeadlettersCommand::Show { id, output } if output.json => {
            use base64::Engine;
            let (detail, raw) =
                deadletters::detail(&hub, id).await?.ok_or_else(|| anyhow::anyhow!("no dead letter {id}"))?;
            let mut shown = serde_json::to_value(&detail)?;
            shown["payload_base64"] = base64::engine::general_purpose::STANDARD.encode(&raw).into();
            output.print(&shown)?;
        }
        DeadlettersCommand::Show { id, .. } => print!("{}", deadletters::show(&hub, id).await?),
        DeadlettersCommand::Replay { ids, all, actor, output } => {
            let ids = if all { deadletters::list(&hub).await?.iter().map(|d| d.id).collect() } else { ids };
            let results = deadletters::replay(&hub, &ids, &actor.by).await?;
            return print_results(&results, &output);
        }
        DeadlettersCommand::Purge { ids, all, actor, output } => {
            let n = deadletters::purge(&hub, &ids, all, &actor.by).await?;
            if output.json {
                output.print(&serde_json::json!({"purged": n, "by": actor.by}))?;
            } else {
                println!("{n} dead letters purged by {}", actor.by);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a replay or reprocess did, as lines or JSON; failure when items are still refused.
fn print_results(results: &[deadletters::ReplayResult], output: &Output) -> anyhow::Result<ExitCode> {
    if output.json {
        output.print(&results)?;
    } else {
        for r in results {
            println!("{}: {} new events, {} items still refused", r.message_id, r.events, r.still_refused);
        }
    }
    Ok(if results.iter().any(|r| r.still_refused > 0) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub async fn reprocess(settings: Settings, args: ReprocessArgs) -> anyhow::Result<ExitCode> {
    let hub = Hub::build(settings).await?;
    let archives = deadletters::archived_since(&hub, &args.connector, args.since).await?;
    let mut progress = crate::tools::progress::Progress::new("reprocessing", "messages", archives.len());
    let results = deadletters::reprocess_archived(&hub, &archives, |done| progress.tick(done, None)).await?;
    let code = print_results(&results, &args.output)?;
    if !args.output.json {
        println!("{} messages of {} since {} reprocessed", archives.len(), args.connector, args.since);
    }
    Ok(code)
}
