//! Recalling a disclosure made in error (DPA 2018 s.38(5)(c): "if … it emerges that … the
//! transmission was unlawful, the recipient must be notified without delay"). An operator or an
//! auditor names one delivery by its message id and says why (unlawful or mistaken); in one
//! transaction the hub queues an erasure notice to its recipient naming that message id, logs the
//! recall in the disclosure log (stage `recalled`, which also keeps the pair from being decided
//! again by later records), and records who did it. A delivery not yet sent is stopped as well.
//! Recalling the same delivery again changes nothing.
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::sharing::log::{self, LogEntry, Stage};
use crate::store;

/// Why a disclosure is recalled: the notice's reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecallReason {
    /// The transmission was not lawful (no agreement or basis should have allowed it).
    Unlawful,
    /// It was sent by mistake (a wrong mapping, a wrong person, a misconfigured agreement).
    Mistaken,
}

impl RecallReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RecallReason::Unlawful => "unlawful",
            RecallReason::Mistaken => "mistaken",
        }
    }
}

/// What a recall did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Recalled {
    /// The delivery had gone: an erasure notice is queued for its recipient.
    NoticeQueued { recipient: String, notice_message_id: Uuid },
    /// The delivery had not gone yet: it is stopped (and a notice queued, sent only if it went
    /// in the meantime).
    Stopped { recipient: String, notice_message_id: Uuid },
    /// It was recalled before: nothing more is done.
    AlreadyRecalled,
}

#[derive(Debug, thiserror::Error)]
pub enum RecallError {
    #[error("no delivery has message id {0} (a notice cannot be recalled, only a delivery)")]
    NotFound(Uuid),
    #[error("delivery {0} was never sent (withheld at publish): there is nothing to recall")]
    NeverSent(Uuid),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Recalls the delivery `message_id` for `reason`, by `by`, with a free-text `note` (kept with the
/// operator action, never sent).
pub async fn recall(
    pool: &PgPool,
    message_id: Uuid,
    reason: RecallReason,
    by: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Recalled, RecallError> {
    let mut tx = pool.begin().await?;
    let Some(delivery) = store::outbox::delivery_for_update(&mut tx, message_id).await? else {
        return Err(RecallError::NotFound(message_id));
    };
    if delivery.withheld_at_publish.is_some() && delivery.published_at.is_none() {
        return Err(RecallError::NeverSent(message_id));
    }
    let notice_message_id = crate::sharing::erasure_message_id(message_id);
    let target = store::outbox::NoticeTarget {
        event_id: delivery.event_id,
        recipient: &delivery.recipient,
        subject_id: delivery.subject_id,
        agreement: &delivery.agreement,
        purpose: &delivery.purpose,
        legal_basis: &delivery.legal_basis,
        message_id,
    };
    let queued =
        store::outbox::queue_notice(&mut tx, "erasure", &target, notice_message_id, reason.as_str(), now).await?;
    if !queued {
        return Ok(Recalled::AlreadyRecalled);
    }
    let sent = delivery.published_at.is_some();
    if !sent {
        store::outbox::mark_withheld_at_publish(&mut tx, delivery.id, now).await?;
    }
    let entry = LogEntry {
        event_id: delivery.event_id,
        subject_id: delivery.subject_id,
        recipient: delivery.recipient.clone(),
        stage: Stage::Recalled.as_str().into(),
        decision: "withhold".into(),
        reason: Some(reason.as_str().into()),
        agreement: Some(delivery.agreement.clone()),
        purpose: Some(delivery.purpose.clone()),
        legal_basis: Some(delivery.legal_basis.clone()),
        event_type: delivery.event_type.clone(),
        data_class: delivery.data_class.clone(),
        fields_disclosed: Vec::new(),
        fields_withheld: Vec::new(),
        catch_up: delivery.catch_up,
        logged_at: now,
    };
    log::append(&mut tx, &[entry]).await?;
    let note: String = note.chars().filter(|c| !c.is_control()).take(500).collect();
    let target = format!("delivery {message_id} to {} ({}): {note}", delivery.recipient, reason.as_str());
    store::operator_actions::record(&mut tx, by, "recall", &target, now).await?;
    tx.commit().await?;
    tracing::info!(%message_id, recipient = %delivery.recipient, reason = reason.as_str(), by, "disclosure recalled");
    let recipient = delivery.recipient;
    Ok(if sent {
        Recalled::NoticeQueued { recipient, notice_message_id }
    } else {
        Recalled::Stopped { recipient, notice_message_id }
    })
}
