//! `tracker attack`: the attack suite's long version. Hostile payloads of every format, sent
//! through the broker to a sandboxed hub as an agency (or a broken legacy export) would: too
//! deep, too wide, too many, too long, NUL bytes, broken encodings, entity expansion, empty
//! files, oversize messages, unknown connectors, and (long version) seeded mutations of every
//! sample payload. A case passes when the hub reached an outcome for it within the time limit,
//! every refusal names its reason, the expected refusal is there, and a police file sent right
//! after it is still applied. The integration tests run the short version.
use std::path::Path;
use std::time::{Duration, Instant};

use lapin::BasicProperties;

use crate::tools::generate::Rng;
use crate::tools::sandbox::Sandbox;

/// How many cases: the short set (each kind once, at the sizes the issue reports named) or the
/// long one (size sweeps and seeded mutations of every sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Short,
    Long { mutations_per_sample: usize, seed: u64 },
}

/// What the hub must do with a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Refused whole, with this code.
    Refused(&'static str),
    /// At least one item refused with this code; other items may apply.
    ItemRefused(&'static str),
    /// Applied (nothing refused).
    Applied,
    /// Any outcome, so long as it is recorded and every refusal gives a reason (mutated input).
    Survives,
}

pub struct Case {
    pub name: String,
    /// `<agency>.<connector>`
    pub key: &'static str,
    pub body: Vec<u8>,
    pub expect: Expect,
    /// A message id of the case's own, or none (the hub then uses a digest).
    pub message_id: Option<String>,
}

const COURT: &str = "court-b05lv00.court-results";
const POLICE: &str = "police-05.police-custody";
const PROBATION: &str = "probation.probation-events";
const TREATMENT: &str = "treatment.treatment-records";

/// The file each canary sends: a police custody file, applied after every case.
const CANARY: &str = "police-custody-05CL-20261030-1000.csv";

fn court_batch(inner: &str) -> Vec<u8> {
    format!("<ResultsBatch xmlns=\"urn:libra:results:2\" court=\"B05LV00\">\n{inner}\n</ResultsBatch>").into_bytes()
}

fn case(name: impl Into<String>, key: &'static str, body: Vec<u8>, expect: Expect) -> Case {
    Case { name: name.into(), key, body, expect, message_id: None }
}

/// Every case at `scale`. Sample payloads are read from `samples`.
pub fn catalogue(samples: &Path, scale: Scale) -> anyhow::Result<Vec<Case>> {
    let long = matches!(scale, Scale::Long { .. });
    let sample = |name: &str| std::fs::read(samples.join(name));
    let police = String::from_utf8(sample(CANARY)?)?;
    let probation = String::from_utf8(sample("probation-0001-supervision.started.json")?)?;
    let treatment = sample("treatment-MERSDRG1-20261120-000412.dat")?;
    let mut cases = Vec::new();

    // XML (a court's results).
    let depths: &[usize] = if long { &[33, 100, 1_000, 5_000, 20_000, 100_000] } else { &[33, 5_000] };
    for &d in depths {
        let body = court_batch(&format!("<Case>{}{}</Case>", "<a>".repeat(d), "</a>".repeat(d)));
        cases.push(case(format!("xml nested {d} deep"), COURT, body, Expect::Refused("too_deep")));
    }
    let attribute_counts: &[usize] = if long { &[65, 1_000, 100_000] } else { &[100_000] };
    for &n in attribute_counts {
        let attrs: String = (0..n).map(|i| format!(" a{i}=\"1\"")).collect();
        let body = court_batch(&format!("<Case{attrs}/>"));
        cases.push(case(format!("xml element with {n} attributes"), COURT, body, Expect::Refused("too_large")));
    }
    let element_counts: &[usize] = if long { &[500_001, 1_190_000] } else { &[1_190_000] };
    for &n in element_counts {
        let body = court_batch(&"<Case/>".repeat(n));
        cases.push(case(format!("xml with {n} empty elements"), COURT, body, Expect::Refused("too_large")));
    }
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\
                  <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>\
                  <ResultsBatch court=\"B05LV00\"><Case urn=\"&d;&d;&d;&d;&d;&d;&d;\"/></ResultsBatch>";
    cases.push(case(
        "xml entity expansion (billion laughs)",
        COURT,
        laughs.as_bytes().to_vec(),
        Expect::Refused("malformed"),
    ));
    let long_text = format!("<Case><Defendant><Surname>{}</Surname></Defendant></Case>", "A".repeat(65_537));
    cases.push(case("xml text over 64 KiB", COURT, court_batch(&long_text), Expect::Refused("too_large")));
    let fieldless = "<Case><Outcome>x</Outcome></Case>".repeat(20_000);
    cases.push(case(
        "xml 20,000 cases without their fields",
        COURT,
        court_batch(&fieldless),
        Expect::ItemRefused("bad_value"),
    ));
    let mut bad_utf8 = court_batch("<Case urn=\"1\"/>");
    bad_utf8.splice(10..10, [0xff, 0xfe, 0xc3]);
    cases.push(case("xml with invalid UTF-8", COURT, bad_utf8, Expect::Refused("encoding")));
    cases.push(case("xml empty", COURT, Vec::new(), Expect::Refused("malformed")));

    // JSON (probation events).
    let json_depths: &[usize] = if long { &[33, 1_000, 100_000, 1_000_000] } else { &[100_000] };
    for &d in json_depths {
        let body = format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes();
        cases.push(case(format!("json nested {d} deep"), PROBATION, body, Expect::Refused("malformed")));
    }
    let dup = br#"{"eventType": "a", "eventType": "b"}"#.to_vec();
    cases.push(case("json duplicate key", PROBATION, dup, Expect::Refused("malformed")));
    let nul = probation.replacen("X512001", "X512\\u0000001", 1).into_bytes();
    cases.push(case("json NUL in a string", PROBATION, nul, Expect::ItemRefused("nul_byte")));
    let huge = probation.replacen("X512001", &"X".repeat(65_537), 1).into_bytes();
    cases.push(case("json string over 64 KiB", PROBATION, huge, Expect::ItemRefused("too_large")));
    cases.push(case("json number 1e999", PROBATION, br#"{"eventType": 1e999}"#.to_vec(), Expect::Refused("malformed")));
    cases.push(case("json empty", PROBATION, Vec::new(), Expect::Refused("malformed")));
    cases.push(case("json not an object", PROBATION, b"[]".to_vec(), Expect::Survives));

    // CSV (a custody suite's export).
    let header = police.lines().next().unwrap_or_default().to_string();
    cases.push(case("csv empty", POLICE, Vec::new(), Expect::Refused("empty")));
    cases.push(case("csv header only", POLICE, format!("{header}\r\n").into_bytes(), Expect::Applied));
    let row_counts: &[usize] = if long { &[50_001, 160_000] } else { &[160_000] };
    for &n in row_counts {
        let rows: String = std::iter::once("RecordType\n".to_string()).chain((0..n).map(|_| "X\n".into())).collect();
        cases.push(case(format!("csv {n} rows"), POLICE, rows.into_bytes(), Expect::Refused("too_large")));
    }
    let nul_field = police.replacen("Daniel James", "Daniel\0James", 1).into_bytes();
    cases.push(case("csv NUL in a field", POLICE, nul_field, Expect::ItemRefused("nul_byte")));
    let wide_field = police.replacen("Daniel James", &"D".repeat(65_537), 1).into_bytes();
    cases.push(case("csv field over 64 KiB", POLICE, wide_field, Expect::Survives));
    let long_row = format!("{header}\r\n{}\r\n", "x,".repeat(600_000)).into_bytes();
    cases.push(case("csv row over 1 MiB", POLICE, long_row, Expect::Survives));
    let open_quote = police.replacen("Daniel James", "\"Daniel James", 1).into_bytes();
    cases.push(case("csv unbalanced quote", POLICE, open_quote, Expect::Survives));
    let formula = police.replacen("Daniel James", "=cmd|' /C calc'!A0", 1).into_bytes();
    cases.push(case("csv spreadsheet formula in a name", POLICE, formula, Expect::Survives));

    // Fixed width (a treatment provider's file).
    cases.push(case("fixed width empty", TREATMENT, Vec::new(), Expect::Survives));
    let mut nul_record = treatment.clone();
    if let Some(line_2) = nul_record.iter().position(|b| *b == b'\n').map(|p| p + 1)
        && let Some(blank) = nul_record[line_2..].iter().position(|b| *b == b' ')
    {
        nul_record[line_2 + blank] = 0;
    }
    cases.push(case("fixed width NUL in a record", TREATMENT, nul_record, Expect::ItemRefused("nul_byte")));
    let mut long_line = treatment.clone();
    long_line.extend(std::iter::repeat_n(b'9', 1_048_577));
    cases.push(case("fixed width line over 1 MiB", TREATMENT, long_line, Expect::Survives));

    // The message itself.
    let mut oversize = court_batch("");
    oversize.resize(8 * 1024 * 1024 + 1, b' ');
    cases.push(case("message over the size limit", COURT, oversize, Expect::Refused("too_large")));
    cases.push(case(
        "unknown connector",
        "police-05.nonsense",
        police.clone().into_bytes(),
        Expect::Refused("unknown_connector"),
    ));
    let mut nul_id = case("NUL in the message id", PROBATION, b"{".to_vec(), Expect::Refused("malformed"));
    nul_id.message_id = Some("id\0with-nul".into());
    cases.push(nul_id);

    if let Scale::Long { mutations_per_sample, seed } = scale {
        cases.extend(mutations(samples, mutations_per_sample, seed)?);
    }
    Ok(cases)
}

/// Seeded mutations of every sample payload: bytes flipped, cut short, a slice repeated.
fn mutations(samples: &Path, per_sample: usize, seed: u64) -> anyhow::Result<Vec<Case>> {
    let mut rng = Rng::new(seed);
    let mut files: Vec<_> = std::fs::read_dir(samples)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let key = match name.split('-').next() {
            Some("police") => POLICE,
            Some("court") if name.contains("B05LV00") => COURT,
            Some("probation") => PROBATION,
            Some("treatment") => TREATMENT,
            _ => continue,
        };
        let original = std::fs::read(&path)?;
        if original.is_empty() {
            continue;
        }
        for m in 0..per_sample {
            let mut body = original.clone();
            let at = rng.below(body.len() as u64) as usize;
            let what = match rng.below(3) {
                0 => {
                    for _ in 0..=rng.below(8) {
                        let i = rng.below(body.len() as u64) as usize;
                        body[i] = rng.below(256) as u8;
                    }
                    "bytes flipped"
                }
                1 => {
                    body.truncate(at);
                    "cut short"
                }
                _ => {
                    let end = (at + 1 + rng.below(200) as usize).min(body.len());
                    let slice = body[at..end].to_vec();
                    for _ in 0..=rng.below(1_000) {
                        body.splice(at..at, slice.iter().copied());
                    }
                    "a slice repeated"
                }
            };
            cases.push(case(format!("{name}: {what} (mutation {m})"), key, body, Expect::Survives));
        }
    }
    Ok(cases)
}

/// What running the cases found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub tried: usize,
    pub passed: usize,
    /// (case, what went wrong)
    pub failures: Vec<(String, String)>,
}

/// How long one case may take before the hub counts as stalled.
const CASE_LIMIT: Duration = Duration::from_secs(120);

/// Runs the cases at `scale` against a hub of its own (fresh database and broker prefix).
pub async fn run_in_sandbox(
    mut settings: crate::settings::Settings,
    samples: &Path,
    scale: Scale,
    verbose: bool,
) -> anyhow::Result<Outcome> {
    settings.clock.fixed = "2026-11-28T00:00:00Z".into();
    let cases = catalogue(samples, scale)?;
    let sandbox = Sandbox::start(settings, "attack").await?;
    let outcome = run(&sandbox, samples, cases, verbose).await;
    sandbox.finish().await?;
    outcome
}

/// Sends every case, then a canary, to a running sandboxed hub and checks each.
pub async fn run(sandbox: &Sandbox, samples: &Path, cases: Vec<Case>, verbose: bool) -> anyhow::Result<Outcome> {
    let canary = String::from_utf8(std::fs::read(samples.join(CANARY))?)?;
    let mut outcome = Outcome::default();
    for (n, c) in cases.into_iter().enumerate() {
        let started = Instant::now();
        let message_id = c.message_id.clone().unwrap_or_else(|| format!("attack-{n:05}"));
        let verdict = match send(sandbox, c.key, &message_id, &c.body).await {
            Err(e) => Err(format!("the hub did not finish it: {e}")),
            Ok(()) => check(sandbox, &stored_id(&c, &message_id), &c.expect).await?,
        };
        let canary_id = format!("attack-{n:05}-canary");
        // Fresh detentions each time: the same rows again would be an unchanged re-send, which
        // is rightly not stored twice.
        let fresh = canary.replace("/26/", &format!("/26/{n:05}")).into_bytes();
        let verdict = match verdict {
            Ok(()) => match send(sandbox, POLICE, &canary_id, &fresh).await {
                Err(e) => Err(format!("the police file sent after it was not finished: {e}")),
                Ok(()) if events_of(sandbox, &canary_id).await? == 0 => {
                    Err("the police file sent after it was not applied".into())
                }
                Ok(()) => Ok(()),
            },
            failed => failed,
        };
        outcome.tried += 1;
        match verdict {
            Ok(()) => outcome.passed += 1,
            Err(why) => outcome.failures.push((c.name.clone(), why)),
        }
        if verbose {
            let mark = if outcome.failures.last().is_some_and(|(name, _)| *name == c.name) { "FAIL" } else { "ok  " };
            println!("{mark} {:>7.0} ms  {} ({} bytes)", started.elapsed().as_secs_f64() * 1e3, c.name, c.body.len());
        }
    }
    Ok(outcome)
}

async fn send(sandbox: &Sandbox, key: &str, message_id: &str, body: &[u8]) -> anyhow::Result<()> {
    let before = sandbox.acknowledged();
    let props = BasicProperties::default().with_message_id(message_id.into()).with_delivery_mode(2);
    crate::broker::publish::publish_confirmed(&sandbox.ch, &sandbox.names.inbound_exchange(), key, body, props).await?;
    sandbox.wait_acknowledged(before + 1, CASE_LIMIT).await
}

/// The id the hub keeps the message under (a digest where the message id cannot be stored).
fn stored_id(c: &Case, message_id: &str) -> String {
    let agency = c.key.split_once('.').map_or(c.key, |(agency, _)| agency);
    crate::runtime::message::message_id(&crate::runtime::message::Inbound {
        queue_agency: agency.into(),
        routing_key: c.key.to_string(),
        message_id: Some(message_id.to_string()),
        user_id: None,
        traceparent: None,
        body: c.body.clone(),
    })
    .to_string()
}

async fn events_of(sandbox: &Sandbox, message_id: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM events WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(&sandbox.hub.pool)
        .await?)
}

/// Whether the hub did what the case expects. `Err` outside the verdict: the store failed.
async fn check(sandbox: &Sandbox, stored_id: &str, expect: &Expect) -> anyhow::Result<Result<(), String>> {
    let pool = &sandbox.hub.pool;
    let recorded: Option<String> = sqlx::query_scalar("SELECT outcome FROM inbox WHERE message_id = $1")
        .bind(stored_id)
        .fetch_optional(pool)
        .await?;
    if recorded.is_none() {
        return Ok(Err("no outcome recorded in the inbox".into()));
    }
    let refusals: Vec<(i32, String, String)> =
        sqlx::query_as("SELECT item_position, code, reason FROM refusals WHERE message_id = $1 ORDER BY item_position")
            .bind(stored_id)
            .fetch_all(pool)
            .await?;
    if let Some((position, code, _)) = refusals.iter().find(|(_, _, reason)| reason.trim().is_empty()) {
        return Ok(Err(format!("refusal {code} at item {position} gives no reason")));
    }
    let summary = || refusals.iter().take(3).map(|(p, c, r)| format!("{p}:{c} {r}")).collect::<Vec<_>>().join("; ");
    Ok(match expect {
        Expect::Survives => Ok(()),
        Expect::Applied if refusals.is_empty() => Ok(()),
        Expect::Applied => Err(format!("refused: {}", summary())),
        Expect::Refused(code) => match refusals.as_slice() {
            [(0, got, _)] if got == code => Ok(()),
            _ => Err(format!("expected refused whole as {code}, got [{}]", summary())),
        },
        Expect::ItemRefused(code) if refusals.iter().any(|(p, c, _)| *p > 0 && c == code) => Ok(()),
        Expect::ItemRefused(code) => Err(format!("expected an item refused as {code}, got [{}]", summary())),
    })
}
