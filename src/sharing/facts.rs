//! Facts about a person that decisions depend on, read from every record the store holds about
//! them: involvement periods and whether an order is active, judged in event time (at an update's
//! `occurred_at`, whatever order the records arrived in); consent, judged by the hub's clock
//! (present permission); and who is already in scope.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::NewEvent;
use super::decide::{ConsentScope, Facts, RecordedScope};
use super::periods::Period;
use crate::domain::names::AgencyId;
use crate::store;

/// Everything about one person that decisions need, from every record the hub holds.
#[derive(Debug, Clone, Default)]
pub struct PersonFacts {
    /// Order starts (OrderMade CO/SSO, SupervisionStarted) and terminations, in event time.
    orders: Vec<(DateTime<Utc>, OrderMark)>,
    /// Each agency's involvement periods.
    periods: BTreeMap<AgencyId, Vec<Period>>,
    /// The agencies of kind treatment (for "in treatment").
    treatment: Vec<AgencyId>,
    consent_courts: bool,
    consent_probation: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum OrderMark {
    Started,
    Terminated,
}

impl PersonFacts {
    /// The facts as of `t` (event time), with consent as it is now.
    pub fn at(&self, t: DateTime<Utc>) -> Facts {
        Facts {
            active_order: active_order_at(&self.orders, t),
            in_treatment: self.treatment.iter().any(|a| super::periods::involved_at(self.periods_of(a), t)),
            consent_courts: self.consent_courts,
            consent_probation: self.consent_probation,
        }
    }

    /// Whether every decision made with these facts is made the same with `other`: the same
    /// orders, treatment involvement and consent (what [`PersonFacts::at`] reads).
    fn decides_like(&self, other: &PersonFacts) -> bool {
        self.orders == other.orders
            && self.consent_courts == other.consent_courts
            && self.consent_probation == other.consent_probation
            && self.treatment.iter().all(|a| self.periods_of(a) == other.periods_of(a))
    }

    /// The earliest event time at which these facts and `other` decide differently (none when
    /// they never do). What `at` reads changes only at an order mark or at the start or end of a
    /// treatment period, so the first difference is at one of those; a change of consent is a
    /// difference at every time.
    fn first_difference(&self, other: &PersonFacts) -> Option<DateTime<Utc>> {
        // Bounded to the years the store can hold (chrono's own bounds are beyond PostgreSQL's).
        let (first, last) = (
            DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC), // 0001-01-01
            DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC), // 9999-12-31
        );
        if self.consent_courts != other.consent_courts || self.consent_probation != other.consent_probation {
            return Some(first);
        }
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        for facts in [self, other] {
            times.extend(facts.orders.iter().map(|(at, _)| *at));
            for agency in &facts.treatment {
                times.extend(facts.periods_of(agency).iter().flat_map(|p| [p.start, p.end]));
            }
        }
        times.sort_unstable();
        times.dedup();
        times.into_iter().find(|t| self.at(*t) != other.at(*t)).map(|t| t.clamp(first, last))
    }

    /// An agency's involvement periods with the person, earliest first.
    pub fn periods_of(&self, agency: &str) -> &[Period] {
        self.periods.get(agency).map(Vec::as_slice).unwrap_or_default()
    }

    /// The agencies involved with the person at `now`.
    pub fn involved_now(&self, now: DateTime<Utc>) -> BTreeSet<AgencyId> {
        self.periods
            .iter()
            .filter(|(_, ps)| super::periods::involved_at(ps, now))
            .map(|(agency, _)| agency.clone())
            .collect()
    }
}

/// A person has an active order at `t` when the latest start at or before `t` is later than the
/// latest termination at or before `t` (a termination at the same instant wins).
fn active_order_at(orders: &[(DateTime<Utc>, OrderMark)], t: DateTime<Utc>) -> bool {
    let latest = |mark: OrderMark| orders.iter().filter(|(at, m)| *m == mark && *at <= t).map(|(at, _)| *at).max();
    match (latest(OrderMark::Started), latest(OrderMark::Terminated)) {
        (Some(started), Some(ended)) => started > ended,
        (started, _) => started.is_some(),
    }
}

/// These stored updates, in the order they were stored.
pub use crate::store::events::updates;
/// A delivery already queued for an (update, recipient), as a retraction notice names it.
pub use crate::store::outbox::QueuedDelivery;

/// Where the latest decision of an (update, recipient) stands, when a late fact may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Withheld because a condition about the person did not hold or a rule denied it: a later
    /// record may allow it.
    Withheld,
    /// Delivered (or queued to be): a later record may show it should not have gone.
    Delivered,
}

/// An earlier decision about one of this message's people that a late fact may change.
pub struct Earlier {
    pub subject: Uuid,
    pub recipient: AgencyId,
    pub event: NewEvent,
    pub standing: Standing,
}

/// Updates about the people whose facts changed (not of this message) whose latest decision for
/// a recipient may change with the records now held: those withheld because a condition did not
/// hold or a rule denied them, and those delivered, where the facts at the update's time are not
/// what they were before this message (`before`; every other decision reads what it read when it
/// was made). (No agreement and no consent do not depend on other records: consent is never
/// retroactive.) In `occurred_at` order.
pub async fn earlier_decisions(
    tx: &mut Transaction<'_, Postgres>,
    before: &HashMap<Uuid, PersonFacts>,
    now: &HashMap<Uuid, PersonFacts>,
    this_message: &BTreeSet<Uuid>,
) -> Result<Vec<Earlier>, sqlx::Error> {
    if before.is_empty() {
        return Ok(Vec::new());
    }
    // Only the updates from the first time each person's facts changed can decide differently.
    let (subjects, since): (Vec<Uuid>, Vec<DateTime<Utc>>) =
        before.iter().filter_map(|(subject, b)| Some((*subject, b.first_difference(now.get(subject)?)?))).unzip();
    let exclude: Vec<Uuid> = this_message.iter().copied().collect();
    let rows = store::disclosure_log::latest_decisions(tx, &subjects, &since, &exclude).await?;
    let facts_changed_at = |subject: &Uuid, at: DateTime<Utc>| match (before.get(subject), now.get(subject)) {
        (Some(b), Some(n)) => b.at(at) != n.at(at),
        _ => true,
    };
    let may_change: Vec<(store::disclosure_log::LatestDecision, Standing)> = rows
        .into_iter()
        .filter_map(|row| {
            let standing = match (row.decision.as_str(), row.reason.as_deref()) {
                ("withhold", Some("condition_not_met" | "denied")) => Standing::Withheld,
                ("deliver" | "redact", _) => Standing::Delivered,
                _ => return None,
            };
            facts_changed_at(&row.person, row.occurred_at).then_some((row, standing))
        })
        .collect();
    let wanted: BTreeSet<Uuid> = may_change.iter().map(|(row, _)| row.event_id).collect();
    let wanted: Vec<Uuid> = wanted.into_iter().collect();
    let events: HashMap<Uuid, NewEvent> =
        store::events::updates(tx, &wanted).await?.into_iter().map(|e| (e.event_id, e)).collect();
    let mut out: Vec<Earlier> = may_change
        .into_iter()
        .filter_map(|(row, standing)| {
            let event = events.get(&row.event_id)?.clone();
            Some(Earlier { subject: row.person, recipient: row.recipient, event, standing })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.event.occurred_at, a.event.event_id, &a.recipient).cmp(&(
            b.event.occurred_at,
            b.event.event_id,
            &b.recipient,
        ))
    });
    Ok(out)
}

/// The (update, recipient) pairs of these updates decided before, each with how many deliveries
/// it has had: only records that moved to another person (or were held and are now placed) have
/// any, and their new decisions are further entries with fresh message ids.
pub async fn decided_before(
    tx: &mut Transaction<'_, Postgres>,
    events: &BTreeSet<Uuid>,
) -> Result<HashMap<(Uuid, AgencyId), usize>, sqlx::Error> {
    let events: Vec<Uuid> = events.iter().copied().collect();
    let rows = store::disclosure_log::decided_with_deliveries(tx, &events).await?;
    Ok(rows.into_iter().map(|(e, r, n)| ((e, r), n as usize)).collect())
}

/// Every delivery queued for these (update, recipient) pairs, oldest first.
pub async fn queued_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    pairs: &[(Uuid, AgencyId)],
) -> Result<HashMap<(Uuid, AgencyId), Vec<QueuedDelivery>>, sqlx::Error> {
    let mut out: HashMap<(Uuid, AgencyId), Vec<QueuedDelivery>> = HashMap::new();
    if pairs.is_empty() {
        return Ok(out);
    }
    let (events, recipients): (Vec<Uuid>, Vec<AgencyId>) = pairs.iter().cloned().unzip();
    let rows = store::outbox::queued_deliveries(tx, &events, &recipients).await?;
    for row in rows {
        out.entry((row.event_id, row.recipient.clone())).or_default().push(row);
    }
    Ok(out)
}

/// Per person, the facts decisions depend on, from every record the store holds about them;
/// and, for the people whose facts the records in `these` (just stored) changed, their facts as
/// they were without them. Only those can have
/// an earlier decision that a late fact changes: a decision depends on the facts at its update's
/// time (orders, treatment involvement, consent), and every decision before these records was
/// made or made again with the facts as they were without them.
pub async fn people(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    day: NaiveDate,
    months: u32,
    treatment: &[AgencyId],
    these: &BTreeSet<Uuid>,
) -> Result<(HashMap<Uuid, PersonFacts>, HashMap<Uuid, PersonFacts>), sqlx::Error> {
    let these_ids: Vec<Uuid> = these.iter().copied().collect();
    let records = Records {
        naming: store::involvements::naming_of_people(tx, subjects, &these_ids, months).await?,
        orders: store::events::order_marks(tx, subjects).await?,
        consents: store::consents::of_people(tx, subjects).await?,
    };
    let now = records.facts(subjects, day, months, treatment, |_| true);
    let mut changed = HashMap::new();
    if !these.is_empty() {
        let before = records.facts(subjects, day, months, treatment, |event| !these.contains(event));
        for (subject, before) in before {
            if now.get(&subject).is_some_and(|facts| !facts.decides_like(&before)) {
                changed.insert(subject, before);
            }
        }
    }
    Ok((now, changed))
}

/// The stored records facts are made from, each with its event id.
struct Records {
    /// Naming events: those of `these` with their event id, the others (`None`) thinned to what
    /// periods can tell apart.
    naming: Vec<(Option<Uuid>, Uuid, AgencyId, DateTime<Utc>)>,
    orders: Vec<store::events::OrderMarkRow>,
    consents: Vec<store::consents::ConsentRecordRow>,
}

impl Records {
    /// Per person, the facts the records that `counts` keeps make.
    fn facts(
        &self,
        subjects: &[Uuid],
        day: NaiveDate,
        months: u32,
        treatment: &[AgencyId],
        counts: impl Fn(&Uuid) -> bool,
    ) -> HashMap<Uuid, PersonFacts> {
        let mut out: HashMap<Uuid, PersonFacts> = subjects
            .iter()
            .map(|s| (*s, PersonFacts { treatment: treatment.to_vec(), ..Default::default() }))
            .collect();
        let mut times: HashMap<(Uuid, &AgencyId), Vec<DateTime<Utc>>> = HashMap::new();
        for (event, subject, agency, at) in &self.naming {
            if event.as_ref().is_none_or(&counts) {
                times.entry((*subject, agency)).or_default().push(*at);
            }
        }
        for ((subject, agency), at) in times {
            if let Some(p) = out.get_mut(&subject) {
                p.periods.insert(agency.clone(), super::periods::periods(&at, months));
            }
        }
        // Only marks that count are read: orders made are those that begin supervision.
        for (event, subject, event_type, at) in &self.orders {
            let mark = match event_type.as_str() {
                "SupervisionStarted" | "OrderMade" => OrderMark::Started,
                "OrderTerminated" => OrderMark::Terminated,
                _ => continue,
            };
            if let Some(p) = out.get_mut(subject).filter(|_| counts(event)) {
                p.orders.push((*at, mark));
            }
        }
        let mut consents: HashMap<Uuid, Vec<ConsentRecord>> = HashMap::new();
        for (event, subject, decision, scope, effective, expiry) in &self.consents {
            if counts(event) {
                let record = ConsentRecord {
                    decision: decision.clone(),
                    scope: RecordedScope::parse(scope),
                    effective: *effective,
                    expiry: *expiry,
                };
                consents.entry(*subject).or_default().push(record);
            }
        }
        for (subject, p) in out.iter_mut() {
            p.orders.sort();
            let records = consents.get(subject).map(Vec::as_slice).unwrap_or_default();
            p.consent_courts = consent_covers(records, ConsentScope::Courts, day);
            p.consent_probation = consent_covers(records, ConsentScope::Probation, day);
        }
        out
    }
}

/// Per person, the recipients already in scope (their catch-up was made then).
pub async fn in_scope_all(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
) -> Result<HashMap<Uuid, BTreeSet<AgencyId>>, sqlx::Error> {
    let rows = store::recipient_scope::of_people(tx, subjects).await?;
    let mut out: HashMap<Uuid, BTreeSet<AgencyId>> = HashMap::new();
    for (subject, recipient) in rows {
        out.entry(subject).or_default().insert(recipient);
    }
    Ok(out)
}

/// For each (person, recipient) coming into scope: updates about the person from earlier
/// messages, not the recipient's own and not yet decided for it, in `occurred_at` order.
pub async fn history_all(
    tx: &mut Transaction<'_, Postgres>,
    pairs: &[(Uuid, AgencyId)],
    this_message: &BTreeSet<Uuid>,
) -> Result<Vec<(Uuid, AgencyId, NewEvent)>, sqlx::Error> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let exclude: Vec<Uuid> = this_message.iter().copied().collect();
    let (subjects, recipients): (Vec<Uuid>, Vec<AgencyId>) = pairs.iter().cloned().unzip();
    let rows = store::events::undecided_for(tx, &subjects, &recipients, &exclude).await?;
    Ok(rows.into_iter().map(store::events::RecipientUpdate::into_parts).collect())
}

/// One consent record, in the order records were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub decision: String,
    /// What the record names; a record naming no scope the hub knows (`None`) covers nothing.
    pub scope: Option<RecordedScope>,
    pub effective: Option<NaiveDate>,
    pub expiry: Option<NaiveDate>,
}

/// Whether the records leave `scope` (CRT or PRB) covered on `day`: the last record naming the
/// scope (ALL names both) must be a grant in effect and not expired (the expiry date is the last
/// day covered). W withdraws, R refuses.
pub fn consent_covers(records: &[ConsentRecord], scope: ConsentScope, day: NaiveDate) -> bool {
    records
        .iter()
        .rev()
        .find(|r| r.scope.is_some_and(|s| s.covers(scope)))
        .is_some_and(|r| r.decision == "G" && r.effective.is_none_or(|e| e <= day) && r.expiry.is_none_or(|x| day <= x))
}

/// A person's consent records, in the order applied.
pub async fn consents(tx: &mut Transaction<'_, Postgres>, subject: Uuid) -> Result<Vec<ConsentRecord>, sqlx::Error> {
    let rows = store::consents::of_people(tx, &[subject]).await?;
    Ok(rows
        .into_iter()
        .map(|(_, _, decision, scope, effective, expiry)| ConsentRecord {
            decision,
            scope: RecordedScope::parse(&scope),
            effective,
            expiry,
        })
        .collect())
}

#[cfg(test)]
mod tests;
