//! Report formats: an aligned table for a terminal, CSV, JSON, and an HTML page a court manager
//! would be glad to receive — the definition, the table, and a bar chart (SVG) where a picture
//! says more than numbers.
use std::fmt::Write as _;

use super::Report;
use super::catalogue::{Chart, find};
use crate::html::esc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

/// "court X, agency Y" — what the report was narrowed to, if anything.
fn scope(r: &Report) -> String {
    [r.params.court.as_ref().map(|c| format!("court {c}")), r.params.agency.as_ref().map(|a| format!("agency {a}"))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

fn header(r: &Report) -> String {
    let scope = scope(r);
    format!(
        "Report {} {} — {}\n{}\nPeriod {} to {}{}",
        r.number,
        r.name,
        r.title,
        r.definition,
        r.params.from,
        r.params.to,
        if scope.is_empty() { String::new() } else { format!("; {scope}") }
    )
}

pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Table => table(r),
        Format::Csv => csv(r),
        Format::Json => serde_json::to_string_pretty(r).unwrap_or_default() + "\n",
        Format::Html => html(r),
    }
}

fn table(r: &Report) -> String {
    let mut out = header(r) + "\n\n";
    if r.rows.is_empty() {
        out.push_str("(nothing in this period)\n");
        return out;
    }
    let widths: Vec<usize> = (0..r.columns.len())
        .map(|i| r.rows.iter().map(|row| row[i].chars().count()).chain([r.columns[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    out.push_str(&line(&r.columns));
    out.push('\n');
    for row in &r.rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// One CSV cell. Text a spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`, tab
/// or carriage return; a name or reason from an agency's feed may) is prefixed with `'` so it
/// shows as text; numbers, negative ones included, are left as they are.
fn csv_cell(c: &str) -> std::borrow::Cow<'_, str> {
    // A lone sign ("-" for "none") is text in every spreadsheet; a number stays a number.
    let formula = c.len() > 1 && c.starts_with(['=', '+', '-', '@', '\t', '\r']) && c.parse::<f64>().is_err();
    if formula { format!("'{c}").into() } else { c.into() }
}

/// RFC 4180 CSV through the csv crate: the header row first, then the rows, CRLF line ends,
/// fields quoted where they hold a comma, quote, CR or LF. What the report is and its period
/// are not in the file (a reader would take them for the header): they are in the file name
/// (`file_name`) and the JSON sidecar (`metadata`).
fn csv(r: &Report) -> String {
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    let rows = std::iter::once(&r.columns).chain(&r.rows);
    for row in rows {
        if w.write_record(row.iter().map(|c| csv_cell(c).into_owned())).is_err() {
            break;
        }
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The name a report's file is saved under: number, name, period and scope, e.g.
/// `report-02-charge-to-first-hearing_2026-01-01_2026-12-31.csv`.
pub fn file_name(r: &Report, format: Format) -> String {
    let scope: String = [r.params.court.as_deref(), r.params.agency.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| format!("_{}", s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>()))
        .collect();
    let extension = match format {
        Format::Table => "txt",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Html => "html",
    };
    format!("report-{:02}-{}_{}_{}{scope}.{extension}", r.number, r.name, r.params.from, r.params.to)
}

/// What a CSV file holds, as its sidecar: the report, its definition, period and scope, and
/// its columns.
pub fn metadata(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "number": r.number,
        "name": r.name,
        "title": r.title,
        "definition": r.definition,
        "from": r.params.from,
        "to": r.params.to,
        "court": r.params.court,
        "agency": r.params.agency,
        "columns": r.columns,
        "rows": r.rows.len(),
    })
}

/// A horizontal bar chart of the column the report declares (`Chart::Bars`), each bar labelled
/// by the report's label columns and its value; none for a report that declares no chart or
/// whose declared columns it does not have. A value that is not a number draws no bar.
pub fn bar_chart(r: &Report) -> Option<String> {
    let Chart::Bars { value, labels } = find(r.name)?.chart else { return None };
    let column = |name: &str| r.columns.iter().position(|c| c == name);
    let value_col = column(value)?;
    let label_cols: Vec<usize> = labels.iter().map(|l| column(l)).collect::<Option<_>>()?;
    let bars: Vec<(String, f64)> = r
        .rows
        .iter()
        .filter_map(|row| {
            let label = label_cols.iter().map(|&i| row[i].clone()).collect::<Vec<_>>().join(" · ");
            Some((label, row[value_col].parse::<f64>().ok()?))
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9);
    let (label_w, bar_w, row_h) = (260.0, 420.0, 26.0);
    let height = row_h * bars.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{height}\" font-family=\"system-ui,sans-serif\" font-size=\"13\">",
        esc(&format!("{} by {}", value.replace('_', " "), labels.join(", ").replace('_', " "))),
        label_w + bar_w + 80.0
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10.0 + i as f64 * row_h;
        let w = (v / max * bar_w).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#1d2733\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{w:.1}\" height=\"18\" rx=\"3\" fill=\"#457b9d\"><title>{}</title></rect><text x=\"{}\" y=\"{}\" fill=\"#1d2733\">{}</text>",
            label_w - 8.0,
            y + 14.0,
            esc(label),
            label_w,
            y,
            esc(&format!("{label}: {v}")),
            label_w + w + 6.0,
            y + 14.0,
            esc(&v.to_string())
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{label_w}\" y=\"{}\" fill=\"#7b8794\">{}</text></svg>",
        height - 4.0,
        esc(&r.columns[value_col])
    );
    Some(svg)
}

/// The report as a page (`templates/report.html`): its definition, period and scope, its chart
/// and its table, numbers right-aligned.
fn html(r: &Report) -> String {
    #[derive(serde::Serialize)]
    struct Cell<'a> {
        text: &'a str,
        number: bool,
    }
    let rows: Vec<Vec<Cell>> = r
        .rows
        .iter()
        .map(|row| row.iter().map(|c| Cell { text: c, number: c.parse::<f64>().is_ok() }).collect())
        .collect();
    let view = serde_json::json!({
        "number": r.number,
        "title": r.title,
        "definition": r.definition,
        "from": r.params.from,
        "to": r.params.to,
        "scope": scope(r),
        "chart": bar_chart(r),
        "columns": r.columns.iter().map(|c| c.replace('_', " ")).collect::<Vec<_>>(),
        "rows": rows,
    });
    crate::templates::page("report.html", &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_cannot_carry_spreadsheet_formulas() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-12.5"), "-12.5");
        assert_eq!(csv_cell("O'HARA"), "O'HARA");
        assert_eq!(csv_cell("-"), "-", "a lone dash is no formula");
    }

    #[test]
    fn csv_is_rfc_4180_with_the_header_first() {
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let report = Report {
            number: 2,
            name: "charge-to-first-hearing",
            title: "t",
            definition: "d",
            params: super::super::Params { from: day("2026-01-01"), to: day("2026-12-31"), court: None, agency: None },
            columns: vec!["court".into(), "note".into()],
            rows: vec![vec!["B05LV00".into(), "+1,2".into()], vec!["B13BD00".into(), "a\rb \"q\"".into()]],
        };
        assert_eq!(csv(&report), "court,note\r\nB05LV00,\"'+1,2\"\r\nB13BD00,\"a\rb \"\"q\"\"\"\r\n");
        assert_eq!(file_name(&report, Format::Csv), "report-02-charge-to-first-hearing_2026-01-01_2026-12-31.csv");
    }
}
