//! The court's pages: a court user's bench summary of one of their court's defendants, as a page
//! (printable on one A4 sheet) and as JSON for a court's own case system. Each view, and each
//! refusal, is logged as a consultation (who, court, person, purpose).
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::access::{AppState, Refused, authorize, failure};
use super::errors::ApiError;
use crate::court::pdf::PdfError;
use crate::court::{self, CourtUser, View};
use crate::http::auth::Right;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Purpose {
    /// The purpose the user gives, or the hearing the view is for.
    #[serde(default)]
    purpose: String,
}

/// The caller as a court user, if their credentials are good and they are one.
fn court_user(state: &AppState, headers: &HeaderMap) -> Result<CourtUser, Refused> {
    let caller = authorize(state, headers, Right::ViewCourt)?;
    let court = state.hub.settings.auth.users.get(&caller.user).and_then(|u| u.court.clone());
    match court {
        Some(court) => Ok(CourtUser { user: caller.user, court }),
        // The settings check at start refuses a court user without a court; kept as a refusal.
        None => Err(Refused::Forbidden("no court is configured for this user".into())),
    }
}

fn refused(viewer: &CourtUser) -> Response {
    ApiError::forbidden(format!(
        "not a defendant of {} that this court has records of; the attempt is logged",
        viewer.court
    ))
    .with_details(serde_json::json!({"court": viewer.court}))
    .into_response()
}

pub(super) async fn summary_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(subject): Path<Uuid>,
    Query(q): Query<Purpose>,
) -> Response {
    summary(&state, &headers, subject, &q.purpose, View::Summary).await
}

pub(super) async fn summary_json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(subject): Path<Uuid>,
    Query(q): Query<Purpose>,
) -> Response {
    summary(&state, &headers, subject, &q.purpose, View::SummaryJson).await
}

pub(super) async fn summary_pdf(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(subject): Path<Uuid>,
    Query(q): Query<Purpose>,
) -> Response {
    summary(&state, &headers, subject, &q.purpose, View::SummaryPdf).await
}

/// The bench summary as a page, JSON or PDF (`view`), or the refusal.
async fn summary(state: &AppState, headers: &HeaderMap, subject: Uuid, purpose: &str, view: View) -> Response {
    let viewer = match court_user(state, headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match court::bench_summary(&state.hub, &viewer, subject, purpose, view).await {
        Ok(Some(summary)) if view == View::SummaryJson => Json(summary).into_response(),
        Ok(Some(summary)) if view == View::SummaryPdf => {
            let page = court::page::render(&summary, &court_name(state, &viewer), &viewer.user, purpose);
            pdf(state, &page, &format!("bench-summary-{subject}.pdf")).await
        }
        Ok(Some(summary)) => {
            Html(court::page::render(&summary, &court_name(state, &viewer), &viewer.user, purpose)).into_response()
        }
        Ok(None) => refused(&viewer),
        Err(e) => failure(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sitting {
    /// The sitting day (YYYY-MM-DD); the hub's today when absent.
    date: Option<chrono::NaiveDate>,
}

/// A court user's start: today's list.
pub(super) async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match court_user(&state, &headers) {
        Ok(_) => Redirect::to("/court/list").into_response(),
        Err(r) => r.into_response(),
    }
}

pub(super) async fn list_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<Sitting>,
) -> Response {
    list(&state, &headers, q.date, View::List).await
}

pub(super) async fn list_json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<Sitting>,
) -> Response {
    list(&state, &headers, q.date, View::ListJson).await
}

/// The court list as a page or as JSON (`view`).
async fn list(state: &AppState, headers: &HeaderMap, date: Option<chrono::NaiveDate>, view: View) -> Response {
    let viewer = match court_user(state, headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match court::court_list(&state.hub, &viewer, date, view).await {
        Ok(list) if view == View::ListJson => Json(list).into_response(),
        Ok(list) => Html(court::page::render_list(&list, &court_name(state, &viewer), &viewer.user)).into_response(),
        Err(e) => failure(e),
    }
}

/// The bench pack of a sitting as one PDF: each defendant on the list on a page of their own.
pub(super) async fn pack_pdf(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<Sitting>,
) -> Response {
    let viewer = match court_user(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match court::bench_pack(&state.hub, &viewer, q.date).await {
        Ok((list, summaries)) => {
            let page = court::page::render_pack(&summaries, list.sitting, &court_name(&state, &viewer), &viewer.user);
            pdf(&state, &page, &format!("bench-pack-{}-{}.pdf", viewer.court, list.sitting)).await
        }
        Err(e) => failure(e),
    }
}

/// `page` printed to PDF, or why it could not be (503 when no browser is there or it is slow).
async fn pdf(state: &AppState, page: &str, filename: &str) -> Response {
    match court::pdf::print(&state.hub.settings.court, page).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (header::CONTENT_DISPOSITION, format!("inline; filename=\"{filename}\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e @ (PdfError::NoBrowser | PdfError::TimedOut(_))) => {
            tracing::warn!(error = %e, "PDF refused");
            ApiError::unavailable(e.to_string()).into_response()
        }
        Err(e) => failure(e.into()),
    }
}

fn court_name(state: &AppState, viewer: &CourtUser) -> String {
    state.hub.settings.agency(&viewer.court).map(|a| a.name.clone()).unwrap_or_else(|| viewer.court.clone())
}
