//! Tracker: a justice information-sharing hub.
//!
//! Layout:
//! - `settings`, `clock`, `telemetry`: configuration, the hub's clock, logging.
//! - `domain`: person identifiers and the canonical event vocabulary.
//! - `schemas`: the Avro schemas (`schemas/*.avsc`), validation, encoding, compatibility.
//! - `connectors`: declared legacy-format connectors (`connectors/*.toml`): decode and map.
//! - `consent`: consent recorded by operators.
//! - `store`: Postgres: migrations, raw archive, inbox, events, projections.
//! - `identity`: who is who, resolved over the whole set of records (`identity::resolve`, pure), and
//!   the moves a later record causes.
//! - `sharing`: agreements, decisions per (update, recipient), catch-up, the disclosure log.
//! - `broker`: RabbitMQ: the broker contract (provision), publishing, consuming.
//! - `service`: consumers and publisher running side by side.
//! - `reports`: the report catalogue, runner and formats.
//! - `routing`: the outbox publisher (deliveries to `tracker.out.<agency>`, confirmed).
//! - `console`: the operator console page.
//! - `auth`: users, roles and rights of the HTTP interface; `throttle`: failed-login lockout.
//! - `http`: the HTTP interface (health, readiness, metrics, schemas for subscribers).
//! - `metrics`: the Prometheus exposition.
//! - `pipeline`: one inbound message, from archive to acknowledgement; `large_payloads`: the
//!   lower-priority threads that read large payloads.
//! - `sandbox`: a hub on its own database and broker prefix (tests, benchmarks).
//! - `ops`: dead letters (list, show, replay, purge), reprocess, status.
//! - `export`: subject access exports (DPA 2018 s.45).
//! - `fuzzing`: entry points for the fuzz targets in `fuzz/`.
//! - `generate`: realistic generated feeds for demos and benchmarks.
//! - `attack`: the attack suite's catalogue and runner (`tracker attack`).
//! - `person`, `demo`, `bench`, `cli`: the commands.
pub mod attack;
pub mod auth;
pub mod bench;
pub mod bench_delivery;
pub mod bench_hostile;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod connectors;
pub mod consent;
pub mod console;
pub mod demo;
pub mod domain;
pub mod export;
pub mod fuzzing;
pub mod generate;
pub mod http;
pub mod identity;
pub mod large_payloads;
pub mod load;
pub mod metrics;
pub mod ops;
pub mod person;
pub mod pipeline;
pub mod reports;
pub mod routing;
pub mod sandbox;
pub mod schemas;
pub mod service;
pub mod settings;
pub mod sharing;
pub mod store;
pub mod telemetry;
pub mod throttle;
