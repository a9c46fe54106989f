//! Read-only questions about sharing: why an update went (or did not go) to a recipient, and
//! what would change under different agreements. Nothing here writes to the store.
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::agreements::{Agreements, Rule};
use super::decide::{self, Decision};
use super::{NewEvent, Sharing, facts, today};
use crate::settings::AgencyKind;

use crate::store::disclosure_log::PairEntry;
use crate::store::events::update as load_event;

/// Decides (event, recipient) against `rules` with the facts as the store now holds them (at the
/// update's `occurred_at`; consent as it is now), read-only.
async fn decide_now(
    pool: &PgPool,
    sharing: &Sharing,
    rules: &[Rule],
    e: &NewEvent,
    recipient: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Decision, decide::Facts)>, sqlx::Error> {
    let (Some(subject), Some(kind)) = (e.subject_id, sharing.kind_of(recipient)) else {
        return Ok(None);
    };
    let mut tx = pool.begin().await?;
    let treatment: Vec<crate::domain::names::AgencyId> =
        sharing.agencies.iter().filter(|(_, k)| *k == AgencyKind::Treatment).map(|(a, _)| a.clone()).collect();
    let (people, _) =
        facts::people(&mut tx, &[subject], today(now), sharing.involvement_months, &treatment, &Default::default())
            .await?;
    tx.rollback().await?;
    let f = people.get(&subject).map(|p| p.at(e.occurred_at)).unwrap_or_default();
    Ok(Some((sharing.decide_with(rules, e, recipient, kind, Ok(&f), today(now)), f)))
}

/// Why an update went (or did not go) to a recipient: what was logged, the facts, the rules
/// that could apply, and the decision under the current agreements.
#[derive(Debug, serde::Serialize)]
pub struct Explanation {
    pub event_id: Uuid,
    pub event_type: String,
    pub data_class: String,
    pub source_agency: String,
    pub occurred_at: DateTime<Utc>,
    pub recipient: String,
    pub logged: Vec<PairEntry>,
    /// The person it is linked to (none: shared with no one).
    pub subject_id: Option<Uuid>,
    pub facts: Option<decide::Facts>,
    pub rules: Vec<RuleOutcome>,
    /// The decision under the current agreements and facts.
    pub decision_now: Option<String>,
}

/// A rule that names this owner, recipient and kind of update, and how it stands.
#[derive(Debug, serde::Serialize)]
pub struct RuleOutcome {
    pub id: String,
    pub effect: String,
    pub file: String,
    pub valid_today: bool,
    /// Whether its field conditions hold (none when it has none).
    pub conditions_hold: Option<bool>,
    pub facts: Vec<String>,
    pub needs_consent: bool,
}

/// `tracker sharing explain`: the decision recorded, and why the rules decide as they do now.
pub async fn explain(
    pool: &PgPool,
    sharing: &Sharing,
    event_id: Uuid,
    recipient: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Explanation> {
    let e = load_event(pool, event_id).await?.ok_or_else(|| anyhow::anyhow!("no event {event_id}"))?;
    let logged = crate::store::disclosure_log::of_pair(pool, event_id, recipient).await?;
    let mut x = Explanation {
        event_id: e.event_id,
        event_type: e.event_type.to_string(),
        data_class: e.data_class.to_string(),
        source_agency: e.source_agency.to_string(),
        occurred_at: e.occurred_at,
        recipient: recipient.to_string(),
        logged,
        subject_id: e.subject_id,
        facts: None,
        rules: Vec::new(),
        decision_now: None,
    };
    if e.subject_id.is_none() {
        return Ok(x);
    }
    let Some((decision, f)) = decide_now(pool, sharing, &sharing.agreements.rules, &e, recipient, now).await? else {
        anyhow::bail!("{recipient} is not a configured agency");
    };
    for r in &sharing.agreements.rules {
        let owner =
            sharing.kind_of(&e.source_agency).is_some_and(|k| r.owners.iter().any(|o| o.matches(&e.source_agency, k)));
        let to = sharing.kind_of(recipient).is_some_and(|k| r.recipients.iter().any(|p| p.matches(recipient, k)));
        if owner && to && r.covers(&e.event_type, &e.data_class) {
            x.rules.push(RuleOutcome {
                id: r.id.to_string(),
                effect: format!("{:?}", r.effect),
                file: r.file.display().to_string(),
                valid_today: r.valid_on(today(now)),
                conditions_hold: (!r.when_any.is_empty())
                    .then(|| r.when_any.iter().any(|c| decide::condition_holds(c, &e.payload))),
                facts: r.facts.iter().map(|f| format!("{f:?}")).collect(),
                needs_consent: r.consent,
            });
        }
    }
    x.facts = Some(f);
    x.decision_now = Some(describe(&decision));
    Ok(x)
}

impl Explanation {
    /// The explanation as a person reads it.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Update {} ({}, data class {}) from {}, occurred {}\nRecipient {}\n\n",
            self.event_id, self.event_type, self.data_class, self.source_agency, self.occurred_at, self.recipient
        );
        if self.logged.is_empty() {
            out.push_str("Logged: nothing — the recipient's subscription did not cover this update (not involved with the person when it was decided).\n");
        }
        for PairEntry { stage, decision, reason, agreement, catch_up, logged_at: at } in &self.logged {
            let _ = writeln!(
                out,
                "Logged ({stage} {at}): {decision}{}{}{}",
                reason.as_ref().map(|r| format!(", reason {r}")).unwrap_or_default(),
                agreement.as_ref().map(|a| format!(", agreement {a}")).unwrap_or_default(),
                if *catch_up { ", history catch-up" } else { "" }
            );
        }
        let (Some(subject), Some(f)) = (self.subject_id, &self.facts) else {
            out.push_str("\nThe update is linked to no person (identity conflict or no usable identifier): it is shared with no one.\n");
            return out;
        };
        let _ = writeln!(
            out,
            "\nFacts about subject {subject} at the update's time: active order {}, in treatment {}; consent now for \
             courts {}, for probation {}",
            f.active_order, f.in_treatment, f.consent_courts, f.consent_probation
        );
        out.push_str("Rules that name this owner, recipient and kind of update:\n");
        for r in &self.rules {
            let _ = writeln!(
                out,
                "  {} ({}, {}): valid today {}, field conditions {}{}{}",
                r.id,
                r.effect,
                r.file,
                r.valid_today,
                r.conditions_hold.map_or("none".to_string(), |h| h.to_string()),
                if r.facts.is_empty() { String::new() } else { format!(", facts {:?}", r.facts) },
                if r.needs_consent { ", needs consent" } else { "" }
            );
        }
        if self.rules.is_empty() {
            out.push_str("  none: deny by default (no agreement)\n");
        }
        let _ = writeln!(
            out,
            "\nDecision under the current agreements and facts: {}",
            self.decision_now.as_deref().unwrap_or("")
        );
        out
    }
}

pub fn describe(d: &Decision) -> String {
    match d {
        Decision::Deliver(g) => format!("deliver under {} ({})", g.agreement, g.purpose),
        Decision::Redact { grant, fields } => {
            format!("deliver under {} with {} withheld", grant.agreement, fields.join(", "))
        }
        Decision::Withhold { reason, agreement } => {
            format!("withhold: {reason}{}", agreement.as_ref().map(|a| format!(" ({a})")).unwrap_or_default())
        }
    }
}

/// A logged decision that would change under other agreements.
#[derive(Debug, serde::Serialize)]
pub struct Change {
    pub event_type: String,
    pub event_id: Uuid,
    pub recipient: String,
    pub now: String,
    pub proposed: String,
}

/// What other agreements would change.
#[derive(Debug, serde::Serialize)]
pub struct WhatIf {
    pub agreements: String,
    pub decisions_checked: usize,
    pub changes: Vec<Change>,
}

impl WhatIf {
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let _ = writeln!(out, "{} {} -> {}: {}  =>  {}", c.event_type, c.event_id, c.recipient, c.now, c.proposed);
        }
        let _ = writeln!(
            out,
            "{} of {} logged decisions would change under {}",
            self.changes.len(),
            self.decisions_checked,
            self.agreements
        );
        out
    }
}

/// `tracker sharing what-if`: every logged (update, recipient) whose decision differs between the
/// current agreements and those in `dir`, both judged on today's facts.
pub async fn what_if(
    pool: &PgPool,
    sharing: &Sharing,
    dir: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<WhatIf> {
    let changed = Agreements::load(dir)?;
    let pairs: Vec<(Uuid, String)> = crate::store::disclosure_log::decided_pairs(pool).await?;
    let mut changes = Vec::new();
    for (event_id, recipient) in &pairs {
        let Some(e) = load_event(pool, *event_id).await? else { continue };
        let current = decide_now(pool, sharing, &sharing.agreements.rules, &e, recipient, now).await?;
        let proposed = decide_now(pool, sharing, &changed.rules, &e, recipient, now).await?;
        if let (Some((a, _)), Some((b, _))) = (current, proposed)
            && a != b
        {
            changes.push(Change {
                event_type: e.event_type.to_string(),
                event_id: e.event_id,
                recipient: recipient.clone(),
                now: describe(&a),
                proposed: describe(&b),
            });
        }
    }
    Ok(WhatIf { agreements: dir.display().to_string(), decisions_checked: pairs.len(), changes })
}
