//! The command line: one closed enum of commands and one `match` that runs them.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::broker::{Names, provision, publish};
use crate::clock::Clock;
use crate::connectors::{Connector, Publisher, Registry};
use crate::consent::{Change, ConsentChange};
use crate::hub::Hub;
use crate::settings::Settings;
use crate::tools::{bench, demo};
use crate::{person, schemas, store, telemetry};

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
    Provision {
        /// Also make one broker user per agency (management API); passwords kept in this file.
        #[arg(long)]
        agency_users: Option<PathBuf>,
    },
    /// Run the hub: consume every agency's queue until SIGINT or SIGTERM.
    Run,
    /// Publish files as an agency's adapter would (message id = file name).
    Send {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        connector: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Backload files through the connectors, many per transaction: a directory with a send plan
    /// (`expected.json`, as `demo generate` writes), or files of one agency and connector.
    Load {
        /// The agency the files are from (with --connector); without it, PATHS is one directory
        /// holding a send plan.
        #[arg(long, requires = "connector")]
        agency: Option<String>,
        #[arg(long, requires = "agency")]
        connector: Option<String>,
        /// Files per transaction.
        #[arg(long, default_value_t = 200)]
        batch: usize,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Provision, run the hub, send the sample month and print what was stored.
    Demo {
        /// A directory of payloads with a send plan (expected.json); `generate` writes one.
        #[arg(long, default_value = "samples")]
        samples: PathBuf,
        #[command(subcommand)]
        command: Option<DemoCommand>,
    },
    /// Connector files.
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// Avro schemas.
    Schemas {
        #[command(subcommand)]
        command: SchemasCommand,
    },
    /// People in the person index.
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Consent to share health data, recorded by an operator.
    Consent {
        #[command(subcommand)]
        command: ConsentCommand,
    },
    /// The disclosure log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Why an update went where it went, and what other agreements would change (read-only).
    Sharing {
        #[command(subcommand)]
        command: SharingCommand,
    },
    /// Reports: the catalogue of 42, run, rendered and explained.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Identity review: records whose identifiers named two people.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Users of the HTTP interface.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Queues, dead letters, outbox backlog and each connector's last refusal.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Dead letters: list, show, replay (after a fix), purge.
    Deadletters {
        #[command(subcommand)]
        command: DeadlettersCommand,
    },
    /// Read archived messages of a connector again (after a connector fix); idempotent.
    Reprocess {
        #[arg(long)]
        connector: String,
        /// Messages received at or after this instant (RFC 3339).
        #[arg(long)]
        since: chrono::DateTime<chrono::Utc>,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// The attack suite against a sandboxed hub (its own database and broker prefix): hostile
    /// payloads of every format, each followed by a police file that must still apply. Prints
    /// cases tried and passed; exits 1 if any failed.
    Attack {
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
    },
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

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Print the events a payload becomes (touches neither broker nor store).
    Test { connector_file: PathBuf, payload: PathBuf },
    /// Load and check every connector file.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// Fail if a schema changed incompatibly with its last released version.
    Check {
        #[arg(long, default_value = "schemas/released.json")]
        released: PathBuf,
    },
    /// Record the current schemas as the released version.
    Release {
        #[arg(long, default_value = "schemas/released.json")]
        released: PathBuf,
    },
    /// Print the envelope writer schema and its fingerprint.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Grant consent for a scope (ALL, CRT courts, PRB probation).
    Grant {
        key: String,
        #[arg(long, default_value = "ALL")]
        scope: String,
        /// First day covered (default: today by the hub's clock).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day covered (default: open).
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        /// Who records it (kept with the record).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Withdraw consent for a scope: nothing not yet published is sent.
    Withdraw {
        key: String,
        #[arg(long, default_value = "ALL")]
        scope: String,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Show a person's consent records in the order applied.
    Show { key: String },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The reports there are.
    List,
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
        format: crate::reports::render::Format,
        /// List the records behind the figures instead (an auditor's view).
        #[arg(long)]
        detail: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Conflicts waiting for a decision (`--all` includes decided ones).
    Conflicts {
        #[arg(long)]
        all: bool,
    },
    /// Link the people of a conflict as one person.
    Link {
        id: i64,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Keep the people of a conflict apart (the record goes to its strongest identifier's person).
    Apart {
        id: i64,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Hash a password (read from standard input) for `[auth.users.NAME] password`.
    Hash,
}

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
    },
    /// One dead letter: reason, raw payload, how it arrived.
    Show { id: i64 },
    /// Read the messages behind these dead letters again through their connectors.
    Replay {
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Give up on these dead letters (recorded as purged, with who did it).
    Purge {
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the disclosure log's hash chain: says which entry was edited, deleted or reordered.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum SharingCommand {
    /// Explain the decision for an update and a recipient.
    Explain { event_id: uuid::Uuid, recipient: String },
    /// Replay logged decisions against the agreements in DIR and list those that would change.
    WhatIf { agreements_dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Subject access: everything held about the person and every disclosure of it (JSON, and
    /// a readable HTML page beside it), recorded with who asked.
    Export {
        key: String,
        #[arg(long)]
        out: PathBuf,
        /// Who asked for it (recorded for report 39).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Show a person's identifiers, names and timeline.
    Show {
        /// e.g. PNC:2019/0012345G
        key: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that need no configuration.
    match &cli.command {
        Command::Connector { command: ConnectorCommand::Test { connector_file, payload } } => {
            let connector = Connector::load(connector_file)?;
            let body = std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
            let limits = Settings::load(&cli.config).map(|s| s.limits.parse).unwrap_or_default();
            let outcome = connector.parse(&body, &Publisher { agency: "(test)", codes: &[] }, &limits);
            // Exit 1 when anything was refused, so a script can tell a payload that reads.
            let (json, refused) = match outcome {
                Ok(items) => {
                    let refused = items.iter().any(|i| matches!(i, crate::connectors::ItemOutcome::Refused { .. }));
                    (crate::connectors::describe(&items), refused)
                }
                Err(r) => (serde_json::json!({"refused": r.code, "reason": r.reason}), true),
            };
            println!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS });
        }
        Command::Schemas { command } => return schemas_command(command),
        _ => {}
    }
    let settings = Settings::load(&cli.config)?;
    // The demo prints its own summary; its log shows only what went wrong.
    // The demo and benchmarks print their own figures; their log shows only what went wrong
    // (benchmarks send bad rows on purpose, so only errors).
    let level = match cli.command {
        Command::Demo { .. } => "warn",
        Command::Bench { .. } | Command::Attack { .. } => "error",
        _ => settings.log.level.as_str(),
    };
    telemetry::init(settings.log.format, level);
    match cli.command {
        Command::Migrate => {
            let pool = store::connect(&settings.database.url, 2).await?;
            store::migrate(&pool).await?;
            println!("migrations applied");
        }
        Command::Provision { agency_users } => {
            let declared = provision::provision(&settings).await?;
            for d in declared {
                println!("declared {d}");
            }
            if let Some(file) = agency_users {
                let s = settings.clone();
                let f = file.clone();
                let creds =
                    tokio::task::spawn_blocking(move || crate::broker::users::provision_users(&s, &f)).await??;
                for (agency, (user, _)) in creds {
                    println!("broker user {user} for {agency}");
                }
                println!("passwords in {} (readable by its owner only)", file.display());
            }
        }
        Command::Run => {
            let app = crate::app::App::build(settings).await?;
            let stop = app.stopper();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("signal received: finishing the message in hand, then stopping");
                let _ = stop.send(true);
            });
            app.start().await;
            app.run_until_stopped().await?;
            tracing::info!("stopped cleanly");
        }
        Command::Send { agency, connector, files } => {
            let names = Names::new(&settings.broker.prefix);
            let conn = crate::broker::connect(&settings.broker.url).await?;
            let ch = publish::confirm_channel(&conn).await?;
            for f in &files {
                publish::send_file(&ch, &names, &agency, &connector, f).await?;
                println!("sent {} as {agency}.{connector} (confirmed)", f.display());
            }
            crate::broker::close(&conn, "sent").await;
        }
        Command::Load { agency, connector, batch, paths } => {
            let (dir, plan) = crate::tools::load::plan_for(agency, connector, &paths)?;
            provision::provision(&settings).await?;
            let names = Names::new(&settings.broker.prefix);
            let hub = Arc::new(Hub::build(settings).await?);
            let conn = crate::broker::connect(&hub.settings.broker.url).await?;
            let ch = publish::confirm_channel(&conn).await?;
            let loaded = crate::tools::load::load(
                hub,
                &dir,
                plan,
                batch,
                &crate::tools::load::DeadLetters { ch: &ch, names: &names },
            )
            .await;
            crate::broker::close(&conn, "loaded").await;
            let loaded = loaded?;
            println!("{}", loaded.describe());
            for (file, error) in &loaded.failed {
                eprintln!("{file}: the store refused it: {error}");
            }
            if !loaded.failed.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Demo { command: Some(DemoCommand::Generate { people, months, seed, out }), .. } => {
            let files = crate::tools::generate::generate(people, months, seed, &out)?;
            println!(
                "wrote {files} payloads for {people} people over {months} months to {} (send them: tracker demo --samples {})",
                out.display(),
                out.display()
            );
        }
        Command::Demo { samples, command: None } => {
            let mut settings = settings;
            if settings.clock.fixed.is_empty() {
                // The sample month's expected outcomes assume this clock.
                settings.clock.fixed = "2026-11-28T00:00:00Z".into();
            }
            let hub = Arc::new(Hub::build(settings).await?);
            demo::run(hub, &samples).await?;
        }
        Command::Connector { command: ConnectorCommand::Check } => {
            let registry = Registry::load(&settings.paths.connectors)?;
            settings.check_connectors(&registry.names())?;
            for name in registry.names() {
                println!("ok {name}");
            }
        }
        Command::Connector { .. } | Command::Schemas { .. } => unreachable!("handled above"),
        Command::Person { command: PersonCommand::Export { key, out, by } } => {
            let key = person::parse_key(&key)?;
            let pool = store::connect(&settings.database.url, 2).await?;
            store::migrate(&pool).await?;
            let now = settings.fixed_clock()?.map_or(Clock::System, Clock::Fixed).now();
            let doc = crate::export::export(&pool, &key, &out, &by, now).await?;
            println!(
                "wrote {} and {} ({} events, {} disclosure log entries)",
                out.display(),
                out.with_extension("html").display(),
                doc["person"]["timeline"].as_array().map_or(0, Vec::len),
                doc["disclosures"].as_array().map_or(0, Vec::len)
            );
        }
        Command::Person { command: PersonCommand::Show { key, json } } => {
            let key = person::parse_key(&key)?;
            let pool = store::connect(&settings.database.url, 2).await?;
            match person::load(&pool, &key).await {
                Ok(p) if json => println!("{}", serde_json::to_string_pretty(&p)?),
                Ok(p) => print!("{}", person::render_table(&p)),
                Err(person::PersonError::NotFound(k)) => {
                    eprintln!("no person has {k}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Bench { command } => bench::run(settings, command).await?,
        Command::Attack { long, mutations, seed, samples, verbose } => {
            let scale = if long {
                crate::tools::attack::Scale::Long { mutations_per_sample: mutations, seed }
            } else {
                crate::tools::attack::Scale::Short
            };
            let outcome = crate::tools::attack::run_in_sandbox(settings, &samples, scale, verbose).await?;
            println!("attack cases tried: {}, passed: {}", outcome.tried, outcome.passed);
            for (case, why) in &outcome.failures {
                println!("FAILED {case}: {why}");
            }
            if !outcome.failures.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Consent { command } => {
            let pool = store::connect(&settings.database.url, 2).await?;
            store::migrate(&pool).await?;
            let now = settings.fixed_clock()?.map_or(Clock::System, Clock::Fixed).now();
            let subject_of = |key: &str| {
                let key = key.to_string();
                let pool = pool.clone();
                async move {
                    let id = person::parse_key(&key)?;
                    crate::identity::find(&pool, id.scheme().as_str(), id.value())
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no person has {id}"))
                }
            };
            match command {
                ConsentCommand::Grant { key, scope, from, until, by } => {
                    let subject = subject_of(&key).await?;
                    let from = from.unwrap_or_else(|| crate::sharing::today(now));
                    let change = ConsentChange {
                        subject,
                        change: Change::Grant,
                        scope: scope.clone(),
                        effective: from,
                        expiry: until,
                        by,
                    };
                    crate::consent::record(&pool, &change, now).await?;
                    println!("consent granted for {scope} from {from}");
                }
                ConsentCommand::Withdraw { key, scope, by } => {
                    let subject = subject_of(&key).await?;
                    let today = crate::sharing::today(now);
                    let change = ConsentChange {
                        subject,
                        change: Change::Withdraw,
                        scope: scope.clone(),
                        effective: today,
                        expiry: None,
                        by,
                    };
                    crate::consent::record(&pool, &change, now).await?;
                    println!("consent withdrawn for {scope}: nothing not yet published will be sent");
                }
                ConsentCommand::Show { key } => {
                    print!("{}", crate::consent::show(&pool, subject_of(&key).await?).await?)
                }
            }
        }
        Command::Report { command: ReportCommand::List } => {
            for r in crate::reports::REPORTS {
                println!("{:>2}  {:<28} {}", r.number, r.name, r.title);
            }
        }
        Command::Report { command: ReportCommand::Run { name, from, to, court, agency, format, detail } } => {
            let pool = store::connect(&settings.database.url, 2).await?;
            store::migrate(&pool).await?;
            let params = crate::reports::Params { from, to, court, agency };
            let report = if detail {
                crate::reports::detail(&pool, &name, params).await?
            } else {
                crate::reports::run(&pool, &name, params).await?
            };
            print!("{}", crate::reports::render::render(&report, format));
        }
        Command::Identity { command } => {
            let hub = Hub::build(settings).await?;
            use crate::ops::identity::{Decision, decide, list};
            match command {
                IdentityCommand::Conflicts { all } => {
                    for c in list(&hub, !all).await? {
                        println!(
                            "{:>5}  {}  {} {}  identifiers {}  subjects {:?}  {}{}",
                            c.id,
                            c.detected_at.format("%Y-%m-%d %H:%M"),
                            c.agency,
                            c.message_id,
                            c.identifiers,
                            c.subject_ids,
                            c.status,
                            c.decided_by.map(|b| format!(" by {b}")).unwrap_or_default()
                        );
                    }
                }
                IdentityCommand::Link { id, by } => {
                    println!("linked as subject {}", decide(&hub, id, Decision::Link, &by).await?)
                }
                IdentityCommand::Apart { id, by } => {
                    println!(
                        "kept apart; the record goes to subject {}",
                        decide(&hub, id, Decision::KeepApart, &by).await?
                    )
                }
            }
        }
        Command::Auth { command: AuthCommand::Hash } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            println!("{}", crate::http::auth::hash_password(password.trim_end_matches(['\r', '\n'])));
        }
        Command::Status { json } => {
            let pool = store::connect(&settings.database.url, 2).await?;
            store::migrate(&pool).await?;
            let now = settings.fixed_clock()?.map_or(Clock::System, Clock::Fixed).now();
            let status = crate::ops::status::gather(&settings, &pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", crate::ops::status::render(&status, now));
            }
        }
        Command::Deadletters { command } => {
            let hub = Hub::build(settings).await?;
            match command {
                DeadlettersCommand::List { after, limit } => {
                    let page = crate::ops::deadletters::page(&hub, after, limit).await?;
                    for d in &page {
                        let at = if d.item_position == 0 {
                            "whole".to_string()
                        } else {
                            format!("item {}", d.item_position)
                        };
                        println!(
                            "{:>6}  {}  {:<18} {} ({at}): {}",
                            d.id,
                            d.refused_at.format("%Y-%m-%d %H:%M"),
                            d.connector,
                            crate::connectors::limits::printable(&d.message_id),
                            d.reason.escape_debug()
                        );
                    }
                    if page.len() as i64 == limit.clamp(1, crate::ops::deadletters::PAGE_LIMIT)
                        && let Some(last) = page.last()
                    {
                        println!("(more: tracker deadletters list --after {})", last.id);
                    }
                }
                DeadlettersCommand::Show { id } => print!("{}", crate::ops::deadletters::show(&hub, id).await?),
                DeadlettersCommand::Replay { ids, all, by } => {
                    let ids = if all {
                        crate::ops::deadletters::list(&hub).await?.iter().map(|d| d.id).collect()
                    } else {
                        ids
                    };
                    for r in crate::ops::deadletters::replay(&hub, &ids, &by).await? {
                        println!("{}: {} new events, {} items still refused", r.message_id, r.events, r.still_refused);
                    }
                }
                DeadlettersCommand::Purge { ids, all, by } => {
                    let n = crate::ops::deadletters::purge(&hub, &ids, all, &by).await?;
                    println!("{n} dead letters purged by {by}");
                }
            }
        }
        Command::Reprocess { connector, since } => {
            let hub = Hub::build(settings).await?;
            let archives: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT DISTINCT ON (agency, message_id) id, agency, message_id FROM raw_archive
                 WHERE connector = $1 AND received_at >= $2 ORDER BY agency, message_id, id DESC",
            )
            .bind(&connector)
            .bind(since)
            .fetch_all(&hub.pool)
            .await?;
            for r in crate::ops::deadletters::reprocess_archived(&hub, &archives).await? {
                println!("{}: {} new events, {} items still refused", r.message_id, r.events, r.still_refused);
            }
            println!("{} messages of {connector} since {since} reprocessed", archives.len());
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let pool = store::connect(&settings.database.url, 2).await?;
            match crate::sharing::log::verify(&pool).await? {
                crate::sharing::log::Verified::Intact { entries } => {
                    println!("disclosure log intact: {entries} entries")
                }
                broken => {
                    eprintln!("disclosure log broken: {}", crate::sharing::log::describe(&broken));
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Sharing { command } => {
            let hub = Hub::build(settings).await?;
            let now = hub.clock.now();
            let text = match command {
                SharingCommand::Explain { event_id, recipient } => {
                    crate::sharing::inspect::explain(&hub.pool, &hub.sharing, event_id, &recipient, now).await?
                }
                SharingCommand::WhatIf { agreements_dir } => {
                    crate::sharing::inspect::what_if(&hub.pool, &hub.sharing, &agreements_dir, now).await?
                }
            };
            print!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn schemas_command(command: &SchemasCommand) -> anyhow::Result<ExitCode> {
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
            println!("recorded {} schemas as released in {}", current.files.len(), released.display());
        }
        SchemasCommand::Check { released } => {
            let text = std::fs::read_to_string(released).with_context(|| format!("reading {}", released.display()))?;
            let old = serde_json::from_str(&text)?;
            let problems = schemas::check_compatibility(&old)?;
            if problems.is_empty() {
                println!("schemas are backward compatible with {}", released.display());
            } else {
                for p in &problems {
                    eprintln!("incompatible: {p}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
