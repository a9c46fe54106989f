//! The report catalogue over HTTP: the list, and one report in any format.
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::access::{AppState, authorize, failure};
use super::errors::ApiError;
use crate::http::auth::Right;

/// The catalogue: each report's number, name, title, definition and where to run it.
pub(super) async fn reports_list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadReports) {
        return r.into_response();
    }
    Json(
        crate::reports::REPORTS
            .iter()
            .map(|r| {
                serde_json::json!({"number": r.number, "name": r.name, "title": r.title, "definition": r.definition,
                                        "url": format!("/api/v1/reports/{}", r.name),
                                        "page": format!("/reports/{}", r.name)})
            })
            .collect::<Vec<_>>(),
    )
    .into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    court: Option<String>,
    agency: Option<String>,
    format: Option<crate::reports::render::Format>,
    /// The records behind the figures: auditors only.
    #[serde(default)]
    detail: bool,
}

/// A report as a page (HTML unless `format` says otherwise).
pub(super) async fn report_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Response {
    report(&state, &headers, name, q, crate::reports::render::Format::Html).await
}

/// A report as data (JSON unless `format` says otherwise).
pub(super) async fn report_api(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Response {
    report(&state, &headers, name, q, crate::reports::render::Format::Json).await
}

async fn report(
    state: &AppState,
    headers: &HeaderMap,
    name: String,
    q: ReportQuery,
    default_format: crate::reports::render::Format,
) -> Response {
    use crate::reports::render::{Format, render};
    let right = if q.detail { Right::ReadDetail } else { Right::ReadReports };
    let caller = match authorize(state, headers, right) {
        Ok(caller) => caller,
        Err(r) => return r.into_response(),
    };
    let format = q.format.unwrap_or(default_format);
    let params = crate::reports::Params { from: q.from, to: q.to, court: q.court, agency: q.agency };
    let result = if q.detail {
        let looker = crate::consultations::Looker {
            viewer: &caller.user,
            role: caller.role.as_str(),
            purpose: "",
            at: state.hub.clock.now(),
        };
        crate::reports::detail(&state.hub.pool, &name, params, &looker).await
    } else {
        crate::reports::run(&state.hub.pool, &name, params).await
    };
    match result {
        Ok(report) => {
            let content_type = match format {
                Format::Table => "text/plain; charset=utf-8",
                Format::Csv => "text/csv; charset=utf-8",
                Format::Json => "application/json",
                Format::Html => "text/html; charset=utf-8",
            };
            // What the report is and its period travel in the file name (CSV holds only the table).
            let disposition = format!(
                "{}; filename=\"{}\"",
                if format == Format::Csv { "attachment" } else { "inline" },
                crate::reports::render::file_name(&report, format)
            );
            (
                [(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)],
                render(&report, format),
            )
                .into_response()
        }
        Err(e @ crate::reports::ReportError::Unknown(_)) => ApiError::not_found(e.to_string())
            .with_details(serde_json::json!({"catalogue": "/api/v1/reports"}))
            .into_response(),
        Err(e @ crate::reports::ReportError::Period { .. }) => ApiError::bad_request(e.to_string()).into_response(),
        Err(e) => failure(e.into()),
    }
}
