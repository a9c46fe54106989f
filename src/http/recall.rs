//! Recalling a disclosure from the console (operators and auditors): a page of its own (the
//! console refreshes itself, which would lose what is typed) with the delivery's message id, the
//! reason and a note; the post recalls it (`ops::recall`), recorded with who did it.
use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use uuid::Uuid;

use super::access::{AppState, authorize, failure, same_origin};
use crate::http::auth::Right;
use crate::ops::recall::{RecallError, RecallReason, Recalled};

pub(super) async fn form(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match authorize(&state, &headers, Right::Recall) {
        Ok(_) => Html(page("")).into_response(),
        Err(r) => r.into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct RecallForm {
    message_id: String,
    reason: RecallReason,
    #[serde(default)]
    note: String,
}

pub(super) async fn recall(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<RecallForm>,
) -> Response {
    let caller = match authorize(&state, &headers, Right::Recall).and_then(|c| same_origin(&headers).map(|()| c)) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let Ok(message_id) = f.message_id.trim().parse::<Uuid>() else {
        let said = format!("{:?} is not a message id (a UUID, as the recipient received it)", f.message_id);
        return (StatusCode::BAD_REQUEST, Html(page(&said))).into_response();
    };
    let hub = &state.hub;
    match crate::ops::recall::recall(&hub.pool, message_id, f.reason, &caller.user, &f.note, hub.clock.now()).await {
        Ok(done) => {
            hub.publisher_wakeup.notify_one();
            let said = match done {
                Recalled::NoticeQueued { recipient, notice_message_id } => {
                    format!("Recalled: an erasure notice ({notice_message_id}) is on its way to {recipient}.")
                }
                Recalled::Stopped { recipient, .. } => {
                    format!("Recalled before it was sent: the delivery to {recipient} is stopped.")
                }
                Recalled::AlreadyRecalled => "It was recalled before: nothing more is sent.".into(),
            };
            Html(page(&said)).into_response()
        }
        Err(e @ (RecallError::NotFound(_) | RecallError::NeverSent(_))) => {
            (StatusCode::NOT_FOUND, Html(page(&e.to_string()))).into_response()
        }
        Err(e) => failure(e.into()),
    }
}

/// The form, with what was done (or why not) above it (`templates/recall.html`).
fn page(said: &str) -> String {
    crate::templates::page("recall.html", &serde_json::json!({ "said": said }))
}
