//! Alerts: configured rules over the hub's state — dead letters above N, a connector silent for
//! T minutes, the outbox backlog above N, a consent expiring soon. Raised alerts show on the
//! console, on `/metrics` (`tracker_alert`) and in the log.
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::settings::Settings;
use crate::store;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The rule: dead_letters, connector_silent, outbox_backlog, consent_expiring.
    pub rule: &'static str,
    pub message: String,
}

pub const RULES: [&str; 4] = ["dead_letters", "connector_silent", "outbox_backlog", "consent_expiring"];

pub async fn evaluate(settings: &Settings, pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Vec<Alert>> {
    let rules = &settings.alerts;
    let mut out = Vec::new();
    let dead = store::refusals::open(pool).await?;
    let backlog = store::outbox::backlog(pool).await?;
    if dead > rules.dead_letters_above {
        out.push(Alert {
            rule: "dead_letters",
            message: format!("{dead} dead letters open (alert above {})", rules.dead_letters_above),
        });
    }
    if backlog > rules.outbox_backlog_above {
        out.push(Alert {
            rule: "outbox_backlog",
            message: format!("{backlog} deliveries waiting in the outbox (alert above {})", rules.outbox_backlog_above),
        });
    }
    if rules.connector_silent_minutes > 0 {
        let last = store::inbox::last_per_connector(pool).await?;
        let mut connectors: Vec<String> = settings.agencies.values().flat_map(|a| a.connectors.clone()).collect();
        connectors.sort();
        connectors.dedup();
        for c in connectors {
            let seen = last.iter().find(|(name, _)| *name == c).and_then(|(_, t)| *t);
            let silent = seen.is_none_or(|t| now - t > Duration::minutes(rules.connector_silent_minutes));
            if silent {
                let since = seen.map_or("never received anything".to_string(), |t| {
                    format!("nothing since {}", t.format("%Y-%m-%d %H:%M"))
                });
                out.push(Alert {
                    rule: "connector_silent",
                    message: format!("{c}: {since} (alert after {} min)", rules.connector_silent_minutes),
                });
            }
        }
    }
    let today = crate::sharing::today(now);
    let horizon = today + Duration::days(rules.consent_expiring_days);
    let expiring = store::consents::grants_expiring(pool, today, horizon).await?;
    for (subject, scope, expiry) in expiring {
        out.push(Alert {
            rule: "consent_expiring",
            message: format!(
                "consent {scope} of subject {subject} expires {expiry} ({} days)",
                (expiry - today).num_days()
            ),
        });
    }
    Ok(out)
}
