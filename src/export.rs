//! Subject access (DPA 2018 s.45): `tracker person export` writes everything held about a person
//! — identifiers, names and dates of birth seen, every event with its full record, consents — and
//! every disclosure of it, as JSON and as a readable HTML page, and records who asked and how
//! long it took (report 39).
use std::path::Path;
use std::time::Instant;

use serde_json::{Value as Json, json};
use sqlx::PgPool;

use crate::domain::identifiers::Identifier;
use crate::html::esc;

use crate::store::disclosure_log::Disclosure;

/// Writes `out` (JSON) and `out` with `.html`, records the export, returns the JSON.
pub async fn export(
    pool: &PgPool,
    key: &Identifier,
    out: &Path,
    requester: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Json> {
    let started = Instant::now();
    let person = crate::person::load(pool, key).await?;
    let looker = crate::consultations::Looker {
        viewer: requester,
        role: "operator",
        purpose: "subject access request",
        at: now,
    };
    crate::consultations::record_look(pool, &looker, Some(person.subject_id), "subject access export").await?;
    let disclosures = crate::store::disclosure_log::of_person(pool, person.subject_id).await?;
    let consents = crate::store::consents::history(pool, person.subject_id).await?;
    let doc = json!({
        "subject_access_export": {"requested_by": requester, "produced_at": now.to_rfc3339(), "asked_for": key.to_string()},
        "person": person,
        "consents": consents.iter().map(|c| json!({
            "source": c.source, "decision": c.decision, "scope": c.scope, "effective": c.effective_date,
            "expiry": c.expiry_date})).collect::<Vec<_>>(),
        "disclosures": disclosures.iter().map(|d| json!({
            "at": d.logged_at.to_rfc3339(), "recipient": d.recipient, "update": d.event_type, "stage": d.stage,
            "decision": d.decision, "reason": d.reason, "agreement": d.agreement, "purpose": d.purpose,
            "legal_basis": d.legal_basis, "fields_disclosed": d.fields_disclosed, "fields_withheld": d.fields_withheld})).collect::<Vec<_>>(),
    });
    std::fs::write(out, serde_json::to_string_pretty(&doc)? + "\n")?;
    let html_path = out.with_extension("html");
    std::fs::write(&html_path, html(&doc, &disclosures))?;
    let duration_ms = started.elapsed().as_millis() as i64;
    crate::store::people::record_access_export(
        pool,
        person.subject_id,
        requester,
        now,
        duration_ms,
        &out.display().to_string(),
    )
    .await?;
    Ok(doc)
}

fn html(doc: &Json, disclosures: &[Disclosure]) -> String {
    let p = &doc["person"];
    let mut h = String::from(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Subject access export</title><style>\
         body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:32px auto;padding:0 16px;color:#1d2733}\
         table{border-collapse:collapse;width:100%;margin:8px 0 24px}th,td{padding:4px 8px;border-bottom:1px solid #e4e8ec;text-align:left;vertical-align:top}\
         th{font-size:12px;text-transform:uppercase;color:#52606d}</style></head><body><h1>Everything held about you</h1>",
    );
    h.push_str(&format!(
        "<p>Produced {} at the request of {}.</p><h2>Your identifiers</h2><table><tr><th>scheme</th><th>value</th><th>first from</th></tr>",
        esc(doc["subject_access_export"]["produced_at"].as_str().unwrap_or_default()),
        esc(doc["subject_access_export"]["requested_by"].as_str().unwrap_or_default())
    ));
    for i in p["identifiers"].as_array().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(i["scheme"].as_str().unwrap_or_default()),
            esc(i["value"].as_str().unwrap_or_default()),
            esc(i["source_agency"].as_str().unwrap_or_default())
        ));
    }
    h.push_str("</table><h2>What each agency recorded</h2><table><tr><th>when</th><th>agency</th><th>what</th><th>details</th></tr>");
    for e in p["timeline"].as_array().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(e["occurred_at"].as_str().unwrap_or_default()),
            esc(e["agency"].as_str().unwrap_or_default()),
            esc(e["event_type"].as_str().unwrap_or_default()),
            esc(&e["payload"].to_string())
        ));
    }
    h.push_str("</table><h2>Who was told what</h2><table><tr><th>when</th><th>to</th><th>update</th><th>decision</th><th>why</th><th>fields withheld</th></tr>");
    for d in disclosures {
        let why = match (&d.agreement, &d.purpose, &d.reason) {
            (Some(a), Some(p), _) => format!("{a}: {p} ({})", d.legal_basis.clone().unwrap_or_default()),
            (_, _, Some(r)) => r.replace('_', " "),
            _ => String::new(),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            d.logged_at.format("%Y-%m-%d %H:%M"),
            esc(&d.recipient),
            esc(&d.event_type),
            esc(&d.decision),
            if d.stage == "published" { " (when sending)" } else { "" },
            esc(&why),
            esc(&d.fields_withheld.join(", "))
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}
