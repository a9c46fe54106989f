//! `tracker bench delivery`: updates that three agencies each receive, end to end through a
//! sandboxed hub — throughput flat out, then receipt-to-delivery latency at a steady rate —
//! beside the raw broker pass-through measured in the same run.
//!
//! Each person first gets a supervision (probation, naming court B05LV00) and a pre-sentence
//! report (naming B05LP00): probation and both courts are then involved and the person has an
//! active order, so every arrest the police report goes to exactly three recipients (A1 to
//! each court, A2 to probation).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueuePurgeOptions};
use lapin::types::FieldTable;

use crate::bench::{pass_through, pnc, publish_all};
use crate::sandbox::Sandbox;
use crate::settings::Settings;

const RECIPIENTS: [&str; 3] = ["court-b05lv00", "court-b05lp00", "probation"];
const HEADER: &str = "RecordType,CustodyRef,ForceStation,EventDate,EventTime,PNCID,CRO,ASN,Surname,Forenames,DOB,Sex,Ethnicity,Address,Postcode,OffenceCode,OffenceWording,OffenceDate,BailStatus,BailConditions,NextCourtCode,NextCourtDate,DT1Opiates,DT1Cocaine,OfficerRef\r\n";

pub(crate) fn probation(person: usize, kind: &str) -> Vec<u8> {
    let info = match kind {
        "supervision.started" => {
            r#""orderId":"B1","orderType":"CO","court":"B05LV00","startDate":"2026-11-01","lengthMonths":12,"requirements":[{"type":"UPW","hours":80}],"officer":{"code":"N1","name":"O"},"team":"T""#
        }
        _ => r#""court":"B05LP00","requestedDate":"2026-11-02""#,
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
    crate::demo::wait_published(&sandbox.hub.pool, Duration::from_secs(600)).await?;
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
    let mut latencies: Vec<Duration> = Vec::new();
    if let Ok(at) = arrivals.at.lock() {
        for (id, sent) in &sent_at {
            for arrived in at.get(id).into_iter().flatten() {
                latencies.push(arrived.saturating_duration_since(*sent));
            }
        }
    }
    latencies.sort();
    Ok(latencies)
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
    let start = Instant::now();
    while arrivals.total.load(std::sync::atomic::Ordering::SeqCst) < want {
        anyhow::ensure!(
            start.elapsed() < timeout,
            "{} of {want} deliveries arrived",
            arrivals.total.load(std::sync::atomic::Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Instant::now())
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub async fn run(mut settings: Settings, updates: usize, rate: Option<u32>) -> anyhow::Result<()> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let sandbox = Sandbox::start(settings, "bench").await?;
    println!("Delivery benchmark: {updates} people, each arrest delivered to {} recipients", RECIPIENTS.len());
    crate::bench::print_machine();

    involve_everyone(&sandbox, updates).await?;

    let baseline = pass_through(&sandbox, &(0..updates).map(|p| arrest(p, 0)).collect::<Vec<_>>()).await?;
    crate::bench::print_pass_through(updates, baseline);

    let arrivals = Arc::new(Arrivals { at: Mutex::new(HashMap::new()), total: Default::default() });
    let watchers = watch_queues(&sandbox, arrivals.clone()).await?;

    // Flat out: every arrest published at once.
    let bodies: Vec<Vec<u8>> = (0..updates).map(|p| arrest(p, 1)).collect();
    let start = Instant::now();
    publish_all(&sandbox.ch, &sandbox.names.inbound_exchange(), "police-05.police-custody", &bodies, "flat").await?;
    let end = wait_total(&arrivals, updates * RECIPIENTS.len(), Duration::from_secs(3600)).await?;
    let took = (end - start).as_secs_f64();
    println!(
        "hub flat out: {:>8.0} updates/s  {:>8.0} deliveries/s  ({} deliveries in {took:.2} s)",
        updates as f64 / took,
        (updates * RECIPIENTS.len()) as f64 / took,
        updates * RECIPIENTS.len()
    );

    // Steady rate (below capacity).
    let rate = rate.unwrap_or(((updates as f64 / took) / 2.0).max(1.0) as u32);
    let latencies = steady(&sandbox, &arrivals, updates, rate, 2).await?;
    println!(
        "hub at {rate} updates/s: latency publish → delivered  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} deliveries)",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len()
    );
    for w in watchers {
        w.abort();
    }
    sandbox.finish().await
}
