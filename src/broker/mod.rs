//! RabbitMQ and nothing else: connecting, the broker contract (names, provisioning), broker
//! users, and confirmed publishing. The consumers that feed the hub are in `runtime::consume`.
pub mod provision;
pub mod publish;
pub mod users;

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker: no answer for {0} in time")]
    Timeout(String),
    #[error("broker refused {what}: {why}")]
    Refused { what: String, why: String },
}

/// Every exchange and queue name, under one configurable prefix.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names { prefix: prefix.to_string() }
    }
    pub fn inbound_exchange(&self) -> String {
        format!("{}.inbound", self.prefix)
    }
    pub fn outbound_exchange(&self) -> String {
        format!("{}.outbound", self.prefix)
    }
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn inbound_queue(&self, agency: &str) -> String {
        format!("{}.in.{agency}", self.prefix)
    }
    pub fn outbound_queue(&self, agency: &str) -> String {
        format!("{}.out.{agency}", self.prefix)
    }
}

/// Connects with a timeout (lapin can wait a long time on a dead host).
pub async fn connect(url: &str) -> Result<Connection, BrokerError> {
    let props = ConnectionProperties::default();
    match tokio::time::timeout(Duration::from_secs(10), Connection::connect(url, props)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(BrokerError::Timeout(redact_url(url))),
    }
}

/// Closes a connection, giving up after 5 s: a connection that broke under us may never answer
/// the close, and nothing may wait on it forever.
pub async fn close(conn: &Connection, reason: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.close(200, reason.into())).await;
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}
