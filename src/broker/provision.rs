//! `tracker provision`: declares the broker contract. Idempotent: declaring what exists with
//! the same arguments changes nothing.
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use super::{BrokerError, Names};
use crate::settings::Settings;

fn quorum_args(dead_exchange: Option<&str>, single_active: bool) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    if let Some(dlx) = dead_exchange {
        // Messages the broker itself rejects (e.g. a consumer crash loop) still land in the dead queue.
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(dlx.into()));
        args.insert("x-dead-letter-strategy".into(), AMQPValue::LongString("at-least-once".into()));
        args.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
    }
    if single_active {
        // Each agency's queue is consumed in arrival order by one hub process at a time.
        args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    }
    args
}

async fn exchange(ch: &Channel, name: &str, kind: ExchangeKind) -> Result<(), BrokerError> {
    let opts = ExchangeDeclareOptions { durable: true, ..Default::default() };
    ch.exchange_declare(name.into(), kind, opts, FieldTable::default()).await?;
    Ok(())
}

async fn queue(ch: &Channel, name: &str, args: FieldTable) -> Result<(), BrokerError> {
    let opts = QueueDeclareOptions { durable: true, ..Default::default() };
    ch.queue_declare(name.into(), opts, args).await?;
    Ok(())
}

async fn bind(ch: &Channel, queue: &str, exchange: &str, key: &str) -> Result<(), BrokerError> {
    ch.queue_bind(queue.into(), exchange.into(), key.into(), QueueBindOptions::default(), FieldTable::default())
        .await?;
    Ok(())
}

/// Declares exchanges, the dead-letter queue, and per agency its inbound and outbound queues.
pub async fn provision(settings: &Settings) -> Result<Vec<String>, BrokerError> {
    let names = Names::new(&settings.broker.prefix);
    let conn = super::connect(&settings.broker.url).await?;
    let ch = conn.create_channel().await?;
    let mut declared = Vec::new();
    exchange(&ch, &names.inbound_exchange(), ExchangeKind::Topic).await?;
    exchange(&ch, &names.outbound_exchange(), ExchangeKind::Direct).await?;
    exchange(&ch, &names.dead_exchange(), ExchangeKind::Topic).await?;
    declared.extend([names.inbound_exchange(), names.outbound_exchange(), names.dead_exchange()]);
    queue(&ch, &names.dead_queue(), quorum_args(None, false)).await?;
    bind(&ch, &names.dead_queue(), &names.dead_exchange(), "#").await?;
    declared.push(names.dead_queue());
    for agency in settings.agencies.keys() {
        let inbound = names.inbound_queue(agency);
        queue(&ch, &inbound, quorum_args(Some(&names.dead_exchange()), true)).await?;
        bind(&ch, &inbound, &names.inbound_exchange(), &format!("{agency}.*")).await?;
        let outbound = names.outbound_queue(agency);
        queue(&ch, &outbound, quorum_args(None, false)).await?;
        bind(&ch, &outbound, &names.outbound_exchange(), agency).await?;
        declared.extend([inbound, outbound]);
    }
    crate::broker::close(&conn, "provisioned").await;
    Ok(declared)
}
