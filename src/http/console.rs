//! The operator console: one server-rendered page (no build step; `templates/console.html`)
//! showing alerts, dead letters with their reasons, a chart of the last day, messages per
//! connector, the outbox backlog, queues (flagged when nobody reads them or they grow) and
//! identity conflicts, with replay, purge and link/keep-apart actions for operators, and for
//! auditors the latest consultations (who looked at whom). It refreshes itself every few seconds.
use serde_json::{Value, json};

use crate::http::auth::{Caller, Role};
use crate::hub::Hub;

/// Dead letters shown on the console page: it stays small however many are open.
const CONSOLE_DEAD_LETTERS: i64 = 50;
/// Consultations shown to auditors on the console page.
const CONSOLE_CONSULTATIONS: i64 = 20;

/// At most `max` characters, marked when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// What an operator should look at in a queue: nobody reading it, or more arriving than leaving
/// while messages wait (the broker's rates over its last sample).
fn queue_flags(q: &crate::ops::status::QueueDepth) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if q.consumers == 0 {
        flags.push("no consumer");
    }
    if let (Some(publish), Some(deliver)) = (q.publish_rate, q.deliver_rate)
        && q.messages > 0
        && publish > deliver + 0.1
    {
        flags.push("backlog growing");
    }
    flags
}

pub async fn page(hub: &Hub, caller: &Caller) -> anyhow::Result<String> {
    let now = hub.clock.now();
    let status = crate::ops::status::gather(&hub.settings, &hub.pool).await?;
    let alerts = crate::ops::alerts::evaluate(&hub.settings, &hub.pool, now).await?;
    let dead = crate::ops::deadletters::page(hub, 0, CONSOLE_DEAD_LETTERS).await?;
    let conflicts = crate::ops::identity::list(hub, true).await?;
    let actions = crate::store::operator_actions::latest(&hub.pool, 10).await?;
    let since = crate::http::console_chart::since(now);
    let hourly_events: Vec<_> =
        crate::store::inbox::hourly(&hub.pool, since).await?.into_iter().map(|(h, _, events)| (h, events)).collect();
    let hourly_refusals = crate::store::refusals::hourly(&hub.pool, since).await?;
    // The summary by reason only when more are open than the page shows.
    let dead_summary = if status.dead_letters_open > dead.len() as i64 {
        crate::ops::deadletters::summary(hub).await?
    } else {
        Vec::new()
    };
    let consultations = if caller.role == Role::Auditor { Some(consultations(hub).await?) } else { None };
    let view = json!({
        "user": caller.user,
        "role": caller.role.as_str(),
        "clock": now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        "can_act": caller.role == Role::Operator,
        "alerts": alerts,
        "dead_open": status.dead_letters_open,
        "dead_last": dead.last().map_or(0, |d| d.id),
        "dead_summary": dead_summary.iter().map(|(connector, code, open)| json!({"connector": connector, "code": code, "open": open})).collect::<Vec<_>>(),
        "dead": dead.iter().map(|d| json!({
            "id": d.id,
            "refused_at": d.refused_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "connector": d.connector,
            "message_id": d.message_id,
            "item": if d.item_position == 0 { "whole".to_string() } else { d.item_position.to_string() },
            "reason": shorten(&d.reason, 300),
        })).collect::<Vec<_>>(),
        "hours": crate::http::console_chart::HOURS,
        "chart": crate::http::console_chart::svg(now, &hourly_events, &hourly_refusals),
        "connectors": status.received.iter().map(|(connector, received, applied, refused)| json!({
            "connector": connector, "received": received, "applied": applied, "refused": refused})).collect::<Vec<_>>(),
        "outbox_backlog": status.outbox_backlog,
        "queues": status.queues.iter().map(|q| json!({
            "queue": q.queue, "messages": q.messages, "consumers": q.consumers, "flags": queue_flags(q)})).collect::<Vec<_>>(),
        "conflicts": conflicts.iter().map(|c| json!({
            "id": c.id,
            "agency": c.agency,
            "message_id": c.message_id,
            "identifiers": c.identifiers.to_string(),
            "people": c.subject_ids.iter().map(|s| s.to_string()[..8].to_string()).collect::<Vec<_>>().join(", "),
        })).collect::<Vec<_>>(),
        "actions": actions.iter().map(|(at, actor, action, target)| json!({
            "at": at.format("%Y-%m-%d %H:%M:%S").to_string(), "actor": actor, "action": action, "target": target})).collect::<Vec<_>>(),
        "consultations": consultations,
    });
    Ok(crate::templates::render("console.html", &view)?)
}

/// Auditors see who looked at whom through the hub (DPA 2018 s.62), newest first.
async fn consultations(hub: &Hub) -> anyhow::Result<Vec<Value>> {
    let latest = crate::consultations::latest(&hub.pool, None, CONSOLE_CONSULTATIONS).await?;
    Ok(latest
        .iter()
        .map(|(id, c)| {
            json!({
                "id": id,
                "at": c.viewed_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "viewer": c.viewer,
                "court": c.court.as_deref().unwrap_or(""),
                "person": c.subject_id.map(|s| s.to_string()).unwrap_or_default(),
                "view": c.view,
                "purpose": shorten(&c.purpose, 80),
                "outcome": c.outcome,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::ops::status::QueueDepth;

    fn queue(messages: u32, consumers: u32, publish: f64, deliver: f64) -> QueueDepth {
        QueueDepth { queue: "q".into(), messages, consumers, publish_rate: Some(publish), deliver_rate: Some(deliver) }
    }

    #[test]
    fn a_queue_nobody_reads_or_that_grows_is_flagged() {
        assert!(super::queue_flags(&queue(10, 1, 5.0, 5.0)).is_empty());
        assert_eq!(super::queue_flags(&queue(0, 0, 0.0, 0.0)), ["no consumer"]);
        assert_eq!(super::queue_flags(&queue(500, 1, 80.0, 20.0)), ["backlog growing"]);
        assert!(super::queue_flags(&queue(0, 1, 80.0, 20.0)).is_empty(), "nothing waits: keeping up");
    }
}
