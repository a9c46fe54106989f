//! Facts about a person that decisions depend on, read from the store as it is when deciding:
//! who is involved, who is already in scope, whether an order is active, what consent covers.
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Months, NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::NewEvent;
use super::decide::Facts;

/// Per person, the agencies involved: named by an event within the last `months`.
pub async fn involved_all(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    now: DateTime<Utc>,
    months: u32,
) -> Result<HashMap<Uuid, BTreeSet<String>>, sqlx::Error> {
    let since = now.checked_sub_months(Months::new(months)).unwrap_or(now);
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT DISTINCT subject_id, agency FROM involvements WHERE subject_id = ANY($1) AND occurred_at >= $2",
    )
    .bind(subjects)
    .bind(since)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: HashMap<Uuid, BTreeSet<String>> = HashMap::new();
    for (subject, agency) in rows {
        out.entry(subject).or_default().insert(agency);
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

/// (subject, recipient, event id, type, data class, source agency, occurred at, payload)
type HistoryRow = (Uuid, String, Uuid, String, String, String, DateTime<Utc>, serde_json::Value);
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
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT p.subject_id, p.recipient, e.event_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.payload
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
    Ok(rows
        .into_iter()
        .map(|(subject, recipient, event_id, event_type, data_class, source_agency, occurred_at, payload)| {
            (
                subject,
                recipient,
                NewEvent {
                    event_id,
                    subject_id: Some(subject),
                    event_type,
                    data_class,
                    source_agency,
                    occurred_at,
                    payload,
                },
            )
        })
        .collect())
}

/// Per person, the facts decisions depend on.
pub async fn load_all(
    tx: &mut Transaction<'_, Postgres>,
    subjects: &[Uuid],
    day: NaiveDate,
) -> Result<HashMap<Uuid, Facts>, sqlx::Error> {
    let active: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT s.subject_id FROM events s WHERE s.subject_id = ANY($1)
           AND (s.event_type = 'SupervisionStarted' OR (s.event_type = 'OrderMade' AND s.payload->>'order_type' IN ('CO', 'SSO')))
           AND NOT EXISTS (SELECT 1 FROM events t WHERE t.subject_id = s.subject_id AND t.event_type = 'OrderTerminated'
                           AND t.occurred_at >= s.occurred_at)",
    )
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await?;
    let rows: Vec<SubjectConsentRow> = sqlx::query_as(
        "SELECT subject_id, decision, scope, effective_date, expiry_date FROM consents WHERE subject_id = ANY($1) ORDER BY ordinal",
    )
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await?;
    let mut consents: HashMap<Uuid, Vec<ConsentRecord>> = HashMap::new();
    for (subject, decision, scope, effective, expiry) in rows {
        consents.entry(subject).or_default().push(ConsentRecord { decision, scope, effective, expiry });
    }
    Ok(subjects
        .iter()
        .map(|s| {
            let records = consents.get(s).map(Vec::as_slice).unwrap_or_default();
            let facts = Facts {
                active_order: active.contains(s),
                consent_courts: consent_covers(records, "CRT", day),
                consent_probation: consent_covers(records, "PRB", day),
            };
            (*s, facts)
        })
        .collect())
}

/// One consent record, in the order records were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub decision: String,
    pub scope: String,
    pub effective: Option<NaiveDate>,
    pub expiry: Option<NaiveDate>,
}

/// Whether the records leave `scope` (CRT or PRB) covered on `day`: the last record naming the
/// scope (ALL names both) must be a grant in effect and not expired (the expiry date is the last
/// day covered). W withdraws, R refuses.
pub fn consent_covers(records: &[ConsentRecord], scope: &str, day: NaiveDate) -> bool {
    records
        .iter()
        .rev()
        .find(|r| r.scope == scope || r.scope == "ALL")
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
        .map(|(decision, scope, effective, expiry)| ConsentRecord { decision, scope, effective, expiry })
        .collect())
}

pub async fn load(tx: &mut Transaction<'_, Postgres>, subject: Uuid, day: NaiveDate) -> Result<Facts, sqlx::Error> {
    let active_order: bool = sqlx::query_scalar(
        "SELECT EXISTS (
           SELECT 1 FROM events s WHERE s.subject_id = $1
             AND (s.event_type = 'SupervisionStarted' OR (s.event_type = 'OrderMade' AND s.payload->>'order_type' IN ('CO', 'SSO')))
             AND NOT EXISTS (SELECT 1 FROM events t WHERE t.subject_id = $1 AND t.event_type = 'OrderTerminated'
                             AND t.occurred_at >= s.occurred_at))",
    )
    .bind(subject)
    .fetch_one(&mut **tx)
    .await?;
    let records = consents(tx, subject).await?;
    Ok(Facts {
        active_order,
        consent_courts: consent_covers(&records, "CRT", day),
        consent_probation: consent_covers(&records, "PRB", day),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(decision: &str, scope: &str, expiry: Option<&str>) -> ConsentRecord {
        ConsentRecord {
            decision: decision.into(),
            scope: scope.into(),
            effective: NaiveDate::from_ymd_opt(2026, 11, 1),
            expiry: expiry.map(|e| NaiveDate::parse_from_str(e, "%Y-%m-%d").unwrap()),
        }
    }

    #[test]
    fn consent_follows_the_last_record_and_expiry_is_the_last_day_covered() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let granted = [rec("G", "ALL", Some("2026-12-01"))];
        assert!(consent_covers(&granted, "CRT", day("2026-12-01")));
        assert!(!consent_covers(&granted, "CRT", day("2026-12-02")));
        let withdrawn = [rec("G", "ALL", None), rec("W", "PRB", None)];
        assert!(consent_covers(&withdrawn, "CRT", day("2026-11-28")));
        assert!(!consent_covers(&withdrawn, "PRB", day("2026-11-28")));
        assert!(!consent_covers(&[rec("R", "ALL", None)], "CRT", day("2026-11-28")));
        assert!(!consent_covers(&[], "CRT", day("2026-11-28")));
    }
}
