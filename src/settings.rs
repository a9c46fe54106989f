//! Typed configuration: `config/default.toml`, then `config/<TRACKER_ENV>.toml`, then
//! `TRACKER__SECTION__KEY` environment variables. Unknown keys are refused, so a typo never
//! silently falls back to a default.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::names::AgencyId;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: clock.fixed {0:?} is not an RFC 3339 instant")]
    Clock(String),
    #[error("configuration: agency {agency} uses unknown connector {connector:?}")]
    UnknownConnector { agency: AgencyId, connector: String },
    #[error("configuration: user {user}: {problem}")]
    User { user: String, problem: String },
    #[error("configuration: retention {0}")]
    Retention(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub broker: BrokerSettings,
    pub database: DatabaseSettings,
    pub limits: Limits,
    pub paths: Paths,
    pub clock: ClockSettings,
    pub log: LogSettings,
    pub sharing: SharingSettings,
    pub http: HttpSettings,
    #[serde(default)]
    pub auth: AuthSettings,
    pub alerts: AlertSettings,
    #[serde(default)]
    pub scale: ScaleSettings,
    #[serde(default)]
    pub court: CourtSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
    pub agencies: BTreeMap<AgencyId, AgencySettings>,
}

/// More than one hub process on one broker and database (see `store::leases`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScaleSettings {
    /// How often a process looks at how many processes share the work, and takes over what a
    /// stopped one held, in seconds.
    pub check_secs: u64,
    /// The outbox is shared out in this many partitions by person (every hub process must use the
    /// same number): a person's deliveries are always published by one process, in order.
    pub publisher_partitions: u16,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        ScaleSettings { check_secs: 2, publisher_partitions: 8 }
    }
}

/// Retention by data class (see `retention`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// How often `tracker run` erases what has passed its period, in seconds; 0 never (then only
    /// `tracker retention run` does).
    pub check_secs: u64,
    pub rules: Vec<RetentionRule>,
}

/// How long one data class is kept (for one agency's records, or every agency's: `*`), and how
/// often what is kept is reviewed. Periods are a number and a unit: `30d`, `18m`, `6y`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    pub data_class: String,
    #[serde(default = "every_agency")]
    pub agency: String,
    pub keep: String,
    pub review: String,
}

fn every_agency() -> String {
    "*".into()
}

/// A period: days or calendar months (a year is twelve).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Period {
    Days(u32),
    Months(u32),
}

impl Period {
    /// Reads `30d`, `18m`, `6y`.
    pub fn parse(s: &str) -> Result<Period, String> {
        let s = s.trim();
        let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: u32 = number.parse().map_err(|_| format!("{s:?} is not a period like 30d, 18m or 6y"))?;
        match unit {
            "d" => Ok(Period::Days(n)),
            "m" => Ok(Period::Months(n)),
            "y" => n.checked_mul(12).map(Period::Months).ok_or_else(|| format!("{s:?} is too long")),
            _ => Err(format!("{s:?} is not a period like 30d, 18m or 6y")),
        }
    }

    /// The day this period before `day`: a record that happened before it is older than the period.
    pub fn before(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Days(n) => day - chrono::Duration::days(i64::from(n)),
            Period::Months(n) => day.checked_sub_months(Months::new(n)).unwrap_or(NaiveDate::MIN),
        }
    }
}

/// The court's pages (see `court::pdf`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CourtSettings {
    /// The Chromium (or Chrome) that prints bench summaries and packs to PDF; empty: the first
    /// of chromium, chromium-browser, google-chrome found on PATH.
    pub pdf_browser: String,
    /// A print that takes longer is stopped and refused, in seconds.
    pub pdf_timeout_secs: u64,
}

impl Default for CourtSettings {
    fn default() -> Self {
        CourtSettings { pdf_browser: String::new(), pdf_timeout_secs: 30 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    pub url: String,
    pub prefix: String,
    pub prefetch: u16,
    /// Group commit: a consumer takes up to this many of its queue's messages that are ready
    /// (at most `prefetch`) and stores them in one transaction, acknowledged together.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long a consumer holding one message waits for more before storing what it has, in
    /// milliseconds. 0 takes only what the broker has already delivered: no added latency.
    #[serde(default)]
    pub batch_linger_ms: u64,
    /// A batch stops growing once its payloads reach this many bytes (a batch of large files
    /// holds a few, not `batch_size`).
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: usize,
    /// The outbox publisher sends up to this many deliveries before the oldest is confirmed
    /// (confirms are matched as they arrive; a row is marked published only once confirmed).
    #[serde(default = "default_publish_window")]
    pub publish_window: usize,
    pub management_url: String,
    /// Per-agency broker users are named this prefix followed by the agency id.
    pub user_prefix: String,
    /// Agencies publish as their own broker users: a message must carry `user_id` (which
    /// RabbitMQ checks is the connection's user) naming the agency of its routing key, or it is
    /// refused. Off only where every publisher shares one user (the demo).
    #[serde(default)]
    pub require_user_id: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    /// Whether the hub analyses and vacuums the tables it grows (see `runtime::maintenance`).
    #[serde(default)]
    pub maintenance: Maintenance,
    #[serde(default = "default_maintenance_interval")]
    pub maintenance_interval_secs: u64,
}

fn default_publish_window() -> usize {
    1024
}

fn default_maintenance_interval() -> u64 {
    5
}

/// Who keeps table statistics and reclaims dead rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Maintenance {
    /// The hub, when the server's autovacuum is off.
    #[default]
    Auto,
    /// The hub, whatever the server does.
    Always,
    /// The server (or an operator) alone.
    Off,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_message_bytes: usize,
    /// A message delivered this many times without being committed (the hub died or failed
    /// while it was in hand) is refused as poison instead of read again.
    #[serde(default = "default_max_deliveries")]
    pub max_deliveries: u32,
    /// A dead letter of a whole payload carries at most this many of its bytes (the payload
    /// itself stays in the raw archive, where replay reads it).
    #[serde(default = "default_dead_letter_body_bytes")]
    pub dead_letter_body_bytes: usize,
    /// At most this many dead letters per message; one more summarises the rest.
    #[serde(default = "default_dead_letters_per_message")]
    pub dead_letters_per_message: usize,
    #[serde(default)]
    pub parse: crate::connectors::limits::ParseLimits,
}

fn default_batch_size() -> usize {
    128
}

fn default_batch_max_bytes() -> usize {
    512 * 1024
}

fn default_max_deliveries() -> u32 {
    5
}

fn default_dead_letter_body_bytes() -> usize {
    65_536
}

fn default_dead_letters_per_message() -> usize {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    pub connectors: PathBuf,
    /// One file of sharing agreements per owning agency (or kind of agency).
    pub agreements: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Users of the HTTP interface by name: role and password hash.
    #[serde(default)]
    pub users: BTreeMap<String, crate::http::auth::UserSettings>,
}

/// Alert rules: crossing one raises an alert on the console, on `/metrics` and in the log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Open dead letters above this.
    pub dead_letters_above: i64,
    /// A connector that received nothing for this many minutes (0: off).
    pub connector_silent_minutes: i64,
    /// Outbox backlog above this.
    pub outbox_backlog_above: i64,
    /// A consent expiring within this many days.
    pub consent_expiring_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address `tracker run` serves HTTP on; empty turns the server off.
    pub listen: String,
    /// Failed logins for one user name within a minute before it is refused (429) for the rest
    /// of the minute.
    #[serde(default = "default_login_failures_per_name")]
    pub login_failures_per_name: u32,
    /// Failed logins from one address within a minute before it is refused.
    #[serde(default = "default_login_failures_per_address")]
    pub login_failures_per_address: u32,
}

fn default_login_failures_per_name() -> u32 {
    crate::http::throttle::FAILURES_ALLOWED
}

fn default_login_failures_per_address() -> u32 {
    crate::http::throttle::ADDRESS_FAILURES_ALLOWED
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingSettings {
    /// How long an event keeps an agency involved with the person it names.
    pub involvement_months: u32,
}

/// How a subscriber receives its deliveries.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryFormat {
    /// Avro single-object encoding of `tracker.v1.Update`.
    #[default]
    Avro,
    /// The same record as plain JSON.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    pub fixed: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
    /// An OTLP/HTTP collector (`http://host:4318`) to send the hub's spans to; empty: none.
    #[serde(default)]
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum AgencyKind {
    Police,
    Court,
    Probation,
    Treatment,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencySettings {
    pub kind: AgencyKind,
    pub name: String,
    pub connectors: Vec<String>,
    /// Codes the agency's own payloads carry; a payload code must start with one of them.
    pub codes: Vec<String>,
    #[serde(default)]
    pub delivery: DeliveryFormat,
}

impl Settings {
    /// Loads the layered configuration from `config_dir`.
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        let env_name = std::env::var("TRACKER_ENV").unwrap_or_default();
        let mut builder =
            config::Config::builder().add_source(config::File::from(config_dir.join("default.toml")).required(true));
        if !env_name.is_empty() {
            builder =
                builder.add_source(config::File::from(config_dir.join(format!("{env_name}.toml"))).required(true));
        }
        let builder = builder.add_source(
            config::Environment::with_prefix("TRACKER").prefix_separator("__").separator("__").try_parsing(true),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.fixed_clock()?;
        Ok(settings)
    }

    /// The instant the clock is fixed to, if any.
    pub fn fixed_clock(&self) -> Result<Option<DateTime<Utc>>, SettingsError> {
        let text = self.clock.fixed.trim();
        if text.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| SettingsError::Clock(text.to_string()))
    }

    /// Checks every agency names connectors that exist.
    pub fn check_connectors(&self, known: &[String]) -> Result<(), SettingsError> {
        for (agency, a) in &self.agencies {
            for c in &a.connectors {
                if !known.contains(c) {
                    return Err(SettingsError::UnknownConnector { agency: agency.clone(), connector: c.clone() });
                }
            }
        }
        Ok(())
    }

    /// Checks every retention rule's periods read.
    pub fn check_retention(&self) -> Result<(), SettingsError> {
        for r in &self.retention.rules {
            for (what, period) in [("keep", &r.keep), ("review", &r.review)] {
                Period::parse(period).map_err(|e| {
                    SettingsError::Retention(format!("rule for {} ({}): {what} {e}", r.data_class, r.agency))
                })?;
            }
        }
        Ok(())
    }

    /// Checks every court user names a court agency, and no other user names one.
    pub fn check_users(&self) -> Result<(), SettingsError> {
        use crate::http::auth::Role;
        for (user, u) in &self.auth.users {
            let problem = match (u.role, &u.court) {
                (Role::Court, None) => "a court user needs court = \"<court agency id>\"".to_string(),
                (Role::Court, Some(c)) if self.agency(c).map(|a| a.kind) != Some(AgencyKind::Court) => {
                    format!("court {c:?} is not an agency of kind court")
                }
                (Role::Court, Some(_)) | (_, None) => continue,
                (_, Some(_)) => "only a court user names a court".to_string(),
            };
            return Err(SettingsError::User { user: user.clone(), problem });
        }
        Ok(())
    }

    pub fn agency(&self, id: &str) -> Option<&AgencySettings> {
        self.agencies.get(id)
    }
}

#[cfg(test)]
mod period_tests {
    use super::*;

    #[test]
    fn periods_read_days_months_and_years_and_refuse_the_rest() {
        assert_eq!(Period::parse("30d"), Ok(Period::Days(30)));
        assert_eq!(Period::parse("18m"), Ok(Period::Months(18)));
        assert_eq!(Period::parse("6y"), Ok(Period::Months(72)));
        assert!(Period::parse("6 years").is_err());
        assert!(Period::parse("y").is_err());
        assert!(Period::parse("99999999999y").is_err());
        let day = NaiveDate::from_ymd_opt(2027, 2, 28).unwrap();
        assert_eq!(Period::Months(12).before(day), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(Period::Days(30).before(day), NaiveDate::from_ymd_opt(2027, 1, 29).unwrap());
    }
}
