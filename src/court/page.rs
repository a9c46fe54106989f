//! The court's pages: the bench summary (one A4 sheet when printed, readable on screen), the
//! bench pack (every listed defendant's summary, a page each) and the court list — laid out by
//! `templates/court_*.html`, which escape every value; nothing is shown that the summary does not
//! hold. Here each summary is turned into what the pages show.
use std::fmt::Write;

use serde_json::{Value, json};

use super::list::CourtList;
use super::summary::{BenchSummary, DrugTest, Item, Part};

/// The page for `s` at the court named `court_name`, shown to `user`, who gave `purpose` (carried
/// to the page's PDF link, so the PDF's consultation is logged with it too).
pub fn render(s: &BenchSummary, court_name: &str, user: &str, purpose: &str) -> String {
    crate::templates::page(
        "court_summary.html",
        &json!({
            "s": summary_view(s),
            "court_name": court_name,
            "user": user,
            "on_screen": true,
            "purpose_query": url_encode(purpose),
        }),
    )
}

/// The bench pack: every summary on its own printed page, in list order, for the sitting.
pub fn render_pack(summaries: &[BenchSummary], sitting: chrono::NaiveDate, court_name: &str, user: &str) -> String {
    crate::templates::page(
        "court_pack.html",
        &json!({
            "summaries": summaries.iter().map(summary_view).collect::<Vec<_>>(),
            "sitting": sitting.format("%d %B %Y").to_string(),
            "court_name": court_name,
            "user": user,
            "on_screen": false,
        }),
    )
}

/// One person's summary as the page shows it: who, flags, and the four parts with their items,
/// compliance, drug-test strip and what was withheld.
fn summary_view(s: &BenchSummary) -> Value {
    let parts: Vec<Value> = Part::ALL
        .iter()
        .map(|&part| {
            let compliance = (part == Part::Orders).then(|| {
                let c = &s.compliance;
                let rate = c.rate_percent.map(|r| format!(" ({r} % kept)")).unwrap_or_default();
                format!(
                    "Appointments {}: kept {}, missed {}{rate} · breaches {} · warrants issued {}, executed {}",
                    c.appointments, c.kept, c.missed, c.breaches, c.warrants_issued, c.warrants_executed
                )
            });
            let chart = (part == Part::Needs && !s.drug_tests.is_empty()).then(|| drug_test_chart(&s.drug_tests));
            let items = s.parts.get(&part).map(Vec::as_slice).unwrap_or_default();
            let withheld: Vec<String> = s
                .withheld
                .iter()
                .filter(|w| w.part == part)
                .map(|w| {
                    format!(
                        "{} withheld from this court: {} ({} update{}).",
                        capitalise(&w.what),
                        w.reason,
                        w.count,
                        if w.count == 1 { "" } else { "s" }
                    )
                })
                .collect();
            json!({
                "id": part_id(part),
                "title": part.title(),
                "compliance": compliance,
                "chart": chart,
                "items": items.iter().map(item_view).collect::<Vec<_>>(),
                "withheld": withheld,
            })
        })
        .collect();
    json!({
        "subject_id": s.subject_id,
        "name": s.name.as_deref().unwrap_or("(name not given)"),
        "born": s.date_of_birth.map(|d| d.format("%d %b %Y").to_string()).unwrap_or_else(|| "not given".into()),
        "identifiers": s.identifiers.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>(),
        "as_of": s.as_of.format("%d %b %Y %H:%M UTC").to_string(),
        "flags": s.flags,
        "parts": parts,
    })
}

fn part_id(part: Part) -> &'static str {
    match part {
        Part::Case => "case",
        Part::Record => "record",
        Part::Orders => "orders",
        Part::Needs => "needs",
    }
}

/// One row: when, from whom, the headline, and marks (history, fields not shared).
fn item_view(item: &Item) -> Value {
    let mut marks = Vec::new();
    if item.catch_up {
        marks.push("(c) history".to_string());
    }
    if !item.withheld_fields.is_empty() {
        marks.push(format!("not shared with this court: {}", item.withheld_fields.join(", ")));
    }
    json!({
        "when": item.occurred_at.format("%d %b %Y").to_string(),
        "from": if item.own { "This court".to_string() } else { item.source_name.clone() },
        "what": item.headline,
        "marks": marks.join(" · "),
    })
}

/// `s` as a URL query value.
fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The drug tests as a dated strip: one mark per test, red when positive, with its date.
fn drug_test_chart(tests: &[DrugTest]) -> String {
    let (Some(first), Some(last)) = (tests.iter().map(|t| t.date).min(), tests.iter().map(|t| t.date).max()) else {
        return String::new();
    };
    let span = (last - first).num_days().max(1) as f64;
    let (width, height) = (600.0, 60.0);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"Drug tests over time\" viewBox=\"0 0 {width} {height}\" width=\"100%\" \
         height=\"{height}\"><line x1=\"20\" y1=\"30\" x2=\"580\" y2=\"30\" stroke=\"#999\"/>"
    );
    for t in tests {
        let x = 20.0 + 560.0 * (t.date - first).num_days() as f64 / span;
        let (fill, label) = if t.positive { ("#c62828", "positive") } else { ("#2e7d32", "negative") };
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"30\" r=\"6\" fill=\"{fill}\"><title>{} {label}</title></circle>\
             <text x=\"{x:.1}\" y=\"52\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            t.date.format("%d %b"),
            t.date.format("%d %b")
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The court list page: each defendant with why they are listed and their flags, linked to their
/// bench summary (the purpose given as the sitting).
pub fn render_list(list: &CourtList, court_name: &str, user: &str) -> String {
    let purpose_query = url_encode(&format!("hearing {}", list.sitting));
    crate::templates::page(
        "court_list.html",
        &json!({
            "court_name": court_name,
            "user": user,
            "day": list.sitting.format("%A %d %B %Y").to_string(),
            "sitting": list.sitting,
            "prev": list.sitting.pred_opt().map(|d| d.to_string()).unwrap_or_default(),
            "next": list.sitting.succ_opt().map(|d| d.to_string()).unwrap_or_default(),
            "as_of": list.as_of.format("%d %b %Y %H:%M UTC").to_string(),
            "defendants": list.defendants.iter().map(|d| json!({
                "subject_id": d.subject_id,
                "name": d.name.as_deref().unwrap_or("(name not given)"),
                "born": d.date_of_birth.map(|b| b.format("%d %b %Y").to_string()).unwrap_or_default(),
                "pnc": d.identifiers.iter().find(|(s, _)| s == "PNC").map(|(_, v)| v.as_str()).unwrap_or(""),
                "why": d.why.join("; "),
                "flags": d.flags,
                "purpose_query": purpose_query,
            })).collect::<Vec<_>>(),
        }),
    )
}
