//! The command line. `Cli` names the command groups; each group is a file of its own owning its
//! arguments, its body and its rendering. What several share is written once here: who did it
//! (`Actor`), and the store connection (`store`).
mod audit;
mod auth;
mod connector;
mod consent;
mod deadletters;
mod hub;
mod identity;
mod person;
mod records;
mod report;
mod retention;
mod schemas;
mod sharing;
mod status;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use sqlx::PgPool;

use crate::clock::Clock;
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(name = "tracker", version, about = "Justice information-sharing hub")]
pub struct Cli {
    /// Directory holding default.toml and <TRACKER_ENV>.toml.
    #[arg(long, global = true, env = "TRACKER_CONFIG_DIR", default_value = "config")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations.
    Migrate,
    /// Declare the broker contract: exchanges, queues, bindings (idempotent).
    Provision(hub::ProvisionArgs),
    /// Run the hub: consume every agency's queue until SIGINT or SIGTERM.
    Run,
    /// Publish files as an agency's adapter would (message id = file name).
    Send(tools::SendArgs),
    /// Backload files through the connectors, many per transaction: a directory with a send plan
    /// (`expected.json`, as `demo generate` writes), or files of one agency and connector.
    Load(tools::LoadArgs),
    /// Provision, run the hub, send the sample month and print what was stored.
    Demo(tools::DemoArgs),
    /// Connector files.
    Connector {
        #[command(subcommand)]
        command: connector::ConnectorCommand,
    },
    /// Avro schemas.
    Schemas {
        #[command(subcommand)]
        command: schemas::SchemasCommand,
    },
    /// People in the person index.
    Person {
        #[command(subcommand)]
        command: person::PersonCommand,
    },
    /// Consent to share health data, recorded by an operator.
    Consent {
        #[command(subcommand)]
        command: consent::ConsentCommand,
    },
    /// Records: erasure at the owning agency's request.
    Records {
        #[command(subcommand)]
        command: records::RecordsCommand,
    },
    /// Retention by data class: erase what has passed its period, review what is kept.
    Retention {
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
    /// The disclosure log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Why an update went where it went, and what other agreements would change (read-only).
    Sharing {
        #[command(subcommand)]
        command: sharing::SharingCommand,
    },
    /// Reports: the catalogue of 42, run, rendered and explained.
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
    /// Identity review: records whose identifiers named two people.
    Identity {
        #[command(subcommand)]
        command: identity::IdentityCommand,
    },
    /// Users of the HTTP interface.
    Auth {
        #[command(subcommand)]
        command: auth::AuthCommand,
    },
    /// Queues, dead letters, outbox backlog and each connector's last refusal.
    Status(status::StatusArgs),
    /// Dead letters: list, show, replay (after a fix), purge.
    Deadletters {
        #[command(subcommand)]
        command: deadletters::DeadlettersCommand,
    },
    /// Read archived messages of a connector again (after a connector fix); idempotent.
    Reprocess(deadletters::ReprocessArgs),
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: crate::tools::bench::BenchCommand,
    },
    /// The attack suite against a sandboxed hub (its own database and broker prefix): hostile
    /// payloads of every format, each followed by a police file that must still apply. Prints
    /// cases tried and passed; exits 1 if any failed.
    Attack(tools::AttackArgs),
}

/// Who did it: recorded with every action that changes something.
#[derive(Debug, Clone, Args)]
pub struct Actor {
    /// Who does it (recorded with the action).
    #[arg(long = "by", env = "USER", default_value = "operator")]
    pub by: String,
}

/// How a listing is printed: lines for a person, or with `--json` one JSON document on stdout for
/// a program (what is said on stderr stays text).
#[derive(Debug, Clone, Args)]
pub struct Output {
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

impl Output {
    pub fn print(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}

/// The store, connected and with its schema up to date.
async fn store(settings: &Settings) -> anyhow::Result<PgPool> {
    let pool = crate::store::connect(&settings.database.url, 2, "tracker cli").await?;
    crate::store::migrate(&pool).await?;
    Ok(pool)
}

/// Now, by the hub's clock (fixed in configuration for tests and the demo).
fn now(settings: &Settings) -> anyhow::Result<DateTime<Utc>> {
    Ok(settings.fixed_clock()?.map_or(Clock::System, Clock::Fixed).now())
}

/// What to do when RabbitMQ or PostgreSQL did not answer: which one, and the one script that
/// installs and starts both (the one `.ci/run` uses).
pub fn services_hint(e: &anyhow::Error) -> Option<String> {
    let refused = |io: &std::io::Error| {
        matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound | std::io::ErrorKind::TimedOut
        )
    };
    let which = e.chain().find_map(|cause| {
        if let Some(b) = cause.downcast_ref::<crate::broker::BrokerError>() {
            return match b {
                crate::broker::BrokerError::Timeout(_) => Some("RabbitMQ"),
                crate::broker::BrokerError::Amqp(e) => match e.kind() {
                    lapin::ErrorKind::IOError(io) if refused(io) => Some("RabbitMQ"),
                    _ => None,
                },
                _ => None,
            };
        }
        if let Some(s) = cause.downcast_ref::<crate::store::StoreError>() {
            return match s {
                crate::store::StoreError::Transient(sqlx::Error::PoolTimedOut) => Some("PostgreSQL"),
                crate::store::StoreError::Transient(sqlx::Error::Io(io)) if refused(io) => Some("PostgreSQL"),
                _ => None,
            };
        }
        None
    })?;
    Some(format!(
        "{which} is not answering. On Debian, `bash scripts/services` installs and starts RabbitMQ and PostgreSQL \
         as Tracker expects them (127.0.0.1:5672 guest/guest; 127.0.0.1:5432, user postgres, database test); \
         elsewhere start them yourself, or `docker compose up`."
    ))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that need no configuration.
    match &cli.command {
        Command::Connector { command: connector::ConnectorCommand::Test { connector_file, payload } } => {
            return connector::test(&cli.config, connector_file, payload);
        }
        Command::Schemas { command } => return schemas::run(command),
        // Hashing a password needs no configuration: it is what one does while writing it.
        Command::Auth { command } => return auth::run(command),
        _ => {}
    }
    let settings = Settings::load(&cli.config)?;
    // The demo and benchmarks print their own figures; their log shows only what went wrong
    // (benchmarks send bad rows on purpose, so only errors).
    let level = match cli.command {
        Command::Demo(_) => "warn",
        Command::Bench { .. } | Command::Attack(_) => "error",
        _ => settings.log.level.as_str(),
    };
    crate::telemetry::init(settings.log.format, level);
    match cli.command {
        Command::Migrate => hub::migrate(&settings).await,
        Command::Provision(args) => hub::provision(&settings, args).await,
        Command::Run => hub::run(settings).await,
        Command::Send(args) => tools::send(&settings, args).await,
        Command::Load(args) => tools::load(settings, args).await,
        Command::Demo(args) => tools::demo(settings, args).await,
        Command::Bench { command } => {
            crate::tools::bench::run(settings, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Attack(args) => tools::attack(settings, args).await,
        Command::Connector { command } => connector::run(&settings, command),
        Command::Schemas { .. } => unreachable!("handled above"),
        Command::Person { command } => person::run(&settings, command).await,
        Command::Consent { command } => consent::run(&settings, command).await,
        Command::Audit { command } => audit::run(&settings, command).await,
        Command::Records { command } => records::run(settings, command).await,
        Command::Retention { command } => retention::run(settings, command).await,
        Command::Sharing { command } => sharing::run(settings, command).await,
        Command::Report { command } => report::run(&settings, command).await,
        Command::Identity { command } => identity::run(settings, command).await,
        Command::Auth { .. } => unreachable!("handled above"),
        Command::Status(args) => status::run(&settings, args).await,
        Command::Deadletters { command } => deadletters::run(settings, command).await,
        Command::Reprocess(args) => deadletters::reprocess(settings, args).await,
    }
}
