//! Retention by data class (DPA 2018 s.39: kept "for no longer than is necessary", with
//! "appropriate time limits … for the periodic review of the need for the continued storage").
//! Configured rules give, per data class (and agency, or every agency), how long records are
//! kept and how often what is kept is reviewed, counted from when the recorded thing happened
//! (`occurred_at`). A record past its period is erased (as an erasure at its owning agency's
//! request: `ops::erasure`), unless a review decided to keep it until a later date. A record
//! past a review interval and not covered by a decision is due for review; a review decides,
//! for an agency's due records of a class, to keep them until a date or to erase them now.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::hub::Hub;
use crate::settings::{Period, RetentionRule, RetentionSettings};
use crate::store;

/// A rule with its periods read.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub data_class: String,
    pub agency: String,
    pub keep: Period,
    pub review: Period,
}

/// Reads the configured rules; the first problem is named.
pub fn rules(settings: &RetentionSettings) -> Result<Vec<Rule>, String> {
    settings
        .rules
        .iter()
        .map(|r: &RetentionRule| {
            let named =
                |what: &str, e: String| format!("retention rule for {} ({}): {what} {e}", r.data_class, r.agency);
            Ok(Rule {
                data_class: r.data_class.clone(),
                agency: r.agency.clone(),
                keep: Period::parse(&r.keep).map_err(|e| named("keep", e))?,
                review: Period::parse(&r.review).map_err(|e| named("review", e))?,
            })
        })
        .collect()
}

/// The rule for an agency's records of a class: the agency's own, else the one for every agency.
pub fn rule_for<'a>(rules: &'a [Rule], agency: &str, data_class: &str) -> Option<&'a Rule> {
    rules
        .iter()
        .find(|r| r.data_class == data_class && r.agency == agency)
        .or_else(|| rules.iter().find(|r| r.data_class == data_class && r.agency == "*"))
}

/// What a retention pass erased (or, dry, would erase), by agency and class.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pass {
    pub dry_run: bool,
    /// (agency, data class) → records past their period.
    pub expired: BTreeMap<String, BTreeMap<String, usize>>,
    pub erased: usize,
    pub notices: usize,
}

/// Every (agency, data class) the store holds records of, with its rule.
async fn classes(hub: &Hub, rules: &[Rule]) -> Result<Vec<(String, String, Rule)>, sqlx::Error> {
    let held = store::retention::classes(&hub.pool).await?;
    Ok(held
        .into_iter()
        .filter_map(|(agency, class)| rule_for(rules, &agency, &class).cloned().map(|r| (agency, class, r)))
        .collect())
}

/// Erases every record past its period (not held by a review), or with `dry_run` only counts them.
pub async fn run(hub: &Hub, dry_run: bool) -> anyhow::Result<Pass> {
    let rules = rules(&hub.settings.retention).map_err(anyhow::Error::msg)?;
    let today = crate::sharing::today(hub.clock.now());
    let mut pass = Pass { dry_run, ..Pass::default() };
    for (agency, class, rule) in classes(hub, &rules).await? {
        let cutoff = rule.keep.before(today);
        let expired = store::retention::expired(&hub.pool, &agency, &class, cutoff, today).await?;
        if expired.is_empty() {
            continue;
        }
        pass.expired.entry(agency.clone()).or_default().insert(class.clone(), expired.len());
        if dry_run {
            continue;
        }
        let reason = format!("retention: {class} records are kept {}", describe(rule.keep));
        for chunk in expired.chunks(500) {
            let done = crate::ops::erasure::erase(hub, chunk, &agency, &reason, "retention").await?;
            pass.erased += done.erased.len();
            pass.notices += done.notices;
        }
    }
    Ok(pass)
}

/// What is due for review, by agency and class.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub agency: String,
    pub data_class: String,
    pub records: usize,
    pub oldest: Option<DateTime<Utc>>,
    pub keep: Period,
    pub review: Period,
}

/// Records past a review interval (and within their keep period) not covered by a decision.
pub async fn due(hub: &Hub) -> anyhow::Result<Vec<Due>> {
    let rules = rules(&hub.settings.retention).map_err(anyhow::Error::msg)?;
    let today = crate::sharing::today(hub.clock.now());
    let mut out = Vec::new();
    for (agency, class, rule) in classes(hub, &rules).await? {
        let (records, oldest) =
            store::retention::due_count(&hub.pool, &agency, &class, rule.review.before(today), today).await?;
        if records > 0 {
            out.push(Due {
                agency,
                data_class: class,
                records: records as usize,
                oldest,
                keep: rule.keep,
                review: rule.review,
            });
        }
    }
    Ok(out)
}

/// A review's decision for an agency's due records of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    KeepUntil(NaiveDate),
    Erase,
}

/// Records the decision for what is due now (and carries it out): returns how many records.
pub async fn decide(hub: &Hub, agency: &str, data_class: &str, decision: Decision, by: &str) -> anyhow::Result<usize> {
    let rules = rules(&hub.settings.retention).map_err(anyhow::Error::msg)?;
    let Some(rule) = rule_for(&rules, agency, data_class) else {
        anyhow::bail!("no retention rule covers {data_class} records of {agency}")
    };
    let today = crate::sharing::today(hub.clock.now());
    let due: Vec<Uuid> =
        store::retention::due_ids(&hub.pool, agency, data_class, rule.review.before(today), today).await?;
    let now = hub.clock.now();
    match decision {
        Decision::KeepUntil(until) => {
            anyhow::ensure!(until > today, "keep until {until}: a date after today ({today})");
            store::retention::hold(&hub.pool, agency, data_class, &due, until, by, now).await?;
        }
        Decision::Erase => {
            store::retention::record_erase_decision(&hub.pool, agency, data_class, due.len(), by, now).await?;
            let reason = format!("retention review: {data_class} records of {agency} no longer needed");
            for chunk in due.chunks(500) {
                crate::ops::erasure::erase(hub, chunk, agency, &reason, by).await?;
            }
        }
    }
    Ok(due.len())
}

fn describe(p: Period) -> String {
    match p {
        Period::Days(n) => format!("{n} days"),
        Period::Months(n) if n % 12 == 0 => format!("{} years", n / 12),
        Period::Months(n) => format!("{n} months"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agencys_own_rule_wins_over_the_rule_for_every_agency() {
        let rule = |agency: &str, keep| Rule { data_class: "health".into(), agency: agency.into(), keep, review: keep };
        let rules = [rule("*", Period::Months(96)), rule("treatment", Period::Months(24))];
        assert_eq!(rule_for(&rules, "treatment", "health").unwrap().keep, Period::Months(24));
        assert_eq!(rule_for(&rules, "probation", "health").unwrap().keep, Period::Months(96));
        assert!(rule_for(&rules, "probation", "custody").is_none());
    }
}
