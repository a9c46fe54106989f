//! A message as it arrived on the broker, and the envelope the store keeps of it: agency,
//! connector and message id, made storable whatever the headers held.
use serde_json::{Value as Json, json};

use crate::domain::names::{AgencyId, MessageId};
use crate::store::message::Envelope;

/// A message as it arrived on the broker.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The agency whose queue it came from.
    pub queue_agency: AgencyId,
    pub routing_key: String,
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    /// The W3C `traceparent` header it came with, if it is a valid one.
    pub traceparent: Option<String>,
    pub body: Vec<u8>,
}

impl Inbound {
    /// The envelope the store keeps: agency, connector (from the routing key) and message id.
    /// Header values come from the publisher and may hold anything AMQP allows, NUL included,
    /// which PostgreSQL cannot store: NUL becomes U+FFFD here, so the envelope can always be
    /// archived and the message refused with a reason (its connector name no longer matches).
    pub fn envelope(&self) -> Envelope {
        let routing_key = storable(&self.routing_key);
        let connector = routing_key.split_once('.').map_or("", |(_, connector)| connector).to_string();
        Envelope {
            agency: self.queue_agency.clone(),
            connector: connector.into(),
            routing_key: routing_key.clone(),
            message_id: message_id(self),
        }
    }

    /// What the archive keeps beside the body.
    pub fn archive_headers(&self) -> Json {
        let mut headers =
            json!({ "user_id": self.user_id.as_deref().map(storable), "routing_key": storable(&self.routing_key) });
        if let Some(tp) = &self.traceparent {
            headers["traceparent"] = tp.as_str().into();
        }
        headers
    }
}

/// The message id, or (when the publisher gave none) SHA-256 of routing key and body.
/// A message id with a NUL (which the store cannot keep) is treated as no message id.
pub fn message_id(msg: &Inbound) -> MessageId {
    match &msg.message_id {
        Some(id) if !id.trim().is_empty() && !id.contains('\0') => id.as_str().into(),
        _ => {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(msg.routing_key.as_bytes());
            h.update([0u8]);
            h.update(&msg.body);
            format!("sha256:{}", hex::encode(h.finalize())).into()
        }
    }
}

/// The `traceparent` header of a message, if it holds a valid one (anything else is ignored:
/// the message starts a trace of its own).
pub fn traceparent(headers: Option<&lapin::types::FieldTable>) -> Option<String> {
    use lapin::types::AMQPValue;
    let text = match headers?.inner().get("traceparent")? {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        _ => return None,
    };
    crate::trace_context::TraceParent::parse(&text).map(|tp| tp.to_string())
}

/// Text from a header, fit for a text column: NUL replaced by U+FFFD.
fn storable(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}
