//! Moving stored records when who is who changes: their subject is re-pointed in every table
//! that holds it by event id, their person's details follow, and their conflict is opened (held
//! now) or resolved (placed now). Sharing then retracts and decides them again.
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Link, Moved};
use crate::store;

/// Re-points moved records: their subject in every table keyed by event, their person's details,
/// and their conflict (opened when they are held now, resolved when a later record placed them).
pub(super) async fn apply_moves(
    tx: &mut Transaction<'_, Postgres>,
    moved: &[Moved],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if moved.is_empty() {
        return Ok(());
    }
    let events: Vec<Uuid> = moved.iter().map(|m| m.event_id).collect();
    let subjects: Vec<Option<Uuid>> = moved
        .iter()
        .map(|m| match m.to {
            Link::Subject(s) => Some(s),
            _ => None,
        })
        .collect();
    // A held record involves no agency with anyone; placed again, sharing records it afresh.
    store::involvements::remove_held(tx, &events, &subjects).await?;
    store::projections::repoint(tx, &events, &subjects).await?;
    store::projections::cases_follow_hearings(tx, &events).await?;
    // An agency no longer involved with a person the records left is out of scope again: should it
    // become involved later, it gets the history it may see then.
    let left: Vec<Uuid> = moved.iter().filter_map(|m| m.from).collect();
    store::recipient_scope::drop_uninvolved(tx, &left).await?;
    store::subjects::insert_details_of_records(tx, &events, now).await?;
    let held: Vec<(Uuid, Vec<Uuid>)> = moved
        .iter()
        .filter_map(|m| match &m.to {
            Link::Conflict(people) => Some((m.event_id, people.clone())),
            _ => None,
        })
        .collect();
    store::identity_conflicts::hold_stored(tx, &held, now).await?;
    let placed: Vec<Uuid> = moved.iter().filter(|m| matches!(m.to, Link::Subject(_))).map(|m| m.event_id).collect();
    store::identity_conflicts::resolve_placed(tx, &placed, now).await?;
    Ok(())
}
