//! Who may do what, for every request: the shared state, the guard around every request
//! (failed-login throttling, headers that keep pages out of frames and caches), the check of
//! credentials and role, and the same-origin rule for actions.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use tracing::Instrument;

use crate::http::auth::{Caller, Right, Verified, basic_credentials};
use crate::http::errors::ApiError;
use crate::hub::Hub;

pub struct AppState {
    pub hub: Arc<Hub>,
    pub(super) verified: Verified,
    pub(super) throttle: crate::http::throttle::Throttle,
}

/// Around every request: failed-login throttling (per user name and per address) and the
/// headers every answer carries — never framed, never sniffed, and (but for health and the
/// public schemas) never cached, since pages and answers hold personal data.
pub(super) async fn guard(
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
    let path = req.uri().path();
    let cacheable = path == "/health"
        || path.starts_with("/schemas")
        || path.starts_with("/api/v1/schemas")
        || path == "/api/v1/openapi.json";
    let request_id = crate::http::errors::request_id(req.headers().get("x-request-id"));
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %path.chars().take(200).collect::<String>());
    let started = std::time::Instant::now();
    let now = started;
    // Only logins are throttled: a request without credentials is refused (401) in any case.
    let locked = user.as_deref().and_then(|u| state.throttle.locked(Some(u), address, now));
    let mut res = if let Some(wait) = locked {
        span.in_scope(|| tracing::warn!(user = ?user, ?address, "refused: too many failed logins"));
        let mut res = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed logins: wait and try again")
            .with_details(serde_json::json!({"retry_after_seconds": wait.as_secs().max(1)}))
            .into_response();
        if let Ok(v) = header::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    } else {
        let res = crate::http::errors::uniform(next.run(req).instrument(span.clone()).await).await;
        if let Some(user) = &user {
            if res.status() == StatusCode::UNAUTHORIZED {
                state.throttle.failed(user, address, now);
            } else {
                state.throttle.succeeded(user);
            }
        }
        res
    };
    span.in_scope(|| {
        let status = res.status().as_u16();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, ms, "answered");
        } else {
            tracing::debug!(status, ms, "answered");
        }
    });
    let headers = res.headers_mut();
    if let Ok(id) = header::HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", id);
    }
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
            Refused::Unauthorized => {
                let mut res =
                    ApiError::new(StatusCode::UNAUTHORIZED, "credentials required (HTTP Basic)").into_response();
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"tracker\", charset=\"UTF-8\""),
                );
                res
            }
            Refused::Forbidden(why) => ApiError::forbidden(why).into_response(),
        }
    }
}

/// The caller, if their credentials are good and their role has `right`.
pub(super) fn authorize(state: &AppState, headers: &HeaderMap, right: Right) -> Result<Caller, Refused> {
    let Some((user, password)) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(basic_credentials)
    else {
        return Err(Refused::Unauthorized);
    };
    let Some((role, upgrade)) = state.verified.check(&state.hub.settings.auth.users, &user, &password) else {
        tracing::warn!(user = ?user, "refused: bad credentials");
        return Err(Refused::Unauthorized);
    };
    if let Some(upgrade) = upgrade {
        keep_upgrade(state, upgrade);
    }
    if !right.allowed(role) {
        tracing::warn!(user = ?user, role = role.as_str(), ?right, "refused: role lacks the right");
        return Err(Refused::Forbidden(format!("{user} ({}) may not do this", role.as_str())));
    }
    Ok(Caller { user, role })
}

/// Keeps a rehash of a configured hash in the earlier format, so later processes check against
/// it, and says the configuration should be updated.
fn keep_upgrade(state: &AppState, upgrade: super::auth::Upgrade) {
    tracing::warn!(
        user = %upgrade.user,
        "this user's configured password hash is in the earlier PBKDF2 format: rehashed with Argon2id and kept in \
         the store; replace it in the configuration with the output of `tracker auth hash`"
    );
    let pool = state.hub.pool.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::store::credentials::keep(&pool, &upgrade.key, &upgrade.hash).await {
            tracing::warn!(user = %upgrade.user, "the rehashed password was not kept (the old hash still works): {e}");
        }
    });
}

/// Actions come from our own pages: a cross-site form post is refused.
pub(super) fn same_origin(headers: &HeaderMap) -> Result<(), Refused> {
    // Browsers say where a request came from in Sec-Fetch-Site even when they send no Origin.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(Refused::Forbidden("cross-site request refused".into()));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) if origin.split("://").nth(1) != Some(host) => {
            Err(Refused::Forbidden("cross-site request refused".into()))
        }
        _ => Ok(()),
    }
}

pub(super) fn failure(e: anyhow::Error) -> Response {
    ApiError::internal(&e).into_response()
}
