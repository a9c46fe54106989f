//! Sharing: for every stored update and every other agency whose subscription covers it, decide
//! what that agency may see, log the decision and queue the delivery — in the transaction that
//! stores the update. Subscriptions follow involvement periods, and every fact a rule uses but
//! consent is judged at the update's `occurred_at` from every record held about the person
//! (`periods`, `facts`). When a person first comes into a recipient's scope it gets the history
//! it may see; a delivery is marked catch-up when its update happened before the start of the
//! recipient's involvement period that covers it.
pub mod agreements;
pub mod copy;
pub mod decide;
pub mod facts;
pub mod inspect;
pub mod log;
pub mod periods;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use serde_json::Value as Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use agreements::Agreements;
use decide::{Decision, EventView, Facts, Recipient, WithholdReason};
use log::LogEntry;

use crate::settings::{AgencyKind, Settings};

/// Outbound message ids are UUIDv5 of (event id, recipient) in this namespace.
const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x2b8e_71d4_93a5_4f0c_8d6e_5a1b_c9f3_7e20);

pub fn delivery_message_id(event_id: Uuid, recipient: &str) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{event_id}\u{1f}{recipient}").as_bytes())
}

/// Everything deciding needs that does not change while the hub runs.
pub struct Sharing {
    pub agreements: Agreements,
    /// Every agency and its kind, sorted by id.
    pub agencies: Vec<(String, AgencyKind)>,
    court_codes: BTreeMap<String, String>,
    pub involvement_months: u32,
}

/// An update just stored, as sharing needs it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub event_type: String,
    pub data_class: String,
    pub source_agency: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: Json,
}

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
    pub fn named_agencies(&self, e: &NewEvent) -> BTreeSet<String> {
        let mut out = BTreeSet::from([e.source_agency.clone()]);
        let text = |k: &str| e.payload.get(k).and_then(Json::as_str);
        let court = |code: Option<&str>| code.and_then(|c| self.court_codes.get(c)).cloned();
        match e.event_type.as_str() {
            "Charged" | "BailDecision" | "WarrantExecuted" | "HearingResulted" => out.extend(court(text("next_court"))),
            "SupervisionStarted" | "PreSentenceReport" | "BreachInitiated" => out.extend(court(text("court"))),
            "OrderMade" => {
                if matches!(text("order_type"), Some("CO" | "SSO")) {
                    out.extend(self.agencies_of_kind(AgencyKind::Probation).map(str::to_owned));
                }
                let treatment_requirement = decide::values_at(&e.payload, "requirements.type")
                    .iter()
                    .any(|v| matches!(v.as_str(), Some("DRR" | "ATR")));
                if treatment_requirement {
                    out.extend(self.agencies_of_kind(AgencyKind::Treatment).map(str::to_owned));
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

/// A decision made, to log and (when delivering) to queue.
struct Decided<'a> {
    event: &'a NewEvent,
    recipient: String,
    decision: Decision,
    catch_up: bool,
    /// `decided` the first time; `redecided` when a late fact changed an earlier decision.
    stage: &'static str,
}

/// Records involvement, decides every covered (update, recipient) — history catch-up first —
/// and writes the disclosure log and outbox. Runs inside the message's transaction, after its
/// events are stored. Returns the number of deliveries queued.
pub async fn decide_message(
    tx: &mut Transaction<'_, Postgres>,
    sharing: &Sharing,
    new: &[NewEvent],
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
    let treatment: Vec<String> = sharing.agencies_of_kind(AgencyKind::Treatment).map(str::to_owned).collect();
    let people = facts::people(tx, &subjects, day, sharing.involvement_months, &treatment).await?;
    let in_scope = facts::in_scope_all(tx, &subjects).await?;
    let none = BTreeSet::new();
    let nobody = facts::PersonFacts::default();
    let person = |s: Uuid| people.get(&s).unwrap_or(&nobody);
    // Recipients involved with the person now (by the hub's clock) whose history has not been
    // sent yet: the involvement began with this message.
    let beginning: Vec<(Uuid, String)> = subjects
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
        let (ss, rs): (Vec<Uuid>, Vec<String>) = beginning.iter().cloned().unzip();
        sqlx::query(
            "INSERT INTO recipient_scope (subject_id, recipient, since)
             SELECT s, r, $3 FROM UNNEST($1::uuid[], $2::text[]) AS t(s, r) ON CONFLICT DO NOTHING",
        )
        .bind(&ss)
        .bind(&rs)
        .bind(now)
        .execute(&mut **tx)
        .await?;
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
        all.push(Decided { event: e, recipient: recipient.clone(), decision, catch_up, stage: "decided" });
    }
    // Late facts: an update withheld earlier because a condition about the person did not hold
    // (no active order, say, when the order had not reached the hub yet) is decided again with
    // every record now held; what is now allowed is delivered.
    let withheld = facts::withheld_for_conditions(tx, &subjects, &message_events).await?;
    for (subject, recipient, e) in &withheld {
        let Some(kind) = sharing.kind_of(recipient) else { continue };
        let decision = sharing.decide_one(e, recipient, kind, Ok(&person(*subject).at(e.occurred_at)), day);
        if decision.grant().is_some() {
            let catch_up = periods::is_history(person(*subject).periods_of(recipient), e.occurred_at);
            all.push(Decided { event: e, recipient: recipient.clone(), decision, catch_up, stage: "redecided" });
        }
    }
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
            all.push(Decided { event: e, recipient: recipient.clone(), decision, catch_up, stage: "decided" });
        }
    }
    write_decisions(tx, &all, now).await
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
    sqlx::query(
        "INSERT INTO involvements (event_id, agency, subject_id, occurred_at)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[]) ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&agencies)
    .bind(&subjects)
    .bind(&times)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_decisions(
    tx: &mut Transaction<'_, Postgres>,
    decided: &[Decided<'_>],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let mut entries = Vec::with_capacity(decided.len());
    let mut queued = Vec::new();
    for d in decided {
        let withheld = d.decision.withheld_fields().to_vec();
        let disclosed: Vec<String> = match &d.decision {
            Decision::Withhold { .. } => Vec::new(),
            _ => d
                .event
                .payload
                .as_object()
                .map(|o| o.keys().filter(|k| !withheld.contains(k)).cloned().collect())
                .unwrap_or_default(),
        };
        let (reason, agreement) = match &d.decision {
            Decision::Withhold { reason, agreement } => (Some(reason.code().to_string()), agreement.clone()),
            other => (None, other.grant().map(|g| g.agreement.clone())),
        };
        entries.push(LogEntry {
            event_id: d.event.event_id,
            subject_id: d.event.subject_id,
            recipient: d.recipient.clone(),
            stage: d.stage.into(),
            decision: d.decision.code().into(),
            reason,
            agreement,
            purpose: d.decision.grant().map(|g| g.purpose.clone()),
            legal_basis: d.decision.grant().map(|g| g.legal_basis.clone()),
            event_type: d.event.event_type.clone(),
            data_class: d.event.data_class.clone(),
            fields_disclosed: disclosed,
            fields_withheld: withheld.clone(),
            catch_up: d.catch_up,
            logged_at: now,
        });
        if let Some(grant) = d.decision.grant() {
            queued.push((d, grant, withheld));
        }
    }
    if !queued.is_empty() {
        sqlx::query(
            "INSERT INTO outbox (event_id, recipient, message_id, subject_id, withheld_fields, agreement, purpose,
                legal_basis, consent_scope, catch_up, decided_at)
             SELECT t.event_id, t.recipient, t.message_id, t.subject_id, ARRAY(SELECT jsonb_array_elements_text(t.withheld)),
                    t.agreement, t.purpose, t.legal_basis, t.consent_scope, t.catch_up, $11
             FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::jsonb[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::bool[]) WITH ORDINALITY
                  AS t(event_id, recipient, message_id, subject_id, withheld, agreement, purpose, legal_basis, consent_scope, catch_up, n)
             ORDER BY t.n
             ON CONFLICT (event_id, recipient) DO NOTHING",
        )
        .bind(queued.iter().map(|(d, _, _)| d.event.event_id).collect::<Vec<_>>())
        .bind(queued.iter().map(|(d, _, _)| d.recipient.clone()).collect::<Vec<_>>())
        .bind(queued.iter().map(|(d, _, _)| delivery_message_id(d.event.event_id, &d.recipient)).collect::<Vec<_>>())
        .bind(queued.iter().map(|(d, _, _)| d.event.subject_id).collect::<Vec<_>>())
        .bind(queued.iter().map(|(_, _, w)| serde_json::json!(w)).collect::<Vec<_>>())
        .bind(queued.iter().map(|(_, g, _)| g.agreement.clone()).collect::<Vec<_>>())
        .bind(queued.iter().map(|(_, g, _)| g.purpose.clone()).collect::<Vec<_>>())
        .bind(queued.iter().map(|(_, g, _)| g.legal_basis.clone()).collect::<Vec<_>>())
        .bind(queued.iter().map(|(_, g, _)| g.consent.map(|c| c.code().to_string())).collect::<Vec<_>>())
        .bind(queued.iter().map(|(d, _, _)| d.catch_up).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    log::append(tx, &entries).await?;
    Ok(queued.len())
}
