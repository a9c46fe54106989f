//! The message ids of what the hub sends: derived, never random, so that a delivery decided
//! again (after a crash, a redelivery, a late fact) keeps its id or takes the next one in a known
//! sequence, and a subscriber can drop duplicates by id.
use uuid::Uuid;

/// Outbound message ids are UUIDv5 of (event id, recipient) in this namespace.
const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x2b8e_71d4_93a5_4f0c_8d6e_5a1b_c9f3_7e20);

pub fn delivery_message_id(event_id: Uuid, recipient: &str) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{event_id}\u{1f}{recipient}").as_bytes())
}

/// The message id of a pair's delivery after `earlier` deliveries of it (each since retracted):
/// the first is [`delivery_message_id`], so redelivering a message never mints a second id.
pub fn redelivery_message_id(event_id: Uuid, recipient: &str, earlier: usize) -> Uuid {
    match earlier {
        0 => delivery_message_id(event_id, recipient),
        n => Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{event_id}\u{1f}{recipient}\u{1f}{n}").as_bytes()),
    }
}

/// The message id of the notice retracting the delivery `delivery`.
pub fn retraction_message_id(delivery: Uuid) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{delivery}\u{1f}retraction").as_bytes())
}

/// The message id of the erasure notice recalling the delivery `delivery` (one per delivery:
/// recalling it twice sends nothing more).
pub fn erasure_message_id(delivery: Uuid) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{delivery}\u{1f}erasure").as_bytes())
}

/// The message id of the notice telling the recipient of `delivery` that its record was
/// corrected and the correction is not shared with it.
pub fn correction_message_id(delivery: Uuid) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{delivery}\u{1f}correction").as_bytes())
}

/// The message id of the notice telling the recipient of `delivery` that its record is restricted.
pub fn restriction_message_id(delivery: Uuid) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{delivery}\u{1f}restriction").as_bytes())
}
