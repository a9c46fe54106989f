//! The HTTP interface against its OpenAPI document, checked from outside by schemathesis (from
//! PyPI; `bash scripts/services` installs it): for an operator, a court user and an analyst,
//! every documented route is called with generated valid and invalid inputs, and every answer
//! must be documented — status, content type, headers and body schema — with no server error,
//! invalid inputs refused and no route answering without credentials. Also: every refusal is
//! JSON in one shape, and every answer carries a request id.

use std::path::Path;
use std::process::Command;

use crate::support::{SAMPLES, TestHub, USERS, http};

/// Test cases per route and user (each run also walks schemathesis's coverage phase).
const EXAMPLES_PER_ROUTE: &str = "15";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_the_openapi_document_says() {
    // Schemathesis tries wrong credentials on every route and expects 401 each time, not the
    // lockout that follows a few failures (tested on its own in attacks and console).
    let hub = TestHub::start_with(|s| {
        s.http.login_failures_per_name = u32::MAX;
        s.http.login_failures_per_address = u32::MAX;
    })
    .await;
    hub.send_sample_plan().await;
    hub.send("probation", "probation-events", &Path::new(SAMPLES).join("bad/probation-0011-not-json.json")).await;
    let base = hub.start_http().await.expect("HTTP served");
    let doc: serde_json::Value = serde_json::from_str(tracker::http::public::OPENAPI).unwrap();
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    // Schemathesis keeps a cache where it runs: a scratch directory, not the checkout.
    let config = std::fs::canonicalize("tests/schemathesis.toml").unwrap();
    let scratch = std::env::temp_dir().join(format!("schemathesis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).unwrap();
    let workdir = scratch.clone();
    let failures = tokio::task::spawn_blocking(move || {
        let mut failures = Vec::new();
        for user in ["op", "lv", "ana"] {
            let password = USERS.iter().find(|u| u.0 == user).unwrap().1;
            let out = Command::new("python3")
                .current_dir(&workdir)
                .args(["-m", "schemathesis.cli", "--config-file"])
                .arg(&config)
                .args(["run", &format!("{base}/api/v1/openapi.json")])
                .args(["--checks", "all"])
                .args(["--auth", &format!("{user}:{password}"), "--max-examples", EXAMPLES_PER_ROUTE])
                // One worker: with two, Hypothesis's threads parse source concurrently and
                // CPython 3.11's AST converter (python/cpython#106905) can fail one of them with
                // "AST constructor recursion depth mismatch", a runtime error that is not ours.
                .args(["--seed", "1", "--workers", "1", "--request-timeout", "30", "--no-color"])
                .args(["--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all"])
                .output()
                .expect("python3 runs");
            let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(!said.contains("No module named"), "schemathesis is not installed: bash scripts/services");
            // Every operation was called (a run that tested nothing would also pass); schemathesis
            // leaves out the route that serves the document it reads.
            let tested = said.split("Tested: ").nth(1).and_then(|t| t.split_whitespace().next()?.parse::<usize>().ok());
            assert_eq!(tested, Some(operations - 1), "as {user}: {said}");
            if !out.status.success() {
                failures.push(format!("as {user}:\n{said}"));
            }
        }
        failures
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    hub.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_json_in_one_shape_with_a_request_id() {
    let hub = TestHub::start().await;
    let base = hub.start_http().await.expect("HTTP served");
    tokio::task::spawn_blocking(move || {
        let cases: [(&str, &str, Option<&str>, u16, &str); 8] = [
            ("GET", "/api/v1/status", None, 401, "unauthorized"),
            ("GET", "/api/v1/status", Some("sub"), 403, "forbidden"),
            ("GET", "/api/v1/deadletters/not-a-number", Some("op"), 400, "bad_request"),
            ("GET", "/api/v1/deadletters/424242", Some("op"), 404, "not_found"),
            ("GET", "/api/v1/reports/no-such-report?from=2026-11-01&to=2026-11-30", Some("ana"), 404, "not_found"),
            ("GET", "/api/v1/reports/offence-to-charge?from=2026-11-30&to=2026-11-01", Some("ana"), 400, "bad_request"),
            ("DELETE", "/api/v1/status", Some("op"), 405, "method_not_allowed"),
            ("GET", "/nothing/here", Some("op"), 404, "not_found"),
        ];
        for (method, path, user, status, code) in cases {
            let auth = user.map(|u| (u, USERS.iter().find(|x| x.0 == u).unwrap().1));
            let (got, headers, body) =
                crate::support::request_with_headers(method, &format!("{base}{path}"), auth, &[]);
            assert_eq!(got, status, "{method} {path}: {body}");
            let error: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|_| panic!("{method} {path} answered JSON: {body}"));
            assert_eq!(error["code"], code, "{method} {path}: {body}");
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
            assert!(error["details"].is_object(), "{body}");
            assert!(headers.get("x-request-id").is_some_and(|id| id.len() >= 8), "{method} {path}: a request id");
        }
        // A caller's own request id is kept (so its logs and ours can be joined).
        let (_, headers, _) = crate::support::request_with_headers(
            "GET",
            &format!("{base}/health"),
            None,
            &[("x-request-id", "caller-7f3a")],
        );
        assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("caller-7f3a"));
        // The document is served to anyone, and is the one the repository holds.
        let (status, doc) = http("GET", &format!("{base}/api/v1/openapi.json"), None, None);
        assert_eq!(status, 200);
        assert_eq!(doc, tracker::http::public::OPENAPI);
    })
    .await
    .unwrap();
    hub.finish().await;
}
