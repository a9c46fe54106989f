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

/// Everything about one person that decisions need, from every record the hub holds.
#[derive(Debug, Clone, Default)]
pub struct PersonFacts {
    /// Order starts (OrderMade CO/SSO, SupervisionStarted) and terminations, in event time.
    orders: Vec<(DateTime<Utc>, OrderMark)>,
    /// Each agency's involvement periods.
    periods: BTreeMap<String, Vec<Period>>,
    /// The agencies of kind treatment (for "in treatment").
    treatment: Vec<String>,
    consent_courts: bool,
    consent_probation: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// An agency's involvement periods with the person, earliest first.
    pub fn periods_of(&self, agency: &str) -> &[Period] {
        self.periods.get(agency).map(Vec::as_slice).unwrap_or_default()
    }

    /// The agencies involved with the person at `now`.
    pub fn involved_now(&self, now: DateTime<Utc>) -> BTreeSet<String> {
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

/// (subject, agency, occurred at) of every naming event
type InvolvementRow = (Uuid, String, DateTime<Utc>);
/// (subject, event type, occurred at, order type)
type OrderRow = (Uuid, String, DateTime<Utc>, Option<String>);

/// An update about a person, for one recipient, as the sharing queries read it.
#[derive(sqlx::FromRow)]
struct RecipientUpdate {
    person: Uuid,
    recipient: String,
    #[sqlx(flatten)]
    event: NewEvent,
}

impl RecipientUpdate {
    fn into_parts(self) -> (Uuid, String, NewEvent) {
        (self.person, self.recipient, self.event)
    }
}

/// These stored updates, in the order they were stored.
pub async fn updates(tx: &mut Transaction<'_, Postgres>, events: &[Uuid]) -> Result<Vec<NewEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, subject_id, event_type, data_class, agency, occurred_at, payload FROM events
         WHERE event_id = ANY($1) ORDER BY seq",
    )
    .bind(events)
    .fetch_all(&mut **tx)
    .await
}

/// A recipient's latest decision on an update.
#[derive(sqlx::FromRow)]
struct LatestDecision {
    #[sqlx(flatten)]
    update: RecipientUpdate,
    decision: String,
    reason: Option<String>,
}

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
    pub recipient: String,
    pub event: NewEvent,
    pub standing: Standing,
}

/// Updates about these people (not of this message) whose latest decision for a recipient may
/// change with the records now held: those withheld because a condition did not hold or a rule
/// denied them, and those delivered. (No agreement and no consent do not depend on other
/// records: consent is never retroactive.) In `occurred_at` order.
pub async fn earlier_decisions(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    this_message: &BTreeSet<Uuid>,
) -> Result<Vec<Earlier>, sqlx::Error> {
    let exclude: Vec<Uuid> = this_message.iter().copied().collect();
    let rows: Vec<LatestDecision> = sqlx::query_as(
        // LATERAL: the log is looked up by each event's id (its index), never scanned whole,
        // whatever the planner guesses of a table it has no statistics for.
        "SELECT e.subject_id AS person, l.recipient, e.event_id, e.subject_id, e.event_type, e.data_class, e.agency,
                e.occurred_at, e.payload, l.decision, l.reason
         FROM events e
         CROSS JOIN LATERAL (SELECT DISTINCT ON (recipient) recipient, decision, reason FROM disclosure_log
                             WHERE event_id = e.event_id AND stage IN ('decided', 'redecided', 'retracted')
                             ORDER BY recipient, id DESC) l
         WHERE e.subject_id = ANY($1) AND NOT (e.event_id = ANY($2))",
    )
    .bind(subjects)
    .bind(&exclude)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: Vec<Earlier> = rows
        .into_iter()
        .filter_map(|row| {
            let standing = match (row.decision.as_str(), row.reason.as_deref()) {
                ("withhold", Some("condition_not_met" | "denied")) => Standing::Withheld,
                ("deliver" | "redact", _) => Standing::Delivered,
                _ => return None,
            };
            let (subject, recipient, event) = row.update.into_parts();
            Some(Earlier { subject, recipient, event, standing })
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

/// A delivery already queued for an (update, recipient), as a retraction notice names it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedDelivery {
    pub event_id: Uuid,
    pub recipient: String,
    pub message_id: Uuid,
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
}

/// The (update, recipient) pairs of these updates decided before, each with how many deliveries
/// it has had: only records that moved to another person (or were held and are now placed) have
/// any, and their new decisions are further entries with fresh message ids.
pub async fn decided_before(
    tx: &mut Transaction<'_, Postgres>,
    events: &BTreeSet<Uuid>,
) -> Result<HashMap<(Uuid, String), usize>, sqlx::Error> {
    let events: Vec<Uuid> = events.iter().copied().collect();
    let rows: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT l.event_id, l.recipient,
                (SELECT count(*) FROM outbox o WHERE o.event_id = l.event_id AND o.recipient = l.recipient
                   AND o.kind = 'delivery')
         FROM disclosure_log l WHERE l.event_id = ANY($1) AND l.stage = 'decided'",
    )
    .bind(&events)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(e, r, n)| ((e, r), n as usize)).collect())
}

/// Every delivery queued for these (update, recipient) pairs, oldest first.
pub async fn queued_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    pairs: &[(Uuid, String)],
) -> Result<HashMap<(Uuid, String), Vec<QueuedDelivery>>, sqlx::Error> {
    let mut out: HashMap<(Uuid, String), Vec<QueuedDelivery>> = HashMap::new();
    if pairs.is_empty() {
        return Ok(out);
    }
    let (events, recipients): (Vec<Uuid>, Vec<String>) = pairs.iter().cloned().unzip();
    let rows: Vec<QueuedDelivery> = sqlx::query_as(
        "SELECT o.event_id, o.recipient, o.message_id, o.agreement, o.purpose, o.legal_basis
         FROM UNNEST($1::uuid[], $2::text[]) AS p(event_id, recipient)
         JOIN outbox o ON o.event_id = p.event_id AND o.recipient = p.recipient AND o.kind = 'delivery'
         ORDER BY o.id",
    )
    .bind(&events)
    .bind(&recipients)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        out.entry((row.event_id, row.recipient.clone())).or_default().push(row);
    }
    Ok(out)
}

/// Per person, the facts decisions depend on, from every record the store holds about them.
pub async fn people(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    day: NaiveDate,
    months: u32,
    treatment: &[String],
) -> Result<HashMap<Uuid, PersonFacts>, sqlx::Error> {
    let mut out: HashMap<Uuid, PersonFacts> =
        subjects.iter().map(|s| (*s, PersonFacts { treatment: treatment.to_vec(), ..Default::default() })).collect();
    let naming: Vec<InvolvementRow> =
        sqlx::query_as("SELECT subject_id, agency, occurred_at FROM involvements WHERE subject_id = ANY($1)")
            .bind(subjects)
            .fetch_all(&mut **tx)
            .await?;
    let mut times: HashMap<(Uuid, String), Vec<DateTime<Utc>>> = HashMap::new();
    for (subject, agency, at) in naming {
        times.entry((subject, agency)).or_default().push(at);
    }
    for ((subject, agency), at) in times {
        if let Some(p) = out.get_mut(&subject) {
            p.periods.insert(agency, super::periods::periods(&at, months));
        }
    }
    let orders: Vec<OrderRow> = sqlx::query_as(
        "SELECT subject_id, event_type, occurred_at, payload->>'order_type' FROM events
         WHERE subject_id = ANY($1) AND event_type IN ('OrderMade', 'SupervisionStarted', 'OrderTerminated')",
    )
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await?;
    for (subject, event_type, at, order_type) in orders {
        let mark = match (event_type.as_str(), order_type.as_deref()) {
            ("SupervisionStarted", _) | ("OrderMade", Some("CO" | "SSO")) => OrderMark::Started,
            ("OrderTerminated", _) => OrderMark::Terminated,
            _ => continue,
        };
        if let Some(p) = out.get_mut(&subject) {
            p.orders.push((at, mark));
        }
    }
    let rows: Vec<SubjectConsentRow> = sqlx::query_as(
        "SELECT subject_id, decision, scope, effective_date, expiry_date FROM consents WHERE subject_id = ANY($1) ORDER BY ordinal",
    )
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await?;
    let mut consents: HashMap<Uuid, Vec<ConsentRecord>> = HashMap::new();
    for (subject, decision, scope, effective, expiry) in rows {
        let scope = RecordedScope::parse(&scope);
        consents.entry(subject).or_default().push(ConsentRecord { decision, scope, effective, expiry });
    }
    for (subject, p) in out.iter_mut() {
        let records = consents.get(subject).map(Vec::as_slice).unwrap_or_default();
        p.consent_courts = consent_covers(records, ConsentScope::Courts, day);
        p.consent_probation = consent_covers(records, ConsentScope::Probation, day);
    }
    Ok(out)
}

/// Per person, the recipients already in scope (their catch-up was made then).
pub async fn in_scope_all(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
) -> Result<HashMap<Uuid, BTreeSet<String>>, sqlx::Error> {
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT subject_id, recipient FROM recipient_scope WHERE subject_id = ANY($1)")
            .bind(subjects)
            .fetch_all(&mut **tx)
            .await?;
    let mut out: HashMap<Uuid, BTreeSet<String>> = HashMap::new();
    for (subject, recipient) in rows {
        out.entry(subject).or_default().insert(recipient);
    }
    Ok(out)
}

/// (subject, decision, scope, effective, expiry)
type SubjectConsentRow = (Uuid, String, String, Option<NaiveDate>, Option<NaiveDate>);

/// For each (person, recipient) coming into scope: updates about the person from earlier
/// messages, not the recipient's own and not yet decided for it, in `occurred_at` order.
pub async fn history_all(
    tx: &mut Transaction<'_, Postgres>,
    pairs: &[(Uuid, String)],
    this_message: &BTreeSet<Uuid>,
) -> Result<Vec<(Uuid, String, NewEvent)>, sqlx::Error> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let exclude: Vec<Uuid> = this_message.iter().copied().collect();
    let (subjects, recipients): (Vec<Uuid>, Vec<String>) = pairs.iter().cloned().unzip();
    let rows: Vec<RecipientUpdate> = sqlx::query_as(
        "SELECT p.subject_id AS person, p.recipient, e.event_id, e.subject_id, e.event_type, e.data_class, e.agency,
                e.occurred_at, e.payload
         FROM UNNEST($1::uuid[], $2::text[]) WITH ORDINALITY AS p(subject_id, recipient, n)
         JOIN events e ON e.subject_id = p.subject_id AND e.agency <> p.recipient AND NOT (e.event_id = ANY($3))
         WHERE NOT EXISTS (SELECT 1 FROM disclosure_log l
                           WHERE l.event_id = e.event_id AND l.recipient = p.recipient AND l.stage = 'decided')
         ORDER BY p.n, e.occurred_at, e.seq",
    )
    .bind(&subjects)
    .bind(&recipients)
    .bind(&exclude)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(RecipientUpdate::into_parts).collect())
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

pub async fn consents(tx: &mut Transaction<'_, Postgres>, subject: Uuid) -> Result<Vec<ConsentRecord>, sqlx::Error> {
    let rows: Vec<(String, String, Option<NaiveDate>, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT decision, scope, effective_date, expiry_date FROM consents WHERE subject_id = $1 ORDER BY ordinal",
    )
    .bind(subject)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(decision, scope, effective, expiry)| ConsentRecord {
            decision,
            scope: RecordedScope::parse(&scope),
            effective,
            expiry,
        })
        .collect())
}

#[cfg(test)]
mod tests;
