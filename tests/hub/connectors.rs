//! Connector files: the shipped ones load; broken ones are refused naming file and line; every
//! sample payload maps as expected without broker or store.
use std::path::Path;

use tracker::connectors::{Connector, ItemOutcome, Publisher, Registry};

fn refused(file: &str) -> String {
    let err =
        Connector::load(&Path::new("tests/connectors").join(file)).err().unwrap_or_else(|| panic!("{file} loaded"));
    err.to_string()
}

#[test]
fn the_shipped_connectors_load() {
    let registry = Registry::load(Path::new("connectors")).expect("connectors/ loads");
    assert_eq!(registry.names(), ["court-results", "police-custody", "probation-events", "treatment-records"]);
}

#[test]
fn a_broken_connector_file_is_refused_naming_file_and_line() {
    let cases = [
        ("error-unknown-key.toml", 3, "unknown field `delimeter`"),
        ("error-unknown-field.toml", 14, "Arrested has no field \"shoe_size\""),
        ("error-unknown-event-type.toml", 11, "event type \"Abducted\" has no schema"),
        ("error-missing-table.toml", 13, "no code table [tables.bail]"),
        ("error-local-time-without-zone.toml", 9, "needs its zone"),
    ];
    for (file, line, says) in cases {
        let msg = refused(file);
        assert!(msg.starts_with(&format!("tests/connectors/{file}:{line}: ")), "{msg}");
        assert!(msg.contains(says), "{msg}");
    }
}

fn parse(connector: &str, sample: &str) -> Vec<ItemOutcome> {
    let c = Connector::load(&Path::new("connectors").join(format!("{connector}.toml"))).unwrap();
    let body = std::fs::read(Path::new("samples").join(sample)).unwrap();
    c.parse(&body, &Publisher { agency: "test", codes: &[] }, &Default::default()).expect("payload accepted")
}

fn event_types(items: &[ItemOutcome]) -> Vec<(u32, String)> {
    items
        .iter()
        .flat_map(|i| match i {
            ItemOutcome::Events { position, events, .. } => {
                events.iter().map(|e| (*position, e.event_type.clone())).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn court_results_give_one_hearing_per_case_plus_orders_and_warrants() {
    let items = parse("court-results", "court-results-B05LV00-20261117.xml");
    assert_eq!(event_types(&items), [(1, "HearingResulted".to_string()), (1, "OrderMade".to_string())]);
    let ItemOutcome::Events { events, subject, .. } = &items[0] else { panic!() };
    let order = &events[1].payload;
    assert_eq!(order["requirements"][1], serde_json::json!({"type": "DRR", "hours": null, "days": null, "months": 6}));
    assert_eq!(order["review_date"], "2026-12-15");
    assert_eq!(subject.name.as_deref(), Some("Daniel James O'Hara"));
    let warrant = parse("court-results", "court-results-B05LV00-20261120.xml");
    assert_eq!(event_types(&warrant)[1].1, "WarrantIssued");
}

#[test]
fn treatment_records_read_windows_1252_and_every_record_type() {
    let items = parse("treatment-records", "treatment-MERSDRG1-20261120-000412.dat");
    let types: Vec<String> = event_types(&items).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        types,
        [
            "TreatmentEpisode",
            "ConsentChanged",
            "DrugTestResult",
            "TreatmentEpisode",
            "ConsentChanged",
            "TreatmentEpisode",
            "TreatmentEpisode",
            "DrugTestResult"
        ]
    );
    let ItemOutcome::Events { subject, events, position } = &items[2] else { panic!() };
    assert_eq!(*position, 4, "line number in the file");
    assert_eq!(subject.name.as_deref(), Some("CHLOË BRENNAN"));
    assert_eq!(events[0].payload["cocaine"], "P");
    assert_eq!(events[0].occurred_at.to_rfc3339(), "2026-11-05T11:30:00+00:00");
}

#[test]
fn a_publisher_code_of_another_agency_is_refused() {
    let c = Connector::load(Path::new("connectors/court-results.toml")).unwrap();
    let body = std::fs::read("samples/court-results-B05LV00-20261031.xml").unwrap();
    let codes = ["B13BD00".to_string()];
    let refusal =
        c.parse(&body, &Publisher { agency: "court-b13bd00", codes: &codes }, &Default::default()).unwrap_err();
    assert_eq!(refusal.code.as_str(), "wrong_publisher");
}

/// `tracker connector test` tells a script whether a payload reads: 0 when every item maps, 1
/// when anything is refused — including a payload nested far deeper than any stack would take.
#[test]
fn connector_test_exits_1_when_it_refuses_a_payload() {
    let run = |connector: &str, payload: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tracker"))
            .args(["connector", "test"])
            .arg(Path::new("connectors").join(format!("{connector}.toml")))
            .arg(payload)
            .output()
            .expect("tracker runs")
    };
    let good = run("police-custody", &Path::new("samples").join("police-custody-05CL-20261030-1000.csv"));
    assert_eq!(good.status.code(), Some(0), "{}", String::from_utf8_lossy(&good.stderr));
    let bad = run("police-custody", &Path::new("samples/bad").join("police-custody-05CL-20261112-1400-bad-rows.csv"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("has 24 fields"));
    let deep = std::env::temp_dir().join(format!("deep-{}.xml", std::process::id()));
    let nested = format!(
        "<ResultsBatch court=\"B05LV00\"><Case>{}{}</Case></ResultsBatch>",
        "<a>".repeat(20_000),
        "</a>".repeat(20_000)
    );
    std::fs::write(&deep, nested).unwrap();
    let deep_run = run("court-results", &deep);
    let _ = std::fs::remove_file(&deep);
    assert_eq!(deep_run.status.code(), Some(1), "refused, not aborted");
    assert!(String::from_utf8_lossy(&deep_run.stdout).contains("too_deep"));
}

/// A log written to a file (or any pipe) carries no colour codes: only a terminal gets colour,
/// and never with NO_COLOR. The error of a bad configuration is said once.
#[test]
fn logs_to_a_file_are_plain_text_and_an_error_is_said_once() {
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tracker"));
        command.args(args).env("RUST_LOG", "info");
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().expect("tracker runs")
    };
    let migrated = run(&["migrate"], &[]);
    let log = String::from_utf8_lossy(&migrated.stderr);
    assert!(
        migrated.status.success() && log.contains("INFO") && log.contains("schema is up to date"),
        "{:?}: {log} / {}",
        migrated.status,
        String::from_utf8_lossy(&migrated.stdout)
    );
    assert!(!log.contains('\u{1b}'), "no escape codes in a log that is not a terminal: {log:?}");
    let bad = run(&["status"], &[("TRACKER__DATABASE__NOPE", "1")]);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(said.matches("unknown field `nope`").count(), 1, "said once: {said}");
}

/// A command that needs RabbitMQ, on a machine where it does not answer, says which service
/// and the one script that installs and starts both.
#[test]
fn a_missing_broker_is_named_with_how_to_start_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracker"))
        .arg("provision")
        .env("TRACKER__BROKER__URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .output()
        .expect("tracker runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(said.contains("RabbitMQ is not answering") && said.contains("bash scripts/services"), "{said}");
    assert!(std::path::Path::new("scripts/services").exists());
}
