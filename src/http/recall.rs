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
use crate::html::esc;
use crate::http::auth::Right;
use crate::ops::recall::{RecallError, RecallReason, Recalled};

const PAGE_STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em;max-width:44em;color:#1f2933}\
label{display:block;margin:.8em 0 .2em}input,select{font:inherit;padding:.2em;width:100%}\
button{margin-top:1em;font:inherit;padding:.3em 1em;background:#b42318;color:#fff;border:0;border-radius:4px}";

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

fn page(said: &str) -> String {
    let said = if said.is_empty() { String::new() } else { format!("<p id=said><strong>{}</strong></p>", esc(said)) };
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Recall a disclosure</title><style>{PAGE_STYLE}</style>\
         </head><body><p><a href=\"/console\">← console</a></p><h1>Recall a disclosure</h1>{said}\
         <p>When a delivery should not have been made — it was unlawful, or sent in error — its recipient must be told \
         without delay (DPA 2018 s.38(5)(c)). The recipient is sent an erasure notice naming the delivery by its message \
         id; the recall is logged in the disclosure log and with your name, and the update is not sent to them again.</p>\
         <form method=post action=\"/console/recall\">\
         <label for=message_id>The delivery's message id</label><input id=message_id name=message_id required \
         placeholder=\"e.g. 5f0c…\">\
         <label for=reason>Why</label><select id=reason name=reason><option value=unlawful>Unlawful: no agreement allowed it</option>\
         <option value=mistaken>Mistaken: sent in error</option></select>\
         <label for=note>What was wrong (kept with the action, not sent)</label><input id=note name=note maxlength=500>\
         <button id=recall>Recall and notify the recipient</button></form></body></html>"
    )
}
