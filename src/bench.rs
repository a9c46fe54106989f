//! Benchmarks that print figures (never timed tests). `tracker bench inbound` pushes police
//! custody files totalling N rows through a sandboxed hub, and beside it measures the raw broker
//! pass-through (consume → publish with confirm → ack, no work) with the same messages.
use std::time::{Duration, Instant};

use clap::Subcommand;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};

use crate::broker::publish;
use crate::sandbox::Sandbox;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Generated traffic for N people over M months loaded through the connectors (`tracker
    /// load`), then every report timed; or, with --store, every report timed over the configured
    /// store as it is.
    Reports {
        #[arg(long, default_value_t = 2_000)]
        people: usize,
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Files per transaction while loading.
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Time the reports over the configured database instead (period: the events' span, to the
        /// last one recorded).
        #[arg(long)]
        store: bool,
    },
    /// Deliveries end to end (three recipients per update): throughput flat out, then latency
    /// percentiles at a steady rate, beside the raw broker pass-through.
    Delivery {
        /// People (and updates per phase).
        #[arg(long, default_value_t = 2_000)]
        updates: usize,
        /// Updates per second in the latency phase (default: half the flat-out rate measured).
        #[arg(long)]
        rate: Option<u32>,
    },
    /// Police deliveries at a steady rate, quiet and while a court sends hostile payloads:
    /// latency percentiles of both and their ratio.
    Hostile {
        /// Arrests (and people) per phase.
        #[arg(long, default_value_t = 600)]
        updates: usize,
        /// Arrests per second.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Hostile court payloads sent during the second phase.
        #[arg(long, default_value_t = 100)]
        hostile: usize,
    },
    /// Police files totalling N rows through the hub, beside the raw broker pass-through.
    Inbound {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 500)]
        rows_per_file: usize,
    },
}

pub async fn run(settings: Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Inbound { rows, rows_per_file } => inbound(settings, rows, rows_per_file).await,
        BenchCommand::Delivery { updates, rate } => crate::bench_delivery::run(settings, updates, rate).await,
        BenchCommand::Hostile { updates, rate, hostile } => {
            crate::bench_hostile::run(settings, updates, rate, hostile).await
        }
        BenchCommand::Reports { store: true, .. } => reports_over_store(settings).await,
        BenchCommand::Reports { people, months, batch, store: false } => reports(settings, people, months, batch).await,
    }
}

const CHECK_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";
const HEADER: &str = "RecordType,CustodyRef,ForceStation,EventDate,EventTime,PNCID,CRO,ASN,Surname,Forenames,DOB,Sex,Ethnicity,Address,Postcode,OffenceCode,OffenceWording,OffenceDate,BailStatus,BailConditions,NextCourtCode,NextCourtDate,DT1Opiates,DT1Cocaine,OfficerRef\r\n";

/// A valid PNC id for person `n`.
pub fn pnc(n: usize) -> String {
    let yy = 2000 + n % 25;
    let serial = n % 10_000_000;
    let number = (yy % 100) as u64 * 10_000_000 + serial as u64;
    format!("{yy}/{serial:07}{}", CHECK_LETTERS[(number % 23) as usize] as char)
}

/// Police custody files: each person arrested, charged and bailed (3 rows); every person appears
/// in two files, so linking finds known people as well as new ones.
pub fn police_files(rows: usize, rows_per_file: usize) -> Vec<Vec<u8>> {
    let people = (rows / 6).max(1);
    let mut files = Vec::new();
    let mut file = String::from(HEADER);
    let mut in_file = 0;
    for row in 0..rows {
        let detention = row / 3;
        let person = detention % people;
        let (kind, time, extra) = match row % 3 {
            0 => ("ARR", "10:05", "TH68010,\"Stole goods to the value of £12.00, from a shop\",01/11/2026,,,,,,"),
            1 => (
                "CHG",
                "13:30",
                "TH68010,\"Stole goods to the value of £12.00, from a shop\",01/11/2026,UB,,B05LV00,19/11/2026,,",
            ),
            _ => ("BAIL", "13:35", ",,,UB,,B05LV00,19/11/2026,,"),
        };
        file.push_str(&format!(
            "{kind},05CL/26/{detention:06},05CL,01/11/2026,{time},{},,26CL{detention:08}A,SURNAME{person},Given,01/01/1990,M,W1,\"{person} Long Road, Liverpool\",L1 1AA,{extra},5521\r\n",
            pnc(person)
        ));
        in_file += 1;
        if in_file == rows_per_file {
            files.push(std::mem::replace(&mut file, String::from(HEADER)).into_bytes());
            in_file = 0;
        }
    }
    if in_file > 0 {
        files.push(file.into_bytes());
    }
    files
}

/// Publishes every body with confirms, keeping them all in flight, then waits for the confirms.
pub async fn publish_all(
    ch: &Channel,
    exchange: &str,
    key: &str,
    bodies: &[Vec<u8>],
    id_prefix: &str,
) -> anyhow::Result<()> {
    let mut confirms = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let props =
            BasicProperties::default().with_message_id(format!("{id_prefix}-{i:06}").into()).with_delivery_mode(2);
        let opts = BasicPublishOptions { mandatory: true, ..Default::default() };
        confirms.push(ch.basic_publish(exchange.into(), key.into(), opts, body, props).await?);
    }
    for c in confirms {
        let c = c.await?;
        anyhow::ensure!(c.is_ack() && c.take_message().is_none(), "a benchmark message was not confirmed");
    }
    Ok(())
}

/// Prints the pass-through baseline as every benchmark shows it.
pub fn print_pass_through(messages: usize, took: Duration) {
    println!(
        "raw broker pass-through (consume → publish, confirmed → ack): {:>8.0} msg/s",
        messages as f64 / took.as_secs_f64()
    );
}

/// The raw broker baseline: messages moved from quorum queue A to quorum queue B, each publish
/// confirmed before the ack, with the hub's prefetch. Returns the time the move took.
pub async fn pass_through(sandbox: &Sandbox, bodies: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let conn = crate::broker::connect(&sandbox.hub.settings.broker.url).await?;
    let ch = publish::confirm_channel(&conn).await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let (a, b) = (
        format!("{}.bench.a", sandbox.hub.settings.broker.prefix),
        format!("{}.bench.b", sandbox.hub.settings.broker.prefix),
    );
    for q in [&a, &b] {
        ch.queue_declare(q.as_str().into(), QueueDeclareOptions { durable: true, ..Default::default() }, args.clone())
            .await?;
    }
    publish_all(&ch, "", &a, bodies, "baseline").await?;
    let consume_ch = conn.create_channel().await?;
    consume_ch.basic_qos(sandbox.hub.settings.broker.prefetch, BasicQosOptions::default()).await?;
    let mut consumer = consume_ch
        .basic_consume(a.as_str().into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    let start = Instant::now();
    let mut moved = 0;
    while moved < bodies.len() {
        let Some(delivery) = consumer.next().await else { anyhow::bail!("baseline consumer closed") };
        let delivery = delivery?;
        publish::publish_confirmed(&ch, "", &b, &delivery.data, delivery.properties.clone()).await?;
        delivery.acker.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    let took = start.elapsed();
    for q in [&a, &b] {
        ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await?;
    }
    crate::broker::close(&conn, "bench done").await;
    Ok(took)
}

async fn inbound(mut settings: Settings, rows: usize, rows_per_file: usize) -> anyhow::Result<()> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let files = police_files(rows, rows_per_file);
    let bytes: usize = files.iter().map(Vec::len).sum();
    let sandbox = Sandbox::start(settings, "bench").await?;
    println!(
        "Inbound benchmark: {rows} custody rows in {} police CSV files of {rows_per_file} rows ({} KiB each)",
        files.len(),
        bytes / files.len() / 1024
    );
    print_machine();

    let baseline = pass_through(&sandbox, &files).await?;
    let msgs = files.len() as f64;
    println!(
        "raw broker pass-through (consume → publish, confirmed → ack): {:>8.0} msg/s  ({:.2} s)",
        msgs / baseline.as_secs_f64(),
        baseline.as_secs_f64()
    );

    let start = Instant::now();
    publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "police-05.police-custody", &files, "bench").await?;
    sandbox.wait_acknowledged(files.len() as u64, Duration::from_secs(3600)).await?;
    let took = start.elapsed().as_secs_f64();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&sandbox.hub.pool).await?;
    let refused: i64 = sqlx::query_scalar("SELECT count(*) FROM refusals").fetch_one(&sandbox.hub.pool).await?;
    anyhow::ensure!(
        events as usize == rows && refused == 0,
        "expected {rows} events and no refusals, got {events} and {refused}"
    );
    println!(
        "hub (archive → parse → validate → link → store → ack):        {:>8.0} msg/s  {:>8.0} events/s  ({took:.2} s)",
        msgs / took,
        events as f64 / took
    );
    sandbox.finish().await
}

/// Loads generated traffic through the real connectors, then times every report over the whole
/// period (median of three runs each).
async fn reports(mut settings: Settings, people: usize, months: u32, batch: usize) -> anyhow::Result<()> {
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let to = from + chrono::Duration::days(i64::from(months) * 31);
    // The hub's clock stands at the period end, so its own records (log, inbox) fall inside.
    settings.clock.fixed = format!("{to}T00:00:00Z");
    let dir = std::env::temp_dir().join(format!("tracker-bench-reports-{}", uuid::Uuid::new_v4().simple()));
    let generating = Instant::now();
    let files = crate::generate::generate(people, months, 42, &dir)?;
    println!(
        "Report benchmark: {people} people over {months} months generated ({files} payloads) in {:.1} s",
        generating.elapsed().as_secs_f64()
    );
    print_machine();
    let sandbox = Sandbox::start_consuming(settings, "bench").await?;
    let plan = crate::demo::send_plan(&dir)?;
    let dead = crate::load::DeadLetters { ch: &sandbox.ch, names: &sandbox.names };
    let loaded = crate::load::load(sandbox.hub.clone(), &dir, plan, batch, &dead).await;
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded?;
    println!("{} (batches of {batch} files)", loaded.describe());
    let timed = time_reports(&sandbox.hub.pool, from, to).await;
    sandbox.finish().await?;
    timed
}

/// Times every report over the configured store as it is, for the span of its events.
async fn reports_over_store(settings: Settings) -> anyhow::Result<()> {
    let pool = crate::store::connect(&settings.database.url, 2).await?;
    crate::store::migrate(&pool).await?;
    // The period runs to the later of the last event and the hub's last record of one, so the
    // hub's own reports (disclosures, throughput, latency) are over the whole store too.
    let (first, last): (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT min(occurred_at), greatest(max(occurred_at), max(recorded_at)) FROM events")
            .fetch_one(&pool)
            .await?;
    let (Some(first), Some(last)) = (first, last) else { anyhow::bail!("the store holds no events") };
    println!("Report benchmark over {}", crate::broker::redact_url(&settings.database.url));
    print_machine();
    time_reports(&pool, first.date_naive(), last.date_naive() + chrono::Duration::days(1)).await
}

/// The line every benchmark prints first: cores and build.
pub(crate) fn print_machine() {
    println!(
        "machine: {} cores; build: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
}

async fn time_reports(pool: &sqlx::PgPool, from: chrono::NaiveDate, to: chrono::NaiveDate) -> anyhow::Result<()> {
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    let people: i64 = sqlx::query_scalar("SELECT count(*) FROM subjects").fetch_one(pool).await?;
    let log: i64 = sqlx::query_scalar("SELECT count(*) FROM disclosure_log").fetch_one(pool).await?;
    println!("store: {events} events, {people} people, {log} disclosure-log entries; period {from} to {to}");
    // Fresh statistics, as autovacuum would have gathered after a load this size.
    sqlx::query("ANALYZE").execute(pool).await?;
    // The baseline: reading the two biggest tables once, the floor for a report over everything.
    for table in ["events", "disclosure_log"] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).execute(pool).await?;
            runs.push(t.elapsed());
        }
        runs.sort();
        println!("baseline: SELECT count(*) FROM {table:<15} {:>8.1} ms", runs[1].as_secs_f64() * 1e3);
    }
    let mut timings = Vec::new();
    for def in crate::reports::catalogue::in_order() {
        let mut runs = Vec::new();
        let mut rows = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let params = crate::reports::Params { from, to, court: None, agency: None };
            rows = crate::reports::run(pool, def.name, params).await?.rows.len();
            runs.push(t.elapsed());
        }
        runs.sort();
        timings.push((def.number, def.name, runs[1], rows));
    }
    println!("{:>3}  {:<30} {:>10} {:>6}", "#", "report", "median ms", "rows");
    for (n, name, t, rows) in &timings {
        println!("{n:>3}  {name:<30} {:>10.1} {rows:>6}", t.as_secs_f64() * 1e3);
    }
    let slowest = timings.iter().max_by_key(|t| t.2).map(|t| (t.1, t.2.as_secs_f64() * 1e3)).unwrap_or(("-", 0.0));
    let total: f64 = timings.iter().map(|t| t.2.as_secs_f64()).sum();
    println!("slowest: {} at {:.1} ms on {events} events; all 42 in {total:.2} s", slowest.0, slowest.1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pncs_pass_their_check() {
        use crate::domain::identifiers::{Identifier, Scheme};
        for n in [0, 1, 22, 12345, 999_999] {
            Identifier::parse(Scheme::Pnc, &pnc(n)).expect("valid PNC");
        }
    }

    #[test]
    fn files_hold_the_rows_asked_for() {
        let files = police_files(1000, 300);
        assert_eq!(files.len(), 4);
        let rows: usize = files.iter().map(|f| f.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() - 1).sum();
        assert_eq!(rows, 1000);
    }
}
