//! A message as the store takes it: where it came from (`Envelope`) and its items, read and
//! validated (`ReadyItem`: events, an item kept but not routed, or a refusal).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::connectors::Refusal;
use crate::connectors::mapping::DraftSubject;
use crate::domain::names::{AgencyId, ConnectorName, MessageId};

/// Where a message came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub agency: AgencyId,
    pub connector: ConnectorName,
    pub routing_key: String,
    pub message_id: MessageId,
}

/// A canonical event ready to store: validated and encoded.
#[derive(Debug, Clone)]
pub struct ReadyEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub data_class: &'static str,
    pub occurred_at: DateTime<Utc>,
    /// Shared with the stored update sharing decides on (`NewEvent`): read, never changed.
    pub payload: Arc<Json>,
    pub avro: Vec<u8>,
    /// The fingerprint of the schema `avro` was written with.
    pub avro_schema: [u8; 8],
    /// The record's key: a later record of the same type and agency with the same key corrects it.
    pub record_key: Option<String>,
    /// This item withdraws the record with its key (nothing is stored for it).
    pub withdraws: bool,
}

#[derive(Debug)]
pub enum ReadyItem {
    Events { position: u32, subject: DraftSubject, events: Vec<ReadyEvent> },
    Kept { position: u32, label: String },
    Refused { position: u32, refusal: Refusal, raw: Vec<u8> },
}
