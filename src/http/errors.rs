//! Every refusal the HTTP interface gives, in one JSON shape: `{"code", "message", "details"}`
//! (described in the OpenAPI document as `Error`). Handlers build [`ApiError`]; the guard around
//! every request also rewrites what the framework answers on its own (a path or query that does
//! not parse, a method the route does not take, a body too large) into the same shape, so a
//! client never has to read plain text. Internal failures are logged with the request's id and
//! answered without their cause (which may name tables, hosts or data).
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A refusal: its status, a stable machine-readable code, a sentence for a person, and what
/// else helps (the path, what is missing, the request id).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code_for(status), message: message.into(), details: json!({}) }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// A failure inside the hub: the cause goes to the log (inside the request's span, so with
    /// its id); the caller is told only that it happened and which id to quote.
    pub fn internal(e: &anyhow::Error) -> ApiError {
        tracing::error!(error = format!("{e:#}"), "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the hub failed to answer; the cause is in its log under this response's x-request-id",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "message": self.message, "details": self.details});
        (self.status, Json(body)).into_response()
    }
}

/// The code for a status, when nothing more precise is said.
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        500 => "internal",
        503 => "unavailable",
        s if s >= 500 => "server_error",
        _ => "refused",
    }
}

/// The longest framework message read back when rewriting it (they are one line).
const FRAMEWORK_MESSAGE_LIMIT: usize = 4096;

/// An error answer not already JSON or a page (the framework's own plain-text rejections, or
/// an empty 405) rewritten into the one shape, its text kept as the message. Anything else is
/// returned as it was.
pub async fn uniform(res: Response) -> Response {
    let status = res.status();
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !(status.is_client_error() || status.is_server_error())
        || content_type.starts_with("application/json")
        || content_type.starts_with("text/html")
    {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, FRAMEWORK_MESSAGE_LIMIT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("refused").to_lowercase() } else { text };
    let mut rewritten = ApiError::new(status, message).into_response();
    // Keep what the refusal said in its headers (Allow, Retry-After, WWW-Authenticate).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

/// The request id a caller sent (`x-request-id`), if it is short and plain enough to log and
/// echo; otherwise a new one.
pub fn request_id(sent: Option<&HeaderValue>) -> String {
    sent.and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
