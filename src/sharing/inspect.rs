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

/// `tracker sharing explain`: the decision recorded, and why the rules decide as they do now.
pub async fn explain(
    pool: &PgPool,
    sharing: &Sharing,
    event_id: Uuid,
    recipient: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let e = load_event(pool, event_id).await?.ok_or_else(|| anyhow::anyhow!("no event {event_id}"))?;
    let mut out = format!(
        "Update {} ({}, data class {}) from {}, occurred {}\nRecipient {recipient}\n\n",
        e.event_id, e.event_type, e.data_class, e.source_agency, e.occurred_at
    );
    let logged = crate::store::disclosure_log::of_pair(pool, event_id, recipient).await?;
    if logged.is_empty() {
        out.push_str("Logged: nothing — the recipient's subscription did not cover this update (not involved with the person when it was decided).\n");
    }
    for PairEntry { stage, decision, reason, agreement, catch_up, logged_at: at } in logged {
        let _ = writeln!(
            out,
            "Logged ({stage} {at}): {decision}{}{}{}",
            reason.map(|r| format!(", reason {r}")).unwrap_or_default(),
            agreement.map(|a| format!(", agreement {a}")).unwrap_or_default(),
            if catch_up { ", history catch-up" } else { "" }
        );
    }
    let Some(subject) = e.subject_id else {
        out.push_str("\nThe update is linked to no person (identity conflict or no usable identifier): it is shared with no one.\n");
        return Ok(out);
    };
    let Some((decision, f)) = decide_now(pool, sharing, &sharing.agreements.rules, &e, recipient, now).await? else {
        anyhow::bail!("{recipient} is not a configured agency");
    };
    let _ = writeln!(
        out,
        "\nFacts about subject {subject} at the update's time: active order {}, in treatment {}; consent now for \
         courts {}, for probation {}",
        f.active_order, f.in_treatment, f.consent_courts, f.consent_probation
    );
    out.push_str("Rules that name this owner, recipient and kind of update:\n");
    let mut any = false;
    for r in &sharing.agreements.rules {
        let owner =
            sharing.kind_of(&e.source_agency).is_some_and(|k| r.owners.iter().any(|o| o.matches(&e.source_agency, k)));
        let to = sharing.kind_of(recipient).is_some_and(|k| r.recipients.iter().any(|p| p.matches(recipient, k)));
        if owner && to && r.covers(&e.event_type, &e.data_class) {
            any = true;
            let _ = writeln!(
                out,
                "  {} ({:?}, {}): valid today {}, field conditions {}{}{}",
                r.id,
                r.effect,
                r.file.display(),
                r.valid_on(today(now)),
                if r.when_any.is_empty() {
                    "none".to_string()
                } else {
                    r.when_any.iter().any(|c| decide::condition_holds(c, &e.payload)).to_string()
                },
                if r.facts.is_empty() { String::new() } else { format!(", facts {:?}", r.facts) },
                if r.consent { ", needs consent" } else { "" }
            );
        }
    }
    if !any {
        out.push_str("  none: deny by default (no agreement)\n");
    }
    let _ = writeln!(out, "\nDecision under the current agreements and facts: {}", describe(&decision));
    Ok(out)
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

/// `tracker sharing what-if`: every logged (update, recipient) whose decision differs between the
/// current agreements and those in `dir`, both judged on today's facts.
pub async fn what_if(
    pool: &PgPool,
    sharing: &Sharing,
    dir: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let changed = Agreements::load(dir)?;
    let pairs: Vec<(Uuid, String)> = crate::store::disclosure_log::decided_pairs(pool).await?;
    let mut out = String::new();
    let mut differences = 0;
    for (event_id, recipient) in &pairs {
        let Some(e) = load_event(pool, *event_id).await? else { continue };
        let current = decide_now(pool, sharing, &sharing.agreements.rules, &e, recipient, now).await?;
        let proposed = decide_now(pool, sharing, &changed.rules, &e, recipient, now).await?;
        if let (Some((a, _)), Some((b, _))) = (current, proposed)
            && a != b
        {
            differences += 1;
            let _ =
                writeln!(out, "{} {} -> {recipient}: {}  =>  {}", e.event_type, e.event_id, describe(&a), describe(&b));
        }
    }
    let _ = writeln!(out, "{differences} of {} logged decisions would change under {}", pairs.len(), dir.display());
    Ok(out)
}
