//! Postgres: the connection pool, migrations, and the error split every caller relies on —
//! *transient* (the database is away: stop, retry, lose nothing) or *permanent* (this input can
//! never be stored: refuse it with the reason).
pub mod archive;
pub mod consents;
pub mod consultations;
pub mod corrections;
pub mod court;
pub mod credentials;
pub mod dead_letters;
pub mod disclosure_log;
pub mod erasures;
pub mod events;
pub mod identity_conflicts;
pub mod identity_signatures;
pub mod inbox;
pub mod involvements;
pub mod leases;
pub mod locks;
pub mod maintenance;
pub mod message;
pub mod operator_actions;
pub mod outbox;
pub mod people;
pub mod projections;
pub mod recipient_scope;
pub mod record_identifiers;
pub mod refusals;
pub mod restrictions;
pub mod retention;
pub mod subjects;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::domain::names::AgencyId;

/// An update just stored, as sharing needs it (read from `events` by the sharing queries).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub event_type: String,
    pub data_class: String,
    #[sqlx(rename = "agency")]
    pub source_agency: AgencyId,
    pub occurred_at: DateTime<Utc>,
    /// Shared with the message it was read from: sharing reads it, nothing changes it.
    #[sqlx(try_from = "Json")]
    pub payload: Arc<Json>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Transient(sqlx::Error),
    #[error("database refused the data: {0}")]
    Permanent(sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

impl From<sqlx::Error> for StoreError {
    /// Only data the store can never accept is permanent (SQLSTATE classes 22, data exception,
    /// and 23, integrity violation): it is refused with the reason. Everything else — the
    /// database away, restarting, refusing connections, out of resources, or a schema not yet
    /// migrated — is transient: stop, retry, lose nothing.
    fn from(e: sqlx::Error) -> Self {
        let permanent = match &e {
            sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_)
            | sqlx::Error::TypeNotFound { .. } => true,
            _ => false,
        };
        if permanent { StoreError::Permanent(e) } else { StoreError::Transient(e) }
    }
}

/// The migrations in `migrations/`, embedded so the binary needs no files at run time.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "pipeline", include_str!("../../migrations/0001_pipeline.sql")),
    (2, "projections", include_str!("../../migrations/0002_projections.sql")),
    (3, "sharing", include_str!("../../migrations/0003_sharing.sql")),
    (4, "operations", include_str!("../../migrations/0004_operations.sql")),
    (5, "console", include_str!("../../migrations/0005_console.sql")),
    (6, "reports", include_str!("../../migrations/0006_reports.sql")),
    (7, "report rollups", include_str!("../../migrations/0007_report_rollups.sql")),
    (8, "refusal bytes once", include_str!("../../migrations/0008_refusal_bytes_once.sql")),
    (9, "redecisions", include_str!("../../migrations/0009_redecisions.sql")),
    (10, "retraction notices", include_str!("../../migrations/0010_retraction_notices.sql")),
    (11, "identity from records", include_str!("../../migrations/0011_identity_from_records.sql")),
    (12, "statistics where they serve", include_str!("../../migrations/0012_statistics_where_they_serve.sql")),
    (13, "consultations", include_str!("../../migrations/0013_consultations.sql")),
    (14, "court list", include_str!("../../migrations/0014_court_list.sql")),
    (15, "recalls", include_str!("../../migrations/0015_recalls.sql")),
    (16, "writer schemas", include_str!("../../migrations/0016_writer_schemas.sql")),
    (17, "corrections", include_str!("../../migrations/0017_corrections.sql")),
    (18, "erasures", include_str!("../../migrations/0018_erasures.sql")),
    (19, "retention", include_str!("../../migrations/0019_retention.sql")),
    (20, "restrictions", include_str!("../../migrations/0020_restrictions.sql")),
    (21, "identity signatures", include_str!("../../migrations/0021_identity_signatures.sql")),
    (22, "password upgrades", include_str!("../../migrations/0022_password_upgrades.sql")),
    (23, "console series", include_str!("../../migrations/0023_console_series.sql")),
    (24, "traced messages", include_str!("../../migrations/0024_traced_messages.sql")),
    (25, "small statistics samples", include_str!("../../migrations/0025_small_statistics_samples.sql")),
    (26, "time indexes brin", include_str!("../../migrations/0026_time_indexes_brin.sql")),
    (27, "local day statistics", include_str!("../../migrations/0027_local_day_statistics.sql")),
    (28, "unused indexes", include_str!("../../migrations/0028_unused_indexes.sql")),
    (29, "delivery latency rollups", include_str!("../../migrations/0029_delivery_latency_rollups.sql")),
    (30, "history read indexes", include_str!("../../migrations/0030_history_read_indexes.sql")),
    (31, "projections by statement", include_str!("../../migrations/0031_projections_by_statement.sql")),
    (32, "references by construction", include_str!("../../migrations/0032_references_by_construction.sql")),
    (33, "notices by delivery", include_str!("../../migrations/0033_notices_by_delivery.sql")),
    (34, "log entries by stage", include_str!("../../migrations/0034_log_entries_by_stage.sql")),
    (
        35,
        "record identifiers by identifier",
        include_str!("../../migrations/0035_record_identifiers_by_identifier.sql"),
    ),
    (36, "outbox unsent", include_str!("../../migrations/0036_outbox_unsent.sql")),
    (37, "latency bucket as plpgsql", include_str!("../../migrations/0037_latency_bucket_as_plpgsql.sql")),
    (38, "outbox notify", include_str!("../../migrations/0038_outbox_notify.sql")),
    (39, "outbox notify names the writer", include_str!("../../migrations/0039_outbox_notify_names_the_writer.sql")),
    (40, "hearing asn", include_str!("../../migrations/0040_hearing_asn.sql")),
    (41, "person references by statement", include_str!("../../migrations/0041_person_references_by_statement.sql")),
    (42, "treatment tests by person", include_str!("../../migrations/0042_treatment_tests_by_person.sql")),
    (43, "order marks from the index", include_str!("../../migrations/0043_order_marks_from_the_index.sql")),
    (44, "person check per person", include_str!("../../migrations/0044_person_check_per_person.sql")),
];

/// A list of strings as a PostgreSQL array literal (`{"a","b"}`), every element quoted and
/// escaped, for a batch statement to cast with `::text[]`. A batch cannot bind a list per row
/// (arrays of arrays must be rectangular); the literal's cast is half the cost of unpacking a
/// JSON array per row (measured on 5,000 disclosure-log rows: 13.5 ms against 25 ms).
pub fn text_array_literal(items: &[String]) -> String {
    let mut out = String::with_capacity(2 + items.iter().map(|i| i.len() + 3).sum::<usize>());
    out.push('{');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr;
    sqlx::migrate::Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                sqlx::migrate::Migration::new(
                    *version,
                    std::borrow::Cow::Borrowed(*name),
                    sqlx::migrate::MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Opens a pool whose connections give PostgreSQL `name` (`application_name`: it names the
/// writer in the outbox's notifications, see `Hub::name`); Postgres NOTICEs are not worth the log
/// lines.
pub async fn connect(url: &str, max_connections: u32, name: &str) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions =
        url.parse::<PgConnectOptions>()?.application_name(name).log_statements(tracing::log::LevelFilter::Trace);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // A connection's buffers grow to its largest statement and result (a load's batch sends
        // megabytes of parameters) and would be kept at that size for the connection's life:
        // 16 such buffers of 4 MB were a third of a year's load's resident memory. Back in the
        // pool, they are cut back to 8 KiB; the next large statement grows them again.
        .after_release(|conn, _| {
            Box::pin(async move {
                sqlx::Connection::shrink_buffers(conn);
                Ok(true)
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Begins a batch's transaction: JIT compilation off for its length, and the savepoint of its
/// first run of messages taken (`next_run`, `undo_run`). The message path's statements each take
/// milliseconds, but a batch's lookups of thousands of people are estimated above
/// `jit_above_cost`, and compiling them took 20-25 ms a statement whose execution took 8
/// (auto_explain during `tracker bench inbound`); reports keep the server's setting. All three
/// go as one simple query, and a run's savepoint is never released (the commit releases it): a
/// consumer's batch, one run, pays one round trip where it paid four (`BEGIN`, `SET`,
/// `SAVEPOINT`, `RELEASE`), each a wake-up of both processes on a busy machine.
pub async fn begin_batch(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin_with("BEGIN; SET LOCAL jit = off; SAVEPOINT tracker_run").await
}

/// Keeps what the run before stored and takes the savepoint of the next.
pub async fn next_run(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("RELEASE SAVEPOINT tracker_run; SAVEPOINT tracker_run").execute(&mut **tx).await?;
    Ok(())
}

/// Undoes what the current run stored (the store refused it), keeping the runs before it.
pub async fn undo_run(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("ROLLBACK TO SAVEPOINT tracker_run").execute(&mut **tx).await?;
    Ok(())
}

/// Whether the database answers.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    migrator().run(pool).await?;
    Ok(())
}

/// Creates a new empty database beside the one `url` names and returns its URL (tests and
/// benchmarks each get their own, so they run side by side and leave the real one alone).
pub async fn create_scratch_database(url: &str, prefix: &str) -> Result<String, StoreError> {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = connect(url, 1, "tracker scratch").await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await?;
    pool.close().await;
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

/// Drops a database made by [`create_scratch_database`].
pub async fn drop_scratch_database(admin_url: &str, scratch_url: &str) -> Result<(), StoreError> {
    let Some((_, name)) = scratch_url.rsplit_once('/') else {
        return Ok(());
    };
    let pool = connect(admin_url, 1, "tracker scratch").await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::text_array_literal;

    #[test]
    fn a_list_becomes_an_array_literal_whatever_its_items_hold() {
        let items: Vec<String> = ["plain", "", "with,comma", "{brace}", "quote\"d", "back\\slash", "NULL", " spaced "]
            .map(String::from)
            .into();
        assert_eq!(
            text_array_literal(&items),
            r#"{"plain","","with,comma","{brace}","quote\"d","back\\slash","NULL"," spaced "}"#
        );
        assert_eq!(text_array_literal(&[]), "{}");
    }
}
