//! Restricting records at their owning agency's request (DPA 2018 s.47(2): restricted instead of
//! erased where they must be kept, as evidence). A restricted record stays in the store, but no
//! recipient is sent it (deliveries not yet sent are stopped; every agency holding a copy gets a
//! restriction notice naming its delivery, logged at stage `restricted`), no report counts it
//! and the court does not see it; auditors list the restrictions (`tracker records
//! restrictions`). Lifting a restriction puts the record back in the reports and in decisions
//! from then on; earlier holders are not sent it again.
use uuid::Uuid;

use crate::hub::Hub;
use crate::sharing::log::{self, LogEntry, Stage};
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum RestrictionError {
    #[error("no record has event id {0}")]
    NotFound(Uuid),
    #[error("record {event} belongs to {owner}, not {agency}: only the owning agency can have it restricted")]
    NotOwner { event: Uuid, owner: String, agency: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Restricts `events` at `agency`'s request; returns (restricted now, notices queued).
pub async fn restrict(
    hub: &Hub,
    events: &[Uuid],
    agency: &str,
    reason: &str,
    by: &str,
) -> Result<(usize, usize), RestrictionError> {
    let now = hub.clock.now();
    let mut tx = hub.pool.begin().await?;
    let owners = owners(&mut tx, events, agency).await?;
    let standing = store::outbox::standing_deliveries(&mut tx, events).await?;
    let (mut restricted, mut notices, mut entries) = (0, 0, Vec::new());
    for (id, event_type, data_class) in &owners {
        if !store::restrictions::restrict(&mut tx, *id, agency, reason, by, now).await? {
            continue;
        }
        restricted += 1;
        for held in standing.iter().filter(|d| d.event_id == *id) {
            let notice = crate::sharing::restriction_message_id(held.message_id);
            if store::outbox::queue_notice(&mut tx, "restriction", &held.as_target(), notice, "restricted", now).await?
            {
                notices += 1;
            }
            entries.push(LogEntry {
                event_id: *id,
                subject_id: held.subject_id,
                recipient: held.recipient.clone(),
                stage: Stage::Restricted.as_str().into(),
                decision: "withhold".into(),
                reason: Some("restricted".into()),
                agreement: Some(held.agreement.clone()),
                purpose: Some(held.purpose.clone()),
                legal_basis: Some(held.legal_basis.clone()),
                event_type: event_type.clone(),
                data_class: data_class.clone(),
                fields_disclosed: Vec::new(),
                fields_withheld: Vec::new(),
                catch_up: held.catch_up,
                logged_at: now,
            });
        }
    }
    log::append(&mut tx, &entries).await?;
    store::operator_actions::record(
        &mut tx,
        by,
        "restrict",
        &format!("{restricted} records of {agency}: {reason}"),
        now,
    )
    .await?;
    tx.commit().await?;
    hub.publisher_wakeup.notify_one();
    Ok((restricted, notices))
}

/// Lifts the restriction of `events` at `agency`'s request; returns how many were lifted.
pub async fn lift(hub: &Hub, events: &[Uuid], agency: &str, by: &str) -> Result<usize, RestrictionError> {
    let now = hub.clock.now();
    let mut tx = hub.pool.begin().await?;
    let owners = owners(&mut tx, events, agency).await?;
    let mut lifted = 0;
    for (id, _, _) in &owners {
        if store::restrictions::lift(&mut tx, *id, by, now).await? {
            lifted += 1;
        }
    }
    store::operator_actions::record(&mut tx, by, "lift restriction", &format!("{lifted} records of {agency}"), now)
        .await?;
    tx.commit().await?;
    Ok(lifted)
}

/// (event, type, class) of each record, once each is known to be `agency`'s own.
async fn owners(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    events: &[Uuid],
    agency: &str,
) -> Result<Vec<(Uuid, String, String)>, RestrictionError> {
    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT event_id, agency, event_type, data_class FROM events WHERE event_id = ANY($1) ORDER BY seq",
    )
    .bind(events)
    .fetch_all(&mut **tx)
    .await?;
    for id in events {
        let Some(row) = rows.iter().find(|r| r.0 == *id) else { return Err(RestrictionError::NotFound(*id)) };
        if row.1 != agency {
            return Err(RestrictionError::NotOwner { event: *id, owner: row.1.clone(), agency: agency.into() });
        }
    }
    Ok(rows.into_iter().map(|(id, _, t, c)| (id, t, c)).collect())
}
