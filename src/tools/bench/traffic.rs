//! The benchmarks' traffic: generated custody files and probation events for numbered people,
//! publishing them, and watching the recipients' queues for what arrives.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueuePurgeOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};

use crate::tools::sandbox::Sandbox;

pub(crate) const RECIPIENTS: [&str; 3] = ["court-b05lv00", "court-b05lp00", "probation"];
pub(crate) const CHECK_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";
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

pub(crate) fn probation(person: usize, kind: &str) -> Vec<u8> {
    // Each person's own order id: a record with the key of another (probation's order id) is a
    // correction of it, not a new record.
    let info = match kind {
        "supervision.started" => format!(
            r#""orderId":"B{person}","orderType":"CO","court":"B05LV00","startDate":"2026-11-01","lengthMonths":12,"requirements":[{{"type":"UPW","hours":80}}],"officer":{{"code":"N1","name":"O"}},"team":"T""#
        ),
        _ => r#""court":"B05LP00","requestedDate":"2026-11-02""#.to_string(),
    };
    format!(
        r#"{{"eventType":"probation-case.{kind}","version":1,"occurredAt":"2026-11-02T10:00:00+00:00",
           "personReference":{{"identifiers":[{{"type":"CRN","value":"B{person:06}"}},{{"type":"PNC","value":"{}"}}]}},
           "additionalInformation":{{{info}}}}}"#,
        pnc(person)
    )
    .into_bytes()
}

pub(crate) fn arrest(person: usize, phase: usize) -> Vec<u8> {
    format!(
        "{HEADER}ARR,05CL/26/{phase}{person:06},05CL,20/11/2026,10:05,{},,26CL{phase}{person:07}A,SURNAME{person},Given,01/01/1990,M,W1,\"1 Road\",L1 1AA,TH68010,\"Theft\",20/11/2026,,,,,,,5521\r\n",
        pnc(person)
    )
    .into_bytes()
}

/// The setup every delivery benchmark starts from (not measured): every person under
/// supervision and both courts involved, so each arrest goes to three recipients.
pub(crate) async fn involve_everyone(sandbox: &Sandbox, updates: usize) -> anyhow::Result<()> {
    let setup: Vec<Vec<u8>> =
        (0..updates).flat_map(|p| [probation(p, "supervision.started"), probation(p, "psr.requested")]).collect();
    let before = sandbox.acknowledged();
    publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "probation.probation-events", &setup, "setup").await?;
    sandbox.wait_acknowledged(before + setup.len() as u64, Duration::from_secs(3600)).await?;
    crate::tools::demo::wait_published(&sandbox.hub.pool, Duration::from_secs(600)).await?;
    Ok(())
}

/// One arrest per person at a steady rate, one every 1/rate s; returns each delivery's latency
/// from publish by the agency to arrival at the subscriber, sorted. `phase` keeps custody
/// references and message ids apart between phases.
pub(crate) async fn steady(
    sandbox: &Sandbox,
    arrivals: &Arrivals,
    updates: usize,
    rate: u32,
    phase: usize,
) -> anyhow::Result<Vec<Duration>> {
    Ok(sorted_latencies(&steady_timed(sandbox, arrivals, updates, rate, phase).await?))
}

/// The latencies of [`steady_timed`]'s deliveries, sorted (for percentiles).
pub(crate) fn sorted_latencies(timed: &[(Duration, Duration)]) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = timed.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    latencies
}

/// The same as [`steady`], each latency with when its update was sent (from the first send), in
/// no particular order: to see whether slow deliveries come together.
pub(crate) async fn steady_timed(
    sandbox: &Sandbox,
    arrivals: &Arrivals,
    updates: usize,
    rate: u32,
    phase: usize,
) -> anyhow::Result<Vec<(Duration, Duration)>> {
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut ticker = tokio::time::interval(interval);
    let already = arrivals.total.load(std::sync::atomic::Ordering::SeqCst);
    for p in 0..updates {
        ticker.tick().await;
        let id = format!("steady{phase}-{p:06}");
        let props = lapin::BasicProperties::default().with_message_id(id.as_str().into()).with_delivery_mode(2);
        let opts = lapin::options::BasicPublishOptions { mandatory: true, ..Default::default() };
        sent_at.insert(id, Instant::now());
        // Confirms are awaited in the background so the rate holds.
        let _confirm = sandbox
            .ch
            .basic_publish(
                sandbox.names.inbound_exchange().as_str().into(),
                "police-05.police-custody".into(),
                opts,
                &arrest(p, phase),
                props,
            )
            .await?;
    }
    wait_total(arrivals, already + updates * RECIPIENTS.len(), Duration::from_secs(3600)).await?;
    let first = sent_at.values().min().copied().unwrap_or_else(Instant::now);
    let mut latencies = Vec::new();
    if let Ok(at) = arrivals.at.lock() {
        for (id, sent) in &sent_at {
            for arrived in at.get(id).into_iter().flatten() {
                latencies.push((sent.saturating_duration_since(first), arrived.saturating_duration_since(*sent)));
            }
        }
    }
    Ok(latencies)
}

/// A stretch of a steady phase: when it began (from the first send) and the median and slowest
/// latency of the updates sent in it.
pub(crate) struct Stretch {
    pub(crate) from: Duration,
    pub(crate) p50: Duration,
    pub(crate) max: Duration,
}

/// The steady phase cut into stretches of `width` by send time, in order.
pub(crate) fn stretches(timed: &[(Duration, Duration)], width: Duration) -> Vec<Stretch> {
    let mut by_stretch: std::collections::BTreeMap<u128, Vec<Duration>> = Default::default();
    for (sent, latency) in timed {
        by_stretch.entry(sent.as_nanos() / width.as_nanos().max(1)).or_default().push(*latency);
    }
    by_stretch
        .into_iter()
        .map(|(k, mut l)| {
            l.sort();
            Stretch { from: width * k as u32, p50: percentile(&l, 0.5), max: l.last().copied().unwrap_or_default() }
        })
        .collect()
}

/// Counts deliveries per inbound message id as they arrive on the recipients' queues.
pub(crate) struct Arrivals {
    pub(crate) at: Mutex<HashMap<String, Vec<Instant>>>,
    pub(crate) total: std::sync::atomic::AtomicUsize,
}

pub(crate) async fn watch_queues(
    sandbox: &Sandbox,
    arrivals: Arc<Arrivals>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for recipient in RECIPIENTS {
        let ch = sandbox.conn.create_channel().await?;
        ch.queue_purge(sandbox.names.outbound_queue(recipient).as_str().into(), QueuePurgeOptions::default()).await?;
        let opts = BasicConsumeOptions { no_ack: true, ..Default::default() };
        let mut consumer = ch
            .basic_consume(
                sandbox.names.outbound_queue(recipient).as_str().into(),
                "bench".into(),
                opts,
                FieldTable::default(),
            )
            .await?;
        let arrivals = arrivals.clone();
        let schemas = sandbox.hub.schemas;
        tasks.push(tokio::spawn(async move {
            let _keep = ch;
            while let Some(Ok(d)) = consumer.next().await {
                let now = Instant::now();
                if let Ok(record) = schemas.decode_single_object(&d.data) {
                    let source = record["source"]["message_id"].as_str().unwrap_or_default().to_string();
                    if let Ok(mut at) = arrivals.at.lock() {
                        at.entry(source).or_default().push(now);
                    }
                    arrivals.total.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }));
    }
    Ok(tasks)
}

pub(crate) async fn wait_total(arrivals: &Arrivals, want: usize, timeout: Duration) -> anyhow::Result<Instant> {
    // A run that stops delivering fails within a minute, saying how far it got, rather than
    // waiting out the whole timeout.
    const STALLED: Duration = Duration::from_secs(60);
    let start = Instant::now();
    let (mut seen, mut last_progress) = (0, Instant::now());
    let mut progress = crate::tools::progress::Progress::new("delivering", "deliveries", want);
    loop {
        let got = arrivals.total.load(std::sync::atomic::Ordering::SeqCst);
        progress.tick(got, None);
        if got >= want {
            return Ok(Instant::now());
        }
        if got != seen {
            (seen, last_progress) = (got, Instant::now());
        }
        anyhow::ensure!(
            start.elapsed() < timeout && last_progress.elapsed() < STALLED,
            "{got} of {want} deliveries arrived ({} s without one)",
            last_progress.elapsed().as_secs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One line of latencies (sorted): `what`, then p50, p99 and max from publish to delivery, and
/// how many deliveries (`note` after the count).
pub(crate) fn print_latencies(what: &str, sorted: &[Duration], note: &str) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}: latency publish → delivered  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} deliveries{note})",
        ms(percentile(sorted, 0.50)),
        ms(percentile(sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default()),
        sorted.len()
    );
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
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
