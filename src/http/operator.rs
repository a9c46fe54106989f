//! The operator's side: the console page, its JSON API, and its actions (replay, purge,
//! identity decisions), each recorded with who did it.
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::access::{AppState, authorize, failure, same_origin};
use super::errors::ApiError;
use crate::http::auth::Right;

pub(super) async fn console(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let caller = match authorize(&state, &headers, Right::ViewConsole) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match crate::http::console::page(&state.hub, &caller).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => failure(e),
    }
}

pub(super) async fn api_status(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ViewConsole) {
        return r.into_response();
    }
    let hub = &state.hub;
    let status = crate::ops::status::gather(&hub.settings, &hub.pool).await;
    let alerts = crate::ops::alerts::evaluate(&hub.settings, &hub.pool, hub.clock.now()).await;
    match (status, alerts) {
        (Ok(status), Ok(alerts)) => Json(serde_json::json!({"status": status, "alerts": alerts})).into_response(),
        (Err(e), _) | (_, Err(e)) => failure(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_page")]
    limit: i64,
}

fn default_page() -> i64 {
    100
}

/// A page of open dead letters (`?after=ID&limit=N`, at most 500); a `Link: rel="next"` header
/// names the next page when there is one.
pub(super) async fn api_deadletters(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ViewConsole) {
        return r.into_response();
    }
    let limit = q.limit.clamp(1, crate::ops::deadletters::PAGE_LIMIT);
    match crate::ops::deadletters::page(&state.hub, q.after, limit).await {
        Ok(list) => {
            let next = (list.len() as i64 == limit)
                .then(|| {
                    list.last().map(|d| format!("</api/v1/deadletters?after={}&limit={limit}>; rel=\"next\"", d.id))
                })
                .flatten();
            let mut res = Json(list).into_response();
            if let Some(next) = next.and_then(|n| header::HeaderValue::from_str(&n).ok()) {
                res.headers_mut().insert(header::LINK, next);
            }
            res
        }
        Err(e) => failure(e),
    }
}

/// One dead letter as JSON: the refusal, how its message arrived, and where its bytes are.
pub(super) async fn api_deadletter(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    match dead_letter(&state, &headers, id).await {
        Ok((detail, _)) => {
            let mut body = serde_json::to_value(&detail).unwrap_or_default();
            body["payload_url"] = format!("/api/v1/deadletters/{id}/payload").into();
            Json(body).into_response()
        }
        Err(refused) => refused,
    }
}

/// The refused bytes of a dead letter, exactly as they arrived (never rendered: they may be
/// anything an agency's system sent).
pub(super) async fn api_deadletter_payload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    match dead_letter(&state, &headers, id).await {
        Ok((detail, raw)) => {
            let file = format!("attachment; filename=\"dead-letter-{id}-{}.bin\"", detail.row.connector);
            ([(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::CONTENT_DISPOSITION, file)], raw)
                .into_response()
        }
        Err(refused) => refused,
    }
}

/// A dead letter and its bytes, for a caller who may see it; otherwise the refusal.
async fn dead_letter(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
) -> Result<(crate::ops::deadletters::DeadLetterDetail, Vec<u8>), Response> {
    authorize(state, headers, Right::ViewConsole).map_err(IntoResponse::into_response)?;
    match crate::ops::deadletters::detail(&state.hub, id).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(no_dead_letter(id)),
        Err(e) => Err(failure(e)),
    }
}

fn no_dead_letter(id: i64) -> Response {
    ApiError::not_found(format!("no dead letter {id}")).with_details(serde_json::json!({"id": id})).into_response()
}

pub(super) async fn api_conflicts(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ViewConsole) {
        return r.into_response();
    }
    match crate::ops::identity::list(&state.hub, false).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => failure(e),
    }
}

/// Runs an operator action, then returns to the console.
pub(super) async fn act<F, Fut>(state: &AppState, headers: &HeaderMap, action: F) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    let caller = match authorize(state, headers, Right::Act).and_then(|c| same_origin(headers).map(|()| c)) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match action(caller.user.clone()).await {
        Ok(done) => {
            tracing::info!(user = %caller.user, "{done}");
            Redirect::to("/console").into_response()
        }
        Err(e) if is_infrastructure(&e) => failure(e),
        // The rest are the request itself (no such dead letter, a conflict already decided):
        // nothing was changed, and the caller is told why.
        Err(e) => ApiError::new(axum::http::StatusCode::CONFLICT, format!("{e:#}")).into_response(),
    }
}

/// Whether an action failed because the store or broker did (rather than because of what
/// was asked).
fn is_infrastructure(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<sqlx::Error>() || c.is::<lapin::Error>() || c.is::<std::io::Error>())
}

pub(super) async fn replay(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        let results = crate::ops::deadletters::replay(&hub, &[id], &by).await?;
        Ok(format!("replayed dead letter {id}: {results:?}"))
    })
    .await
}

pub(super) async fn purge(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        crate::ops::deadletters::purge(&hub, &[id], false, &by).await?;
        Ok(format!("purged dead letter {id}"))
    })
    .await
}

pub(super) async fn link(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        let subject = crate::ops::identity::decide(&hub, id, crate::ops::identity::Decision::Link, &by).await?;
        Ok(format!("conflict {id} linked as subject {subject}"))
    })
    .await
}

pub(super) async fn apart(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        let subject = crate::ops::identity::decide(&hub, id, crate::ops::identity::Decision::KeepApart, &by).await?;
        Ok(format!("conflict {id} kept apart; record to subject {subject}"))
    })
    .await
}
