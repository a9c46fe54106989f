//! The one-off tools' commands: `send` (publish files as an agency would), `load` (backload),
//! `demo` (and `demo generate`), `attack`. `bench` takes its arguments from `tools::bench`.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::broker::{Names, provision, publish};
use crate::hub::Hub;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct SendArgs {
    #[arg(long)]
    agency: crate::domain::names::AgencyId,
    #[arg(long)]
    connector: String,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The agency the files are from (with --connector); without it, PATHS is one directory
    /// holding a send plan.
    #[arg(long, requires = "connector")]
    agency: Option<String>,
    #[arg(long, requires = "agency")]
    connector: Option<String>,
    /// Files per transaction (fewer where they reach --batch-bytes).
    #[arg(long, default_value_t = crate::tools::load::Batches::DEFAULT_FILES)]
    batch: usize,
    /// Bytes of files per transaction at most (a batch in hand takes some 40 times as much memory).
    #[arg(long, default_value_t = crate::tools::load::Batches::DEFAULT_MAX_BYTES)]
    batch_bytes: usize,
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A directory of payloads with a send plan (expected.json); `generate` writes one.
    #[arg(long, default_value = "samples")]
    samples: PathBuf,
    #[command(subcommand)]
    command: Option<DemoCommand>,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write realistic legacy feeds for all four agencies and a send plan; deterministic for a seed.
    Generate {
        #[arg(long, default_value_t = 200)]
        people: usize,
        #[arg(long, default_value_t = 6)]
        months: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct AttackArgs {
    /// The long version: size sweeps and seeded mutations of every sample payload.
    #[arg(long)]
    long: bool,
    /// Mutations of each sample payload in the long version.
    #[arg(long, default_value_t = 100)]
    mutations: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the sample payloads are.
    #[arg(long, default_value = "samples")]
    samples: PathBuf,
    /// A line per case.
    #[arg(long)]
    verbose: bool,
}

pub async fn send(settings: &Settings, args: SendArgs) -> anyhow::Result<ExitCode> {
    let names = Names::new(&settings.broker.prefix);
    let conn = crate::broker::connect(&settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    for f in &args.files {
        publish::send_file(&ch, &names, &args.agency, &args.connector, f).await?;
        println!("sent {} as {}.{} (confirmed)", f.display(), args.agency, args.connector);
    }
    crate::broker::close(&conn, "sent").await;
    Ok(ExitCode::SUCCESS)
}

pub async fn load(settings: Settings, args: LoadArgs) -> anyhow::Result<ExitCode> {
    use crate::tools::load;
    let (dir, plan) = load::plan_for(args.agency, args.connector, &args.paths)?;
    provision::provision(&settings).await?;
    let names = Names::new(&settings.broker.prefix);
    let hub = Arc::new(Hub::build(settings).await?);
    let conn = crate::broker::connect(&hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    let batches = load::Batches { files: args.batch, max_bytes: args.batch_bytes };
    let loaded = load::load(hub, &dir, plan, batches, &load::DeadLetters { ch: &ch, names: &names }).await;
    crate::broker::close(&conn, "loaded").await;
    let loaded = loaded?;
    println!("{}", loaded.describe());
    for (file, error) in &loaded.failed {
        eprintln!("{file}: the store refused it: {error}");
    }
    if loaded.refused > 0 {
        eprintln!("{} items refused, each with its reason: tracker deadletters list", loaded.refused);
    }
    // Anything refused — an item by its connector, a file by the store — is a non-zero exit, so
    // a script that backloads knows to look.
    Ok(if loaded.failed.is_empty() && loaded.refused == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub async fn demo(mut settings: Settings, args: DemoArgs) -> anyhow::Result<ExitCode> {
    if let Some(DemoCommand::Generate { people, months, seed, out }) = args.command {
        let files = crate::tools::generate::generate(people, months, seed, &out)?;
        println!(
            "wrote {files} payloads for {people} people over {months} months to {} (send them: tracker demo --samples {})",
            out.display(),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if settings.clock.fixed.is_empty() {
        // The sample month's expected outcomes assume this clock.
        settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    }
    let hub = Arc::new(Hub::build(settings).await?);
    crate::tools::demo::run(hub, &args.samples).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn attack(settings: Settings, args: AttackArgs) -> anyhow::Result<ExitCode> {
    use crate::tools::attack::{Scale, run_in_sandbox};
    let scale =
        if args.long { Scale::Long { mutations_per_sample: args.mutations, seed: args.seed } } else { Scale::Short };
    let outcome = run_in_sandbox(settings, &args.samples, scale, args.verbose).await?;
    println!("attack cases tried: {}, passed: {}", outcome.tried, outcome.passed);
    for (case, why) in &outcome.failures {
        println!("FAILED {case}: {why}");
    }
    Ok(if outcome.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
