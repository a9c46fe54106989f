//! Tracker's integration tests, one binary (one link of the whole crate): each module drives a
//! real hub against the real RabbitMQ and PostgreSQL.
mod api;
mod attacks;
mod connectors;
mod console;
mod court;
mod interleaving;
mod operations;
mod pipeline;
mod processes;
mod record_life;
mod reports;
mod sharing;
mod support;
