//! Facts about a person that decisions depend on, read from the store as it is when deciding:
//! who is involved, who is already in scope, whether an order is active, what consent covers.
use std::collections::BTreeSet;

use chrono::{DateTime, Months, NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::NewEvent;
use super::decide::Facts;

/// Agencies involved with the person: named by an event within the last `months`.
pub async fn involved(
    tx: &mut Transaction<'_, Postgres>,
    subject: Uuid,
    now: DateTime<Utc>,
    months: u32,
) -> Result<BTreeSet<String>, sqlx::Error> {
    let since = now.checked_sub_months(Months::new(months)).unwrap_or(now);
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT agency FROM involvements WHERE subject_id = $1 AND occurred_at >= $2")
            .bind(subject)
            .bind(since)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Recipients that already came into scope for the person (their catch-up was made then).
pub async fn in_scope(tx: &mut Transaction<'_, Postgres>, subject: Uuid) -> Result<BTreeSet<String>, sqlx::Error> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT recipient FROM recipient_scope WHERE subject_id = $1")
        .bind(subject)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().collect())
}

type HistoryRow = (Uuid, String, String, String, DateTime<Utc>, serde_json::Value);

/// Updates about the person from earlier messages, not the recipient's own and not yet decided
/// for it, in `occurred_at` order.
pub async fn history_for(
    tx: &mut Transaction<'_, Postgres>,
    subject: Uuid,
    recipient: &str,
    this_message: &BTreeSet<Uuid>,
) -> Result<Vec<NewEvent>, sqlx::Error> {
    let exclude: Vec<Uuid> = this_message.iter().copied().collect();
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT e.event_id, e.event_type, e.data_class, e.agency, e.occurred_at, e.payload FROM events e
         WHERE e.subject_id = $1 AND e.agency <> $2 AND NOT (e.event_id = ANY($3))
           AND NOT EXISTS (SELECT 1 FROM disclosure_log l WHERE l.event_id = e.event_id AND l.recipient = $2 AND l.stage = 'decided')
         ORDER BY e.occurred_at, e.seq",
    )
    .bind(subject)
    .bind(recipient)
    .bind(&exclude)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(event_id, event_type, data_class, source_agency, occurred_at, payload)| NewEvent {
            event_id,
            subject_id: Some(subject),
            event_type,
            data_class,
            source_agency,
            occurred_at,
            payload,
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
