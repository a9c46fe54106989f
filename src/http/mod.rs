//! The hub's HTTP interface (inside `tracker run`). `/health` answers anyone; everything else
//! needs credentials and a role with the right: `/ready` and `/metrics` (operator, auditor,
//! analyst), `/schemas/{fingerprint}` (any role), the console and its JSON API (operator,
//! auditor), and actions — replay, purge, identity decisions — (operator only, recorded with who
//! did it).
pub mod auth;
pub mod console;
pub mod metrics;
pub mod throttle;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::auth::{Caller, Right, Verified, basic_credentials};
use crate::hub::Hub;

pub struct AppState {
    pub hub: Arc<Hub>,
    verified: Verified,
    throttle: crate::http::throttle::Throttle,
}

pub fn router(hub: Arc<Hub>) -> Router {
    let state = Arc::new(AppState { hub, verified: Verified::default(), throttle: Default::default() });
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/schemas", get(schemas))
        .route("/schemas/{fingerprint}", get(schema))
        .route("/reports", get(reports_list))
        .route("/reports/{name}", get(report))
        .route("/console", get(console))
        .route("/api/status", get(api_status))
        .route("/api/deadletters", get(api_deadletters))
        .route("/api/deadletters/{id}", get(api_deadletter))
        .route("/api/identity/conflicts", get(api_conflicts))
        .route("/console/deadletters/{id}/replay", post(replay))
        .route("/console/deadletters/{id}/purge", post(purge))
        .route("/console/identity/{id}/link", post(link))
        .route("/console/identity/{id}/apart", post(apart))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Around every request: failed-login throttling (per user name and per address) and the
/// headers every answer carries — never framed, never sniffed, and (but for health and the
/// public schemas) never cached, since pages and answers hold personal data.
async fn guard(
    State(state): State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let address = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let user = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .map(|(user, _)| user);
    let cacheable = req.uri().path() == "/health" || req.uri().path().starts_with("/schemas");
    let now = std::time::Instant::now();
    // Only logins are throttled: a request without credentials is refused (401) in any case.
    let locked = user.as_deref().and_then(|u| state.throttle.locked(Some(u), address, now));
    let mut res = if let Some(wait) = locked {
        tracing::warn!(user = ?user, ?address, "refused: too many failed logins");
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
            "too many failed logins: wait and try again\n",
        )
            .into_response()
    } else {
        let res = next.run(req).await;
        if let Some(user) = &user {
            if res.status() == StatusCode::UNAUTHORIZED {
                state.throttle.failed(user, address, now);
            } else {
                state.throttle.succeeded(user);
            }
        }
        res
    };
    let headers = res.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static("frame-ancestors 'none'"));
    // Not no-referrer: under it browsers send `Origin: null` on the console's own form posts.
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    res
}

/// Serves until `shutdown` turns true.
pub async fn serve(hub: Arc<Hub>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
    axum::serve(listener, router(hub).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

/// Why a request was refused.
pub enum Refused {
    /// No credentials, or wrong ones.
    Unauthorized,
    /// Good credentials, but the role lacks the right (or a cross-site action).
    Forbidden(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"tracker\", charset=\"UTF-8\"")],
                "credentials required\n",
            )
                .into_response(),
            Refused::Forbidden(why) => (StatusCode::FORBIDDEN, why).into_response(),
        }
    }
}

/// The caller, if their credentials are good and their role has `right`.
fn authorize(state: &AppState, headers: &HeaderMap, right: Right) -> Result<Caller, Refused> {
    let Some((user, password)) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(basic_credentials)
    else {
        return Err(Refused::Unauthorized);
    };
    let Some(role) = state.verified.check(&state.hub.settings.auth.users, &user, &password) else {
        tracing::warn!(user = ?user, "refused: bad credentials");
        return Err(Refused::Unauthorized);
    };
    if !right.allowed(role) {
        tracing::warn!(user = ?user, role = role.as_str(), ?right, "refused: role lacks the right");
        return Err(Refused::Forbidden(format!("{user} ({}) may not do this\n", role.as_str())));
    }
    Ok(Caller { user, role })
}

/// Actions come from our own pages: a cross-site form post is refused.
fn same_origin(headers: &HeaderMap) -> Result<(), Refused> {
    // Browsers say where a request came from in Sec-Fetch-Site even when they send no Origin.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(Refused::Forbidden("cross-site request refused\n".into()));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) if origin.split("://").nth(1) != Some(host) => {
            Err(Refused::Forbidden("cross-site request refused\n".into()))
        }
        _ => Ok(()),
    }
}

async fn health() -> &'static str {
    "ok\n"
}

/// Ready when the database answers, the broker accepts a connection, every agency's queue has
/// its consumer and the publisher is connected; otherwise 503 with what is missing.
async fn ready(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    use std::sync::atomic::Ordering;
    if let Err(r) = authorize(&state, &headers, Right::ReadMetrics) {
        return r.into_response();
    }
    let hub = &state.hub;
    let mut missing = Vec::new();
    if sqlx::query("SELECT 1").execute(&hub.pool).await.is_err() {
        missing.push("database unreachable".to_string());
    }
    match crate::broker::connect(&hub.settings.broker.url).await {
        Ok(conn) => {
            crate::broker::close(&conn, "ready check").await;
        }
        Err(e) => missing.push(format!("broker unreachable: {e}")),
    }
    let attached = hub.stats.consumers_attached.load(Ordering::SeqCst);
    if attached < hub.settings.agencies.len() {
        missing.push(format!("{attached} of {} inbound consumers attached", hub.settings.agencies.len()));
    }
    if !hub.stats.publisher_connected.load(Ordering::SeqCst) {
        missing.push("outbox publisher not connected".into());
    }
    if missing.is_empty() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", missing.join("; "))).into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadMetrics) {
        return r.into_response();
    }
    match crate::http::metrics::render(&state.hub).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("metrics unavailable: {e}\n")).into_response(),
    }
}

/// The fingerprints this hub writes with.
async fn schemas(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadSchemas) {
        return r.into_response();
    }
    let fp = state.hub.schemas.fingerprint_hex();
    Json(serde_json::json!({"tracker.v1.Update": {"fingerprint": fp, "url": format!("/schemas/{fp}")}})).into_response()
}

/// The writer schema (every named type inline) for a fingerprint, in hex as written after
/// `C3 01` or byte-reversed.
async fn schema(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(fingerprint): Path<String>) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadSchemas) {
        return r.into_response();
    }
    let schemas = state.hub.schemas;
    let ours = schemas.fingerprint_hex();
    let mut reversed = schemas.fingerprint;
    reversed.reverse();
    let wanted = fingerprint.to_ascii_lowercase();
    if wanted == ours || wanted == hex::encode(reversed) {
        ([(header::CONTENT_TYPE, "application/json")], schemas.envelope_json.to_string()).into_response()
    } else {
        (StatusCode::NOT_FOUND, format!("no schema with fingerprint {fingerprint}; this hub writes {ours}\n"))
            .into_response()
    }
}

async fn reports_list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ReadReports) {
        return r.into_response();
    }
    Json(
        crate::reports::REPORTS
            .iter()
            .map(|r| {
                serde_json::json!({"number": r.number, "name": r.name, "title": r.title, "definition": r.definition,
                                        "url": format!("/reports/{}", r.name)})
            })
            .collect::<Vec<_>>(),
    )
    .into_response()
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    court: Option<String>,
    agency: Option<String>,
    format: Option<crate::reports::render::Format>,
    /// The records behind the figures: auditors only.
    #[serde(default)]
    detail: bool,
}

async fn report(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Response {
    use crate::reports::render::{Format, render};
    let right = if q.detail { Right::ReadDetail } else { Right::ReadReports };
    if let Err(r) = authorize(&state, &headers, right) {
        return r.into_response();
    }
    let format = q.format.unwrap_or(Format::Html);
    let params = crate::reports::Params { from: q.from, to: q.to, court: q.court, agency: q.agency };
    let result = if q.detail {
        crate::reports::detail(&state.hub.pool, &name, params).await
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
            ([(header::CONTENT_TYPE, content_type)], render(&report, format)).into_response()
        }
        Err(e @ crate::reports::ReportError::Unknown(_)) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
        Err(e @ crate::reports::ReportError::Period { .. }) => {
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Err(e) => failure(e.into()),
    }
}

fn failure(e: anyhow::Error) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}\n")).into_response()
}

async fn console(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let caller = match authorize(&state, &headers, Right::ViewConsole) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match crate::http::console::page(&state.hub, &caller).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => failure(e),
    }
}

async fn api_status(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
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
struct PageQuery {
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
async fn api_deadletters(
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
                .then(|| list.last().map(|d| format!("</api/deadletters?after={}&limit={limit}>; rel=\"next\"", d.id)))
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

async fn api_deadletter(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ViewConsole) {
        return r.into_response();
    }
    match crate::ops::deadletters::show(&state.hub, id).await {
        Ok(text) => text.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, format!("{e:#}\n")).into_response(),
    }
}

async fn api_conflicts(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Right::ViewConsole) {
        return r.into_response();
    }
    match crate::ops::identity::list(&state.hub, false).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => failure(e),
    }
}

/// Runs an operator action, then returns to the console.
async fn act<F, Fut>(state: &AppState, headers: &HeaderMap, action: F) -> Response
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
        Err(e) => failure(e),
    }
}

async fn replay(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        let results = crate::ops::deadletters::replay(&hub, &[id], &by).await?;
        Ok(format!("replayed dead letter {id}: {results:?}"))
    })
    .await
}

async fn purge(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        crate::ops::deadletters::purge(&hub, &[id], false, &by).await?;
        Ok(format!("purged dead letter {id}"))
    })
    .await
}

async fn link(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        let subject = crate::ops::identity::decide(&hub, id, crate::ops::identity::Decision::Link, &by).await?;
        Ok(format!("conflict {id} linked as subject {subject}"))
    })
    .await
}

async fn apart(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let hub = state.hub.clone();
    act(&state, &headers, |by| async move {
        let subject = crate::ops::identity::decide(&hub, id, crate::ops::identity::Decision::KeepApart, &by).await?;
        Ok(format!("conflict {id} kept apart; record to subject {subject}"))
    })
    .await
}
