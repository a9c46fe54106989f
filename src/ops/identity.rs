//! Identity review: records whose identifiers pointed at two different people wait here, linked
//! to no one and shared with no one, until an operator decides — link them as one person, or keep
//! them apart (the record goes to the person its strongest identifier names, and later records
//! naming the same people are resolved the same way). The decision is recorded with who made it,
//! and the person index resolves again around the record (`identity::relink`) exactly as it does
//! for arriving records; moved records are retracted and shared again as the agreements say.
use uuid::Uuid;

use crate::hub::Hub;
use crate::store::identity_conflicts;

pub use crate::store::identity_conflicts::Conflict;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Link,
    KeepApart,
}

pub async fn list(hub: &Hub, open_only: bool) -> anyhow::Result<Vec<Conflict>> {
    Ok(identity_conflicts::list(&hub.pool, open_only).await?)
}

/// Applies an operator's decision on an open conflict. The decision is recorded on every record
/// the conflict holds (a message's events share one) and who is who is resolved again around
/// them by the same rule as for arriving records: a link joins the two people (their records move
/// to the person the strongest identifier names; what went out under the other id is retracted as
/// `wrong_person` and decided again), keep-apart places the record with the person its strongest
/// identifier names. Then the records are shared as the agreements say.
pub async fn decide(hub: &Hub, id: i64, decision: Decision, by: &str) -> anyhow::Result<Uuid> {
    let now = hub.clock.now();
    let mut tx = hub.pool.begin().await?;
    crate::store::locks::identity_index(&mut tx).await?;
    let conflict =
        identity_conflicts::lock(&mut tx, id).await?.ok_or_else(|| anyhow::anyhow!("no identity conflict {id}"))?;
    anyhow::ensure!(conflict.status == "open", "conflict {id} was already decided ({})", conflict.status);
    let status = match decision {
        Decision::Link => "linked",
        Decision::KeepApart => "kept_apart",
    };
    let held = identity_conflicts::decide_held(&mut tx, &conflict, status, by, now).await?;
    let kind_of = |agency: &str| hub.sharing.kind_of(agency);
    let moved = crate::identity::relink(&mut tx, &held, &kind_of, now).await?;
    let subject = crate::store::events::subject_of(&mut tx, conflict.event_id).await?;
    let subject = subject.ok_or_else(|| {
        anyhow::anyhow!("conflict {id}: the record still leads to two people after this decision; nothing was changed")
    })?;
    crate::store::operator_actions::record(&mut tx, by, &format!("identity {status}"), &format!("conflict {id}"), now)
        .await?;
    crate::sharing::retract_moved(&mut tx, &moved, now).await?;
    let events = crate::sharing::moved_events(&mut tx, &moved).await?;
    let moved = events.iter().map(|e| e.event_id).collect();
    crate::sharing::decide_message(&mut tx, &hub.sharing, &events, &moved, now).await?;
    tx.commit().await?;
    hub.publisher_wakeup.notify_one();
    Ok(subject)
}
