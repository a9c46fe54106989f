//! Confirmed publishing: every publish is persistent and mandatory and waits for the broker's
//! confirm; an unroutable message is an error, never a silent drop.
use std::path::Path;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};

use super::{BrokerError, Names};
use crate::store::dead_letters::DeadLetter;

/// A channel in confirm mode.
pub async fn confirm_channel(conn: &Connection) -> Result<Channel, BrokerError> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

/// Publishes and waits for the confirm; a return (unroutable) or nack is an error.
pub async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    props: BasicProperties,
) -> Result<(), BrokerError> {
    let opts = BasicPublishOptions { mandatory: true, ..Default::default() };
    let pending = ch.basic_publish(exchange.into(), key.into(), opts, body, props).await?;
    confirmed(pending, exchange, key).await
}

/// Waits for one publish's confirm; a return (unroutable) or nack is an error.
async fn confirmed(pending: lapin::PublisherConfirm, exchange: &str, key: &str) -> Result<(), BrokerError> {
    // A confirm that never comes (a connection broken under us) is an error to retry, not a wait.
    let confirm = tokio::time::timeout(std::time::Duration::from_secs(30), pending)
        .await
        .map_err(|_| BrokerError::Timeout(format!("the confirm of a publish to {exchange}/{key}")))??;
    if confirm.is_nack() {
        return Err(BrokerError::Refused { what: format!("{exchange}/{key}"), why: "nack".into() });
    }
    if let Some(returned) = confirm.take_message() {
        return Err(BrokerError::Refused {
            what: format!("{exchange}/{key}"),
            why: format!("unroutable ({}): is the hub provisioned?", returned.reply_text),
        });
    }
    Ok(())
}

/// Publishes a file as an agency's adapter would: message id = file name, persistent, confirmed.
pub async fn send_file(
    ch: &Channel,
    names: &Names,
    agency: &str,
    connector: &str,
    path: &Path,
) -> Result<(), BrokerError> {
    let body = std::fs::read(path)
        .map_err(|e| BrokerError::Refused { what: path.display().to_string(), why: e.to_string() })?;
    let message_id = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let props = BasicProperties::default().with_message_id(message_id.into()).with_delivery_mode(2);
    publish_confirmed(ch, &names.inbound_exchange(), &format!("{agency}.{connector}"), &body, props).await
}

/// Unconfirmed publishes in flight at once while dead-lettering a message's refusals.
const DEAD_LETTER_WINDOW: usize = 500;

/// How much of a message's refusals goes to the dead-letter queue (all of it stays in the store).
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterPolicy {
    /// A dead letter carries at most this many bytes of what was refused.
    pub body_bytes: usize,
    /// At most this many dead letters per message; the rest are told in one summary.
    pub per_message: usize,
}

impl DeadLetterPolicy {
    pub fn of(limits: &crate::settings::Limits) -> DeadLetterPolicy {
        DeadLetterPolicy { body_bytes: limits.dead_letter_body_bytes, per_message: limits.dead_letters_per_message }
    }
}

/// Publishes one message's refusals to the dead-letter exchange, a window of confirms at a time.
/// The queue is the operators' notification, the store the record: a hostile 8 MB payload is
/// not copied through the broker again (its dead letter carries the first `body_bytes`), and a
/// file of 20,000 bad rows sends `per_message` dead letters and one that summarises the rest,
/// each of which `tracker deadletters list` shows with its reason.
pub async fn dead_letters(
    ch: &Channel,
    names: &Names,
    dls: &[DeadLetter],
    policy: DeadLetterPolicy,
) -> Result<(), BrokerError> {
    let exchange = names.dead_exchange();
    let (sent_alone, summarised) = dls.split_at(dls.len().min(policy.per_message.max(1)));
    let summary = summarise(summarised);
    let all = sent_alone.iter().chain(summary.as_ref());
    let all: Vec<&DeadLetter> = all.collect();
    for window in all.chunks(DEAD_LETTER_WINDOW) {
        let mut pending = Vec::with_capacity(window.len());
        for dl in window {
            let opts = BasicPublishOptions { mandatory: true, ..Default::default() };
            let confirm = ch
                .basic_publish(
                    exchange.as_str().into(),
                    dl.envelope.routing_key.as_str().into(),
                    opts,
                    &dl.raw[..dl.raw.len().min(policy.body_bytes)],
                    dead_letter_properties(dl),
                )
                .await?;
            pending.push((confirm, &dl.envelope.routing_key));
        }
        for (confirm, key) in pending {
            confirmed(confirm, &exchange, key).await?;
        }
    }
    Ok(())
}

/// One dead letter standing for many refusals of the same message (none if there are none).
fn summarise(rest: &[DeadLetter]) -> Option<DeadLetter> {
    let first = rest.first()?;
    let mut codes: Vec<&str> = rest.iter().map(|d| d.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    Some(DeadLetter {
        refusal_id: first.refusal_id,
        envelope: first.envelope.clone(),
        position: first.position,
        code: "more_refused".into(),
        reason: format!(
            "{} more items of this message were refused ({}), from item {}; each is recorded with its reason: \
             tracker deadletters list",
            rest.len(),
            codes.join(", "),
            first.position
        ),
        raw: Vec::new(),
        full_bytes: 0,
        archive_id: first.archive_id,
    })
}

/// The dead-letter contract: the reason a person can act on, the connector, the original key.
fn dead_letter_properties(dl: &DeadLetter) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("tracker-error".into(), AMQPValue::LongString(dl.reason.clone().into()));
    headers.insert("tracker-error-code".into(), AMQPValue::LongString(dl.code.clone().into()));
    headers.insert("tracker-connector".into(), AMQPValue::LongString(dl.envelope.connector.as_str().into()));
    headers.insert("tracker-agency".into(), AMQPValue::LongString(dl.envelope.agency.as_str().into()));
    headers
        .insert("tracker-original-routing-key".into(), AMQPValue::LongString(dl.envelope.routing_key.clone().into()));
    headers.insert("tracker-original-message-id".into(), AMQPValue::LongString(dl.envelope.message_id.as_str().into()));
    headers.insert("tracker-item-position".into(), AMQPValue::LongInt(dl.position));
    headers
        .insert("tracker-body-bytes".into(), AMQPValue::LongLongInt(i64::try_from(dl.full_bytes).unwrap_or(i64::MAX)));
    if let Some(archive_id) = dl.archive_id {
        headers.insert("tracker-archive-id".into(), AMQPValue::LongLongInt(archive_id));
    }
    BasicProperties::default()
        .with_message_id(format!("{}#{}", dl.envelope.message_id, dl.position).into())
        .with_delivery_mode(2)
        .with_headers(headers)
}
