//! The bench summary as a page: one A4 sheet when printed (print CSS), readable on screen. Every
//! value is escaped; nothing is shown that the summary does not hold.
use std::fmt::Write;

use super::list::CourtList;
use super::summary::{BenchSummary, DrugTest, Item, Part};
use crate::html::esc;

const STYLE: &str = "
body{font:14px/1.35 system-ui,sans-serif;margin:1.5em;color:#111;max-width:60em}
h1{font-size:1.3em;margin:0}h2{font-size:1.05em;margin:1em 0 .3em;border-bottom:1px solid #999}
.who{margin:.3em 0}.flags span{display:inline-block;background:#fde2e2;border:1px solid #d88;border-radius:3px;padding:0 .4em;margin:.1em .3em .1em 0}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:.1em .4em;border-bottom:1px solid #ddd}
th{font-weight:600}.when{white-space:nowrap;width:1%}.from{width:18%}.mark{color:#555;font-size:.85em}
.withheld{color:#733;font-style:italic;margin:.2em 0}.none{color:#666}footer{margin-top:1em;color:#555;font-size:.85em}
@page{size:A4;margin:10mm}
@media print{body{font-size:8.5pt;margin:0;max-width:none}h2{margin:.5em 0 .2em}td,th{padding:0 .3em}
.noprint{display:none}svg{max-height:28mm}}
";

/// The page for `s` at the court named `court_name`, shown to `user`, who gave `purpose` (carried
/// to the page's PDF link, so the PDF's consultation is logged with it too).
pub fn render(s: &BenchSummary, court_name: &str, user: &str, purpose: &str) -> String {
    let name = s.name.as_deref().unwrap_or("(name not given)");
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bench summary: {}</title><style>{STYLE}</style></head><body>",
        esc(name)
    );
    h.push_str(&summary_body(s, court_name));
    h.push_str(&summary_footer(court_name, user, true));
    let _ = write!(
        h,
        "<p class=\"noprint\"><a href=\"/court/people/{}/pdf?purpose={}\">This summary as PDF</a></p></body></html>",
        s.subject_id,
        crate::html::esc(&url_encode(purpose))
    );
    h
}

/// The bench pack: every summary on its own printed page, in list order, for the sitting.
pub fn render_pack(summaries: &[BenchSummary], sitting: chrono::NaiveDate, court_name: &str, user: &str) -> String {
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bench pack: {} {}</title>\
         <style>{STYLE}article{{break-after:page}}article:last-of-type{{break-after:auto}}</style></head><body>",
        esc(court_name),
        sitting.format("%d %B %Y")
    );
    if summaries.is_empty() {
        h.push_str("<p class=\"none\">No defendant this court has records of is listed for this day.</p>");
    }
    for s in summaries {
        h.push_str("<article>");
        h.push_str(&summary_body(s, court_name));
        h.push_str(&summary_footer(court_name, user, false));
        h.push_str("</article>");
    }
    h.push_str("</body></html>");
    h
}

/// One person's summary: the header (who, flags) and the four parts.
fn summary_body(s: &BenchSummary, court_name: &str) -> String {
    let mut h = String::new();
    let name = s.name.as_deref().unwrap_or("(name not given)");
    let _ = write!(h, "<header><h1>Bench summary — {}</h1>", esc(name));
    let dob = s.date_of_birth.map(|d| d.format("%d %b %Y").to_string()).unwrap_or_else(|| "not given".into());
    let ids: Vec<String> = s.identifiers.iter().map(|(k, v)| format!("{} {}", esc(k), esc(v))).collect();
    let _ = write!(
        h,
        "<p class=\"who\">Born {} · {} · for {} · as of {}</p>",
        esc(&dob),
        ids.join(" · "),
        esc(court_name),
        s.as_of.format("%d %b %Y %H:%M UTC")
    );
    if !s.flags.is_empty() {
        h.push_str("<p class=\"flags\">");
        for f in &s.flags {
            let _ = write!(h, "<span>{}</span>", esc(f));
        }
        h.push_str("</p>");
    }
    h.push_str("</header>");
    for part in Part::ALL {
        let _ = write!(h, "<section id=\"{}\"><h2>{}</h2>", part_id(part), part.title());
        if part == Part::Orders {
            let c = &s.compliance;
            let rate = c.rate_percent.map(|r| format!(" ({r} % kept)")).unwrap_or_default();
            let _ = write!(
                h,
                "<p>Appointments {}: kept {}, missed {}{rate} · breaches {} · warrants issued {}, executed {}</p>",
                c.appointments, c.kept, c.missed, c.breaches, c.warrants_issued, c.warrants_executed
            );
        }
        if part == Part::Needs && !s.drug_tests.is_empty() {
            h.push_str(&drug_test_chart(&s.drug_tests));
        }
        let items = s.parts.get(&part).map(Vec::as_slice).unwrap_or_default();
        if items.is_empty() {
            h.push_str("<p class=\"none\">Nothing this court has.</p>");
        } else {
            h.push_str("<table><tr><th>When</th><th>From</th><th>What</th></tr>");
            for item in items {
                h.push_str(&row(item));
            }
            h.push_str("</table>");
        }
        for w in s.withheld.iter().filter(|w| w.part == part) {
            let _ = write!(
                h,
                "<p class=\"withheld\">{} withheld from this court: {} ({} update{}).</p>",
                esc(&capitalise(&w.what)),
                esc(&w.reason),
                w.count,
                if w.count == 1 { "" } else { "s" }
            );
        }
        h.push_str("</section>");
    }
    h
}

fn summary_footer(court_name: &str, user: &str, on_screen: bool) -> String {
    format!(
        "<footer>Shown to {} for {}. Only what this court was sent and its own records; (c) marks history sent \
         when the court became involved. This view is recorded in the consultation log (DPA 2018 s.62).{}</footer>",
        esc(user),
        esc(court_name),
        if on_screen {
            "<span class=\"noprint\"> Print this page (or take its PDF) for the bench pack.</span>"
        } else {
            ""
        }
    )
}

fn part_id(part: Part) -> &'static str {
    match part {
        Part::Case => "case",
        Part::Record => "record",
        Part::Orders => "orders",
        Part::Needs => "needs",
    }
}

fn row(item: &Item) -> String {
    let mut marks = Vec::new();
    if item.catch_up {
        marks.push("(c) history".to_string());
    }

    if !item.withheld_fields.is_empty() {
        marks.push(format!("not shared with this court: {}", item.withheld_fields.join(", ")));
    }
    let marks = if marks.is_empty() {
        String::new()
    } else {
        format!(" <span class=\"mark\">{}</span>", esc(&marks.join(" · ")))
    };
    format!(
        "<tr><td class=\"when\">{}</td><td class=\"from\">{}</td><td>{}{marks}</td></tr>",
        item.occurred_at.format("%d %b %Y"),
        if item.own { "This court".to_string() } else { esc(&item.source_name) },
        esc(&item.headline)
    )
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
    let mut h = String::new();
    let day = list.sitting.format("%A %d %B %Y");
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Court list: {} {day}</title>\
         <style>{STYLE}</style></head><body><header><h1>Court list — {} — {day}</h1>",
        esc(court_name),
        esc(court_name)
    );
    let prev = list.sitting.pred_opt().map(|d| d.to_string()).unwrap_or_default();
    let next = list.sitting.succ_opt().map(|d| d.to_string()).unwrap_or_default();
    let _ = write!(
        h,
        "<p class=\"who\">{} defendant{} · as of {} <span class=\"noprint\">· <a href=\"?date={prev}\">previous day</a> · \
         <a href=\"?date={next}\">next day</a> · <a href=\"/court/list/pack.pdf?date={}\">bench pack (PDF)</a></span></p></header>",
        list.defendants.len(),
        if list.defendants.len() == 1 { "" } else { "s" },
        list.as_of.format("%d %b %Y %H:%M UTC"),
        list.sitting
    );
    if list.defendants.is_empty() {
        h.push_str("<p class=\"none\">No defendant this court has records of is listed for this day.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Defendant</th><th>Born</th><th>PNC</th><th>Listed because</th><th>At a glance</th></tr>",
        );
        for d in &list.defendants {
            let name = d.name.as_deref().unwrap_or("(name not given)");
            let pnc = d.identifiers.iter().find(|(s, _)| s == "PNC").map(|(_, v)| v.as_str()).unwrap_or("");
            let purpose = format!("hearing {}", list.sitting);
            let flags: String = d.flags.iter().map(|f| format!("<span>{}</span>", esc(f))).collect();
            let _ = write!(
                h,
                "<tr><td><a href=\"/court/people/{}?purpose={}\">{}</a></td><td class=\"when\">{}</td><td>{}</td>\
                 <td>{}</td><td class=\"flags\">{flags}</td></tr>",
                d.subject_id,
                url_encode(&purpose),
                esc(name),
                d.date_of_birth.map(|b| b.format("%d %b %Y").to_string()).unwrap_or_default(),
                esc(pnc),
                esc(&d.why.join("; "))
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(
        h,
        "<footer>Shown to {} for {}. Found from this court's results and what it was sent; this view is recorded \
         in the consultation log (DPA 2018 s.62).</footer></body></html>",
        esc(user),
        esc(court_name)
    );
    h
}
