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
pub mod notice;
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

/// The message id of a pair's delivery after `earlier` deliveries of it (each since retracted):
/// the first is [`delivery_message_id`], so redelivering a message never mints a second id.
pub fn redelivery_message_id(event_id: Uuid, recipient: &str, earlier: usize) -> Uuid {
    match earlier {
        0 => delivery_message_id(event_id, recipient),
        n => Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{event_id}\u{1f}{recipient}\u{1f}{n}").as_bytes()),
    }
}

/// The message id of the notice retracting the delivery `delivery`.
pub fn retraction_message_id(delivery: Uuid) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{delivery}\u{1f}retraction").as_bytes())
}

/// Everything deciding needs that does not change while the hub runs.
pub struct Sharing {
    pub agreements: Agreements,
    /// Every agency and its kind, sorted by id.
    pub agencies: Vec<(String, AgencyKind)>,
    court_codes: BTreeMap<String, String>,
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
    /// The delivery's message id, when it delivers.
    message_id: Uuid,
}

impl<'a> Decided<'a> {
    fn first(event: &'a NewEvent, recipient: &str, decision: Decision, catch_up: bool) -> Decided<'a> {
        let message_id = delivery_message_id(event.event_id, recipient);
        Decided { event, recipient: recipient.to_string(), decision, catch_up, stage: "decided", message_id }
    }
}

/// A delivery that records received later show should not have gone: the recipient gets a
/// notice naming it.
struct Retraction<'a> {
    event: &'a NewEvent,
    /// Why it is disallowed now (condition not met, denied), with the agreement concerned.
    decision: Decision,
    delivery: facts::QueuedDelivery,
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
    let pairs: Vec<(Uuid, String)> = changed.iter().map(|(e, _)| (e.event.event_id, e.recipient.clone())).collect();
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
                stage: "redecided",
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
        all.push(Decided::first(e, recipient, decision, catch_up));
    }
    // Late facts: earlier decisions about these people are decided again with every record now
    // held. What is now allowed is delivered; what was delivered and is now disallowed is retracted.
    let earlier = facts::earlier_decisions(tx, &subjects, &message_events).await?;
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
    let before = facts::decided_before(tx, &message_events).await?;
    if !before.is_empty() {
        for d in all.iter_mut().filter(|d| d.stage == "decided") {
            if let Some(n) = before.get(&(d.event.event_id, d.recipient.clone())) {
                d.stage = "redecided";
                if *n > 0 {
                    d.message_id = redelivery_message_id(d.event.event_id, &d.recipient, *n);
                }
            }
        }
    }
    write_decisions(tx, &all, &retractions, now).await
}

/// The events of records that moved to a person, as sharing decides them.
pub async fn moved_events(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[crate::identity::Moved],
) -> Result<Vec<NewEvent>, sqlx::Error> {
    let placed: Vec<Uuid> =
        moved.iter().filter(|m| matches!(m.to, crate::identity::Link::Subject(_))).map(|m| m.event_id).collect();
    if placed.is_empty() {
        return Ok(Vec::new());
    }
    facts::updates(tx, &placed).await
}

/// Retracts what went out about records that moved, under the person they no longer belong to
/// (reason `wrong_person`). Returns the notices queued.
pub async fn retract_moved(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[crate::identity::Moved],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    if moved.is_empty() {
        return Ok(0);
    }
    let events: Vec<Uuid> = moved.iter().map(|m| m.event_id).collect();
    let new_subjects: Vec<Option<Uuid>> = moved
        .iter()
        .map(|m| match m.to {
            crate::identity::Link::Subject(s) => Some(s),
            _ => None,
        })
        .collect();
    #[derive(sqlx::FromRow)]
    struct Live {
        #[sqlx(flatten)]
        delivery: facts::QueuedDelivery,
        subject_id: Option<Uuid>,
        event_type: String,
        data_class: String,
        agency: String,
        occurred_at: DateTime<Utc>,
    }
    let live: Vec<Live> = sqlx::query_as(
        "SELECT o.event_id, o.recipient, o.message_id, o.agreement, o.purpose, o.legal_basis, o.subject_id,
                e.event_type, e.data_class, e.agency, e.occurred_at
         FROM UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id)
         JOIN outbox o ON o.event_id = m.event_id AND o.kind = 'delivery' AND o.subject_id IS DISTINCT FROM m.subject_id
         JOIN events e ON e.event_id = o.event_id
         WHERE NOT EXISTS (SELECT 1 FROM outbox r WHERE r.refers_to = o.message_id)
         ORDER BY o.id",
    )
    .bind(&events)
    .bind(&new_subjects)
    .fetch_all(&mut **tx)
    .await?;
    // The log names the person the delivery went out under.
    let updates: Vec<NewEvent> = live
        .iter()
        .map(|l| NewEvent {
            event_id: l.delivery.event_id,
            subject_id: l.subject_id,
            event_type: l.event_type.clone(),
            data_class: l.data_class.clone(),
            source_agency: l.agency.clone(),
            occurred_at: l.occurred_at,
            payload: Json::Null,
        })
        .collect();
    let retractions: Vec<Retraction> = live
        .into_iter()
        .zip(&updates)
        .map(|(l, event)| Retraction {
            event,
            decision: Decision::Withhold {
                reason: WithholdReason::WrongPerson,
                agreement: Some(l.delivery.agreement.clone()),
            },
            delivery: l.delivery,
        })
        .collect();
    write_decisions(tx, &[], &retractions, now).await
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
    retractions: &[Retraction<'_>],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let mut entries = Vec::with_capacity(decided.len() + retractions.len());
    let mut queued = Vec::new();
    // Retractions first: a pair retracted and allowed again in one message cannot happen (one
    // decision per pair per message), but a notice should precede anything decided after it.
    for r in retractions {
        entries.push(log_entry(r.event, &r.delivery.recipient, "retracted", &r.decision, &[], false, now));
    }
    for d in decided {
        let withheld = d.decision.withheld_fields().to_vec();
        entries.push(log_entry(d.event, &d.recipient, d.stage, &d.decision, &withheld, d.catch_up, now));
        if let Some(grant) = d.decision.grant() {
            queued.push((d, grant, withheld));
        }
    }
    queue_retractions(tx, retractions, now).await?;
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
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(queued.iter().map(|(d, _, _)| d.event.event_id).collect::<Vec<_>>())
        .bind(queued.iter().map(|(d, _, _)| d.recipient.clone()).collect::<Vec<_>>())
        .bind(queued.iter().map(|(d, _, _)| d.message_id).collect::<Vec<_>>())
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
    Ok(queued.len() + retractions.len())
}

/// The log entry of one decision about (update, recipient).
fn log_entry(
    event: &NewEvent,
    recipient: &str,
    stage: &str,
    decision: &Decision,
    withheld: &[String],
    catch_up: bool,
    now: DateTime<Utc>,
) -> LogEntry {
    let disclosed: Vec<String> = match decision {
        Decision::Withhold { .. } => Vec::new(),
        _ => event
            .payload
            .as_object()
            .map(|o| o.keys().filter(|k| !withheld.contains(k)).cloned().collect())
            .unwrap_or_default(),
    };
    let (reason, agreement) = match decision {
        Decision::Withhold { reason, agreement } => (Some(reason.code().to_string()), agreement.clone()),
        other => (None, other.grant().map(|g| g.agreement.clone())),
    };
    LogEntry {
        event_id: event.event_id,
        subject_id: event.subject_id,
        recipient: recipient.to_string(),
        stage: stage.into(),
        decision: decision.code().into(),
        reason,
        agreement,
        purpose: decision.grant().map(|g| g.purpose.clone()),
        legal_basis: decision.grant().map(|g| g.legal_basis.clone()),
        event_type: event.event_type.clone(),
        data_class: event.data_class.clone(),
        fields_disclosed: disclosed,
        fields_withheld: withheld.to_vec(),
        catch_up,
        logged_at: now,
    }
}

/// Queues a notice for each retraction, under the agreement the retracted delivery rested on.
async fn queue_retractions(
    tx: &mut Transaction<'_, Postgres>,
    retractions: &[Retraction<'_>],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if retractions.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (kind, event_id, recipient, message_id, subject_id, withheld_fields, agreement, purpose,
            legal_basis, catch_up, decided_at, refers_to, notice_reason)
         SELECT 'retraction', t.event_id, t.recipient, t.message_id, t.subject_id, '{}', t.agreement, t.purpose,
                t.legal_basis, false, $10, t.refers_to, t.reason
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::uuid[],
                     $9::text[]) WITH ORDINALITY
              AS t(event_id, recipient, message_id, subject_id, agreement, purpose, legal_basis, refers_to, reason, n)
         ORDER BY t.n
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(retractions.iter().map(|r| r.event.event_id).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| r.delivery.recipient.clone()).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| retraction_message_id(r.delivery.message_id)).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| r.event.subject_id).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| r.delivery.agreement.clone()).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| r.delivery.purpose.clone()).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| r.delivery.legal_basis.clone()).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| r.delivery.message_id).collect::<Vec<_>>())
    .bind(retractions.iter().map(|r| notice_reason(&r.decision).to_string()).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The reason code a retraction notice gives.
fn notice_reason(decision: &Decision) -> &'static str {
    match decision {
        Decision::Withhold { reason, .. } => reason.code(),
        _ => "error",
    }
}
