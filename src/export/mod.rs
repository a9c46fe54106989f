//! Subject access (DPA 2018 s.45): `tracker person export` writes everything held about a person
//! — identifiers, names and dates of birth seen, every event with its full record, consents — and
//! every disclosure of it, as JSON and as a page the person can read (`page`: codes in words,
//! no raw JSON), and records who asked and how
//! long it took (report 39).
use std::path::Path;
use std::time::Instant;

use serde_json::{Value as Json, json};
use sqlx::PgPool;

use crate::domain::identifiers::Identifier;
use crate::settings::Settings;

mod page;

/// Writes `out` (JSON) and `out` with `.html`, records the export, returns the JSON.
pub async fn export(
    pool: &PgPool,
    settings: &Settings,
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
    let view = page::View::new(settings, &person, &consents, &disclosures, &doc, out);
    std::fs::write(&html_path, crate::templates::render("subject_access.html", &view)?)?;
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
