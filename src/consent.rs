//! Consent recorded by operators (`tracker consent grant|withdraw|show`), beside the treatment
//! feed's consent records. Applied in order with them; a withdrawal stops every health update
//! not yet published (the publisher re-checks), never what was already sent.
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::sharing::decide::RecordedScope;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Grant,
    Withdraw,
}

/// One operator decision about a subject's consent.
#[derive(Debug, Clone)]
pub struct ConsentChange {
    pub subject: Uuid,
    pub change: Change,
    /// ALL, CRT (courts) or PRB (probation).
    pub scope: RecordedScope,
    pub effective: NaiveDate,
    /// The last day covered; `None` is open-ended.
    pub expiry: Option<NaiveDate>,
    /// Who recorded it.
    pub by: String,
}

/// Records an operator's consent change.
pub async fn record(pool: &PgPool, c: &ConsentChange, now: DateTime<Utc>) -> anyhow::Result<()> {
    let decision = match c.change {
        Change::Grant => "G",
        Change::Withdraw => "W",
    };
    crate::store::consents::insert_operator_record(
        pool,
        c.subject,
        decision,
        c.scope.code(),
        c.effective,
        c.expiry,
        &c.by,
        now,
    )
    .await?;
    Ok(())
}

/// The consent history of a subject, in the order applied.
pub async fn show(pool: &PgPool, subject: Uuid) -> anyhow::Result<String> {
    let rows = crate::store::consents::history(pool, subject).await?;
    let mut out = format!("Consent records for subject {subject} (applied in this order):\n");
    for crate::store::consents::ConsentRow {
        source,
        decision,
        scope,
        effective_date: effective,
        expiry_date: expiry,
        recorded_at: at,
        decided_by: by,
    } in rows
    {
        out.push_str(&format!(
            "  {decision} {scope:<3} from {} to {}  ({source}{}, recorded {})\n",
            effective.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            expiry.map(|d| d.to_string()).unwrap_or_else(|| "open".into()),
            by.map(|b| format!(" by {b}")).unwrap_or_default(),
            at.format("%Y-%m-%d %H:%M")
        ));
    }
    Ok(out)
}
