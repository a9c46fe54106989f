//! Tracker: a justice information-sharing hub.
//!
//! Layout — each folder a room, in the order a message meets them:
//! - `settings`, `clock`, `telemetry`: configuration, the hub's clock, logging; `allocator`: how
//!   the process keeps its memory (set before anything else runs).
//! - `domain`: person identifiers and the canonical event vocabulary.
//! - `schemas`: the Avro schemas (`schemas/*.avsc`), validation, encoding, compatibility.
//! - `connectors`: declared legacy-format connectors (`connectors/*.toml`): decode and map. Pure.
//! - `hub`: the shared state (settings, connectors, schemas, store pool, clock, sharing rules),
//!   built once; `stats`: its work counters and latency histograms.
//! - `app`: the composition root — builds the hub and runs its tasks until stopped.
//! - `runtime`: the message path — consume → admit and read → process (store and decide in one
//!   transaction: `record` over store and identity, then `apply` has sharing decide) → outbox
//!   publisher, with `retry` beside it. Its `//!` states the delivery guarantee.
//! - `store`: Postgres, by table — every statement the product runs (but the report catalogue's),
//!   each taking the caller's transaction; migrations; the advisory locks. Calls nothing above it.
//! - `identity`: who is who, resolved over the whole set of records (`identity::resolve`, pure),
//!   and the moves a later record (or an operator's decision) causes.
//! - `sharing`: agreements, decisions per (update, recipient), catch-up, notices (retractions,
//!   corrections sent on to holders, erasures, restrictions), the disclosure log.
//! - `consent`: consent recorded by operators.
//! - `court`: the court's view of a person (bench summary, court list), built only from what that
//!   court was sent; `consultations`: who looked at whom (s.62), hash-chained like the
//!   disclosure log (`chain`).
//! - `broker`: RabbitMQ only: connect, the broker contract (provision), users, confirmed publish.
//! - `ops`: the operator's tools: dead letters, identity review, status, alerts; recalling a
//!   disclosure made in error; erasing and restricting records at the owning agency's request.
//! - `retention`: records kept no longer than their data class's period, and reviewed.
//! - `reports`: the report catalogue, runner and formats; `export`: subject access exports;
//!   `person`: one person's record for operators.
//! - `http`: the HTTP interface (health, readiness, metrics, schemas, reports, console), its
//!   users and roles (`auth`) and failed-login lockout (`throttle`).
//! - `html`: escaping for every page the hub writes.
//! - `cli`: the command line.
//! - `tools`: one-off tools apart from the product — demo, generator, bulk load, benchmarks,
//!   attack suite, the sandbox tests run a hub in, fuzz entry points.
pub mod allocator;
pub mod app;
pub mod broker;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod connectors;
pub mod consent;
pub mod consultations;
pub mod court;
pub mod domain;
pub mod export;
pub mod html;
pub mod http;
pub mod hub;
pub mod identity;
pub mod ops;
pub mod otlp;
pub mod person;
pub mod reports;
pub mod retention;
pub mod runtime;
pub mod schemas;
pub mod settings;
pub mod sharing;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod tools;
pub mod trace_context;
pub mod words;
