//! The operator console: one server-rendered page (no build step) showing alerts, queues,
//! throughput, dead letters with their reasons, the outbox backlog and identity conflicts, with
//! replay, purge and link/keep-apart actions for operators, and for auditors the latest
//! consultations (who looked at whom). It refreshes itself every few seconds.
use std::fmt::Write as _;

use crate::html::esc;
use crate::http::auth::Caller;
use crate::http::auth::Role;
use crate::hub::Hub;

/// Escapes text for HTML.
const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2733;background:#f4f6f8}
header{background:#1d3557;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:baseline}
header h1{font-size:18px;margin:0}main{padding:8px 24px 32px;display:grid;grid-template-columns:1fr 1fr;gap:16px}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}section.wide{grid-column:1/-1}
h2{font-size:15px;margin:4px 0 8px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e8ec;vertical-align:top}
th{font-weight:600;color:#52606d;font-size:12px;text-transform:uppercase}td.n{text-align:right;font-variant-numeric:tabular-nums}
.alert{background:#fde2e1;color:#8a1c1c;border-radius:6px;padding:6px 10px;margin:4px 0}.ok{color:#2d6a4f}
button{border:0;border-radius:4px;padding:3px 10px;cursor:pointer;background:#457b9d;color:#fff}button.danger{background:#b23a48}
form{display:inline}.reason{font-family:ui-monospace,monospace;font-size:12px}.muted{color:#7b8794}
tr.flagged td{background:#fff4e5}td.flag{color:#8a4b00;font-weight:600}";

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
    let dead_summary = crate::ops::deadletters::summary(hub).await?;
    let conflicts = crate::ops::identity::list(hub, true).await?;
    let actions = crate::store::operator_actions::latest(&hub.pool, 10).await?;
    let since = crate::http::console_chart::since(now);
    let hourly_events: Vec<_> =
        crate::store::inbox::hourly(&hub.pool, since).await?.into_iter().map(|(h, _, events)| (h, events)).collect();
    let hourly_refusals = crate::store::refusals::hourly(&hub.pool, since).await?;
    let can_act = caller.role == Role::Operator;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content=5>\
         <title>Tracker console</title><style>{STYLE}</style></head><body>\
         <header><h1>Tracker console</h1><span>{} ({}) · hub clock {}</span></header><main>",
        esc(&caller.user),
        caller.role.as_str(),
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    h.push_str("<section class=wide id=alerts><h2>Alerts</h2>");
    if alerts.is_empty() {
        h.push_str("<p class=ok>No alerts.</p>");
    }
    for a in &alerts {
        let _ = write!(h, "<div class=alert data-rule=\"{}\">{}</div>", a.rule, esc(&a.message));
    }
    h.push_str("</section>");

    let _ = write!(
        h,
        "<section class=wide id=dead-letters><h2>Dead letters (<span id=dead-count>{}</span> open)</h2>",
        status.dead_letters_open
    );
    if dead.is_empty() {
        h.push_str("<p class=ok>None open.</p>");
    } else {
        if status.dead_letters_open > dead.len() as i64 {
            let _ = write!(
                h,
                "<p>The oldest {} are shown. By connector and reason:</p><table id=dead-summary>\
                 <tr><th>connector</th><th>code</th><th>open</th></tr>",
                dead.len()
            );
            for (connector, code, n) in &dead_summary {
                let _ = write!(h, "<tr><td>{}</td><td>{}</td><td class=n>{n}</td></tr>", esc(connector), esc(code));
            }
            let last = dead.last().map_or(0, |d| d.id);
            let _ = write!(
                h,
                "</table><p>The rest, page by page: <a href=\"/api/v1/deadletters?after={last}&amp;limit=500\">/api/v1/deadletters?after={last}</a></p>"
            );
        }
        h.push_str("<table><tr><th>#</th><th>refused (UTC)</th><th>connector</th><th>message</th><th>item</th><th>reason</th><th></th></tr>");
        for d in &dead {
            let item = if d.item_position == 0 { "whole".to_string() } else { d.item_position.to_string() };
            let _ = write!(
                h,
                "<tr id=\"dead-{0}\"><td><a href=\"/api/v1/deadletters/{0}\" title=\"the dead letter as JSON\">{0}</a></td>\
                 <td>{1}</td><td>{2}</td><td>{3}</td><td>{item}</td><td class=reason>{4}</td><td>\
                 <a id=\"payload-{0}\" href=\"/api/v1/deadletters/{0}/payload\" title=\"the refused bytes, as they arrived\">payload</a> ",
                d.id,
                d.refused_at.format("%Y-%m-%d %H:%M:%S"),
                esc(&d.connector),
                esc(&d.message_id),
                esc(&shorten(&d.reason, 300))
            );
            if can_act {
                let _ = write!(
                    h,
                    "<form method=post action=\"/console/deadletters/{0}/replay\"><button id=\"replay-{0}\">Replay</button></form> \
                     <form method=post action=\"/console/deadletters/{0}/purge\" \
                     onsubmit=\"return confirm('Purge dead letter {0}? Its message will not be applied; this cannot be undone.')\">\
                     <button class=danger id=\"purge-{0}\">Purge</button></form>",
                    d.id
                );
            }
            h.push_str("</td></tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    let _ = write!(
        h,
        "<section class=wide id=over-time><h2>Over the last {} hours (UTC, by the hub's clock)</h2>\
         <p class=muted><span style=\"color:#457b9d\">■</span> events applied \
         <span style=\"color:#b23a48\">■</span> refusals — per hour; hover a column for its figure</p>{}</section>",
        crate::http::console_chart::HOURS,
        crate::http::console_chart::svg(now, &hourly_events, &hourly_refusals)
    );

    h.push_str("<section id=throughput><h2>Messages per connector</h2><table><tr><th>connector</th><th>received</th><th>applied</th><th>refused</th></tr>");
    for (c, received, applied, refused) in &status.received {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=n>{received}</td><td class=n>{applied}</td><td class=n>{refused}</td></tr>",
            esc(c)
        );
    }
    let _ = write!(
        h,
        "</table><p>Outbox backlog: <b id=outbox-backlog>{}</b> deliveries</p></section>",
        status.outbox_backlog
    );

    h.push_str(
        "<section id=queues><h2>Queues</h2><table><tr><th>queue</th><th>messages</th><th>consumers</th><th></th></tr>",
    );
    for q in &status.queues {
        let flags = queue_flags(q);
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=flag>{}</td></tr>",
            if flags.is_empty() { "" } else { " class=flagged" },
            esc(&q.queue),
            q.messages,
            q.consumers,
            flags.join(", ")
        );
    }
    h.push_str("</table></section>");

    h.push_str("<section id=identity><h2>Identity review</h2>");
    if conflicts.is_empty() {
        h.push_str("<p class=ok>No records wait for a decision.</p>");
    } else {
        h.push_str("<table><tr><th>#</th><th>from</th><th>identifiers</th><th>people</th><th></th></tr>");
        for c in &conflicts {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{} {}</td><td class=reason>{}</td><td class=reason>{}</td><td>",
                c.id,
                esc(&c.agency),
                esc(&c.message_id),
                esc(&c.identifiers.to_string()),
                esc(&c.subject_ids.iter().map(|s| s.to_string()[..8].to_string()).collect::<Vec<_>>().join(", "))
            );
            if can_act {
                let _ = write!(
                    h,
                    "<form method=post action=\"/console/identity/{0}/link\"><button>Link as one</button></form> \
                     <form method=post action=\"/console/identity/{0}/apart\"><button>Keep apart</button></form>",
                    c.id
                );
            }
            h.push_str("</td></tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    h.push_str(
        "<section id=actions><h2>Recent actions</h2><table><tr><th>when (UTC)</th><th>who</th><th>what</th></tr>",
    );
    for (at, actor, action, target) in &actions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td></tr>",
            at.format("%Y-%m-%d %H:%M:%S"),
            esc(actor),
            esc(action),
            esc(target)
        );
    }
    h.push_str(
        "</table><p class=muted>Every action is recorded with who did it. A delivery that should not have been \
         made: <a href=\"/console/recall\">recall a disclosure</a>.</p></section>",
    );
    if caller.role == Role::Auditor {
        consultations(&mut h, hub).await?;
    }
    h.push_str("</main></body></html>");
    Ok(h)
}

/// Auditors see who looked at whom through the hub (DPA 2018 s.62), newest first.
async fn consultations(h: &mut String, hub: &Hub) -> anyhow::Result<()> {
    let latest = crate::consultations::latest(&hub.pool, None, CONSOLE_CONSULTATIONS).await?;
    h.push_str(
        "<section class=wide id=consultations><h2>Consultations</h2><table><tr><th>when</th><th>who</th>\
         <th>court</th><th>person</th><th>view</th><th>purpose</th><th>outcome</th></tr>",
    );
    for (id, c) in &latest {
        let _ = write!(
            h,
            "<tr id=consultation-{id}><td>{}</td><td>{}</td><td>{}</td><td class=reason>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.viewed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            esc(&c.viewer),
            esc(c.court.as_deref().unwrap_or("")),
            c.subject_id.map(|s| s.to_string()).unwrap_or_default(),
            esc(&c.view),
            esc(&shorten(&c.purpose, 80)),
            esc(&c.outcome)
        );
    }
    h.push_str(
        "</table><p class=muted>Every court view and every refusal, hash-chained: <code>tracker audit verify</code>; \
         all of them: <code>tracker audit consultations</code>.</p></section>",
    );
    Ok(())
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
