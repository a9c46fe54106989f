//! Sharing: for every stored update and every other agency whose subscription covers it, decide
//! what that agency may see, log the decision and queue the delivery — in the transaction that
//! stores the update. Subscriptions follow involvement periods, and every fact a rule uses but
//! consent is judged at the update's `occurred_at` from every record held about the person
//! (`periods`, `facts`). When a person first comes into a recipient's scope it gets the history
//! it may see; a delivery is marked catch-up when its update happened before the start of the
//! recipient's involvement period that covers it.
pub mod agreements;
pub mod copy;
pub mod corrections;
pub mod decide;
pub mod facts;
pub mod inspect;
pub mod log;
mod message_ids;
mod moved;
pub mod notice;
pub mod periods;
mod record;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use serde_json::Value as Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use agreements::Agreements;
use decide::{Decision, EventView, Facts, Recipient, WithholdReason};

use crate::domain::names::AgencyId;
use crate::settings::{AgencyKind, Settings};
use log::Stage;
pub use message_ids::{
    correction_message_id, delivery_message_id, erasure_message_id, redelivery_message_id, restriction_message_id,
    retraction_message_id,
};
pub use moved::{moved_events, retract_moved};
use record::{Decided, Retraction, write_decisions};

/// Everything deciding needs that does not change while the hub runs.
pub struct Sharing {
    pub agreements: Agreements,
    /// Every agency and its kind, sorted by id.
    pub agencies: Vec<(AgencyId, AgencyKind)>,
    court_codes: BTreeMap<String, AgencyId>,
    pub involvement_months: u32,
}

pub use crate::store::NewEvent;

impl Sharing {
    pub fn new(settings: &Settings, agreements: Agreements) -> Sharing {
        let agencies = settings.agencies.iter().map(|(id, a)| (id.clone(), a.kind)).collect();
        let mut court_codes = BTreeMap::new();
        for (id, a) in &settings.agencies {
            if a.kind == AgencyKind::Court {
                for c in &a.codes {
                    court_codes.insert(c.clone(), id.clone());
                }
            }
        }
        Sharing { agreements, agencies, court_codes, involvement_months: settings.sharing.involvement_months }
    }

    pub fn kind_of(&self, agency: &str) -> Option<AgencyKind> {
        self.agencies.iter().find(|(a, _)| a == agency).map(|(_, k)| *k)
    }

    fn agencies_of_kind(&self, kind: AgencyKind) -> impl Iterator<Item = &str> {
        self.agencies.iter().filter(move |(_, k)| *k == kind).map(|(a, _)| a.as_str())
    }

    /// The agencies an event names, making them involved with its person.
    pub fn named_agencies(&self, e: &NewEvent) -> BTreeSet<AgencyId> {
        let mut out = BTreeSet::from([e.source_agency.clone()]);
        let text = |k: &str| e.payload.get(k).and_then(Json::as_str);
        let court = |code: Option<&str>| code.and_then(|c| self.court_codes.get(c)).cloned();
        match e.event_type.as_str() {
            "Charged" | "BailDecision" | "WarrantExecuted" | "HearingResulted" => out.extend(court(text("next_court"))),
            "SupervisionStarted" | "PreSentenceReport" | "BreachInitiated" => out.extend(court(text("court"))),
            "OrderMade" => {
                if matches!(text("order_type"), Some("CO" | "SSO")) {
                    out.extend(self.agencies_of_kind(AgencyKind::Probation).map(AgencyId::from));
                }
                let treatment_requirement = decide::values_at(&e.payload, "requirements.type")
                    .iter()
                    .any(|v| matches!(v.as_str(), Some("DRR" | "ATR")));
                if treatment_requirement {
                    out.extend(self.agencies_of_kind(AgencyKind::Treatment).map(AgencyId::from));
                }
            }
            _ => {}
        }
        out
    }

    /// Whether `recipient`'s subscription covers the update beyond involvement: treatment takes
    /// every drug test on arrest.
    fn subscribed_regardless(&self, recipient_kind: AgencyKind, e: &NewEvent) -> bool {
        recipient_kind == AgencyKind::Treatment && e.event_type == "DrugTestOnArrest"
    }

    fn decide_one(
        &self,
        e: &NewEvent,
        recipient: &str,
        kind: AgencyKind,
        facts: Result<&Facts, ()>,
        today: NaiveDate,
    ) -> Decision {
        self.decide_with(&self.agreements.rules, e, recipient, kind, facts, today)
    }

    /// Decides (update, recipient) under `rules` (the configured ones, or others for what-if).
    pub fn decide_with(
        &self,
        rules: &[agreements::Rule],
        e: &NewEvent,
        recipient: &str,
        kind: AgencyKind,
        facts: Result<&Facts, ()>,
        today: NaiveDate,
    ) -> Decision {
        let (Some(source_kind), Ok(facts)) = (self.kind_of(&e.source_agency), facts) else {
            return Decision::Withhold { reason: WithholdReason::Error, agreement: None };
        };
        let view = EventView {
            event_type: &e.event_type,
            data_class: &e.data_class,
            source_agency: &e.source_agency,
            source_kind,
            payload: &e.payload,
        };
        decide::decide(rules, &view, &Recipient { agency: recipient, kind }, facts, today)
    }
}

/// The hub's calendar day (Europe/London), for validity and consent expiry.
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&London).date_naive()
}

/// Decides `earlier` again with the facts now held. Pushes the newly allowed onto `all` (stage
/// `redecided`; a pair delivered and retracted before gets a fresh message id) and returns the
/// deliveries to retract. Consent is never a reason to retract (it is not retroactive), nor is an
/// agreement that has since lapsed: only a condition about the person or a deny rule.
async fn redecide_earlier<'a, 'p>(
    tx: &mut Transaction<'_, Postgres>,
    sharing: &Sharing,
    earlier: &'a [facts::Earlier],
    person: impl Fn(Uuid) -> &'p facts::PersonFacts,
    day: NaiveDate,
    all: &mut Vec<Decided<'a>>,
) -> Result<Vec<Retraction<'a>>, sqlx::Error> {
    let mut changed: Vec<(&facts::Earlier, Decision)> = Vec::new();
    for earlier in earlier {
        let Some(kind) = sharing.kind_of(&earlier.recipient) else { continue };
        let e = &earlier.event;
        let decision =
            sharing.decide_one(e, &earlier.recipient, kind, Ok(&person(earlier.subject).at(e.occurred_at)), day);
        let changes = match (&earlier.standing, &decision) {
            (facts::Standing::Withheld, d) => d.grant().is_some(),
            (
                facts::Standing::Delivered,
                Decision::Withhold { reason: WithholdReason::ConditionNotMet | WithholdReason::Denied, .. },
            ) => true,
            (facts::Standing::Delivered, _) => false,
        };
        if changes {
            changed.push((earlier, decision));
        }
    }
    let pairs: Vec<(Uuid, AgencyId)> = changed.iter().map(|(e, _)| (e.event.event_id, e.recipient.clone())).collect();
    let mut queued = facts::queued_deliveries(tx, &pairs).await?;
    let mut retractions = Vec::new();
    for (earlier, decision) in changed {
        let sent = queued.remove(&(earlier.event.event_id, earlier.recipient.clone())).unwrap_or_default();
        if decision.grant().is_some() {
            let e = &earlier.event;
            let catch_up = periods::is_history(person(earlier.subject).periods_of(&earlier.recipient), e.occurred_at);
            let message_id = redelivery_message_id(e.event_id, &earlier.recipient, sent.len());
            all.push(Decided {
                event: e,
                recipient: earlier.recipient.clone(),
                decision,
                catch_up,
                stage: Stage::Redecided,
                message_id,
            });
        } else if let Some(delivery) = sent.into_iter().next_back() {
            retractions.push(Retraction { event: &earlier.event, decision, delivery });
        }
    }
    Ok(retractions)
}

/// Records involvement, decides every covered (update, recipient) — history catch-up first —
/// and writes the disclosure log and outbox. Runs inside the message's transaction, after its
/// events are stored. `moved` names the updates that are stored records moved to another person
/// (or placed after being held): only those can have been decided before. Returns the number of
/// deliveries queued.
pub async fn decide_message(
    tx: &mut Transaction<'_, Postgres>,
    sharing: &Sharing,
    new: &[NewEvent],
    moved: &BTreeSet<Uuid>,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let linked: Vec<&NewEvent> = new.iter().filter(|e| e.subject_id.is_some()).collect();
    if linked.is_empty() {
        return Ok(0);
    }
    record_involvements(tx, sharing, &linked).await?;
    let mut subjects: Vec<Uuid> = Vec::new();
    for e in &linked {
        if let Some(s) = e.subject_id
            && !subjects.contains(&s)
        {
            subjects.push(s);
        }
    }
    let day = today(now);
    let message_events: BTreeSet<Uuid> = new.iter().map(|e| e.event_id).collect();
    let treatment: Vec<AgencyId> = sharing.agencies_of_kind(AgencyKind::Treatment).map(AgencyId::from).collect();
    let (people, facts_changed) =
        facts::people(tx, &subjects, day, sharing.involvement_months, &treatment, &message_events).await?;
    let in_scope = facts::in_scope_all(tx, &subjects).await?;
    let none = BTreeSet::new();
    let nobody = facts::PersonFacts::default();
    let person = |s: Uuid| people.get(&s).unwrap_or(&nobody);
    // Recipients involved with the person now (by the hub's clock) whose history has not been
    // sent yet: the involvement began with this message.
    let beginning: Vec<(Uuid, AgencyId)> = subjects
        .iter()
        .flat_map(|s| {
            let scoped = in_scope.get(s).unwrap_or(&none);
            person(*s)
                .involved_now(now)
                .into_iter()
                .filter(|r| !scoped.contains(r) && sharing.kind_of(r).is_some())
                .map(|r| (*s, r))
                .collect::<Vec<_>>()
        })
        .collect();
    if !beginning.is_empty() {
        let (ss, rs): (Vec<Uuid>, Vec<AgencyId>) = beginning.iter().cloned().unzip();
        crate::store::recipient_scope::insert(tx, &ss, &rs, now).await?;
    }
    let history = facts::history_all(tx, &beginning, &message_events).await?;
    let mut all: Vec<Decided> = Vec::new();
    for (subject, recipient, e) in &history {
        let Some(kind) = sharing.kind_of(recipient) else { continue };
        let periods = person(*subject).periods_of(recipient);
        if !periods::subscribed(periods, e.occurred_at, now) {
            continue;
        }
        let decision = sharing.decide_one(e, recipient, kind, Ok(&person(*subject).at(e.occurred_at)), day);
        let catch_up = periods::is_history(periods, e.occurred_at);
        all.push(Decided::first(e, recipient, decision, catch_up));
    }
    // Late facts: earlier decisions about the people whose facts these records changed, at the
    // times they changed, are decided again with every record now held. What is now allowed is
    // delivered; what was delivered and is now disallowed is retracted. (No other decision reads
    // anything that changed.)
    let earlier = facts::earlier_decisions(tx, &facts_changed, &people, &message_events).await?;
    let retractions = redecide_earlier(tx, sharing, &earlier, person, day, &mut all).await?;
    // Then this message's updates, in the order they came.
    for e in &linked {
        let Some(subject) = e.subject_id else { continue };
        let facts = person(subject).at(e.occurred_at);
        for (recipient, kind) in &sharing.agencies {
            if *recipient == e.source_agency {
                continue;
            }
            let periods = person(subject).periods_of(recipient);
            // Treatment's every-DrugTestOnArrest subscription does not depend on involvement,
            // so what it brings is never history.
            let regardless = sharing.subscribed_regardless(*kind, e);
            if !(regardless || periods::subscribed(periods, e.occurred_at, now)) {
                continue;
            }
            let decision = sharing.decide_one(e, recipient, *kind, Ok(&facts), day);
            let catch_up = !regardless && periods::is_history(periods, e.occurred_at);
            all.push(Decided::first(e, recipient, decision, catch_up));
        }
    }
    // A record that moved to another person was decided (and perhaps delivered) before under its
    // old one: it is decided again, and its new deliveries take fresh message ids.
    // Records stored for the first time have no decisions yet: only the moved ones are looked up.
    let before = if moved.is_empty() { HashMap::new() } else { facts::decided_before(tx, moved).await? };
    if !before.is_empty() {
        for d in all.iter_mut().filter(|d| d.stage == Stage::Decided) {
            if let Some(n) = before.get(&(d.event.event_id, d.recipient.clone())) {
                d.stage = Stage::Redecided;
                if *n > 0 {
                    d.message_id = redelivery_message_id(d.event.event_id, &d.recipient, *n);
                }
            }
        }
    }
    write_decisions(tx, &all, &retractions, now).await
}

async fn record_involvements(
    tx: &mut Transaction<'_, Postgres>,
    sharing: &Sharing,
    events: &[&NewEvent],
) -> Result<(), sqlx::Error> {
    let (mut ids, mut agencies, mut subjects, mut times) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for e in events {
        for agency in sharing.named_agencies(e) {
            ids.push(e.event_id);
            agencies.push(agency);
            subjects.push(e.subject_id);
            times.push(e.occurred_at);
        }
    }
    crate::store::involvements::insert(tx, &ids, &agencies, &subjects, &times).await
}
