//! Confirmed publishing: every publish is persistent and mandatory and waits for the broker's
//! confirm; an unroutable message is an error, never a silent drop.
use std::path::Path;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};

use super::{BrokerError, Names};
use crate::store::inbound::DeadLetter;

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

/// Publishes refusals to the dead-letter exchange, a window at a time: a file of 50,000 bad rows
/// waits for 100 rounds of confirms, not 50,000.
pub async fn dead_letters(ch: &Channel, names: &Names, dls: &[DeadLetter]) -> Result<(), BrokerError> {
    let exchange = names.dead_exchange();
    for window in dls.chunks(DEAD_LETTER_WINDOW) {
        let mut pending = Vec::with_capacity(window.len());
        for dl in window {
            let opts = BasicPublishOptions { mandatory: true, ..Default::default() };
            let confirm = ch
                .basic_publish(
                    exchange.as_str().into(),
                    dl.envelope.routing_key.as_str().into(),
                    opts,
                    &dl.raw,
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

/// The dead-letter contract: the reason a person can act on, the connector, the original key.
fn dead_letter_properties(dl: &DeadLetter) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("tracker-error".into(), AMQPValue::LongString(dl.reason.clone().into()));
    headers.insert("tracker-error-code".into(), AMQPValue::LongString(dl.code.clone().into()));
    headers.insert("tracker-connector".into(), AMQPValue::LongString(dl.envelope.connector.clone().into()));
    headers.insert("tracker-agency".into(), AMQPValue::LongString(dl.envelope.agency.clone().into()));
    headers
        .insert("tracker-original-routing-key".into(), AMQPValue::LongString(dl.envelope.routing_key.clone().into()));
    headers.insert("tracker-original-message-id".into(), AMQPValue::LongString(dl.envelope.message_id.clone().into()));
    headers.insert("tracker-item-position".into(), AMQPValue::LongInt(dl.position));
    BasicProperties::default()
        .with_message_id(format!("{}#{}", dl.envelope.message_id, dl.position).into())
        .with_delivery_mode(2)
        .with_headers(headers)
}
