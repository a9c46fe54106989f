//! W3C trace context (`traceparent`, <https://www.w3.org/TR/trace-context/>) carried from an
//! agency's message to every delivery made from it, so a tracing system — or a person reading
//! two agencies' logs — can follow one update from the force that sent it to the court that
//! received it.
//!
//! An inbound message's `traceparent` header is kept with it in the raw archive. Each delivery
//! carries the same trace id, with a span id of its own (the hub's "deliver" span, derived from
//! the delivery's message id, so a redelivery or a second publisher process says exactly the
//! same). A message that came without one starts a trace whose id is derived from its agency and
//! message id: stable across redeliveries and processes, and the same for all its deliveries.
//! Written by hand: parsing and formatting 55 characters needs no crate.
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// A `traceparent` header value, if it is one (version 00, or a later version read as 00
    /// as the recommendation says); all-zero ids are invalid.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let version = u8::from_str_radix(version, 16).ok().filter(|_| version.len() == 2)?;
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return None;
        }
        let lower_hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if trace.len() != 32
            || parent.len() != 16
            || flags.len() != 2
            || ![trace, parent, flags].iter().all(|s| lower_hex(s))
        {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        hex::decode_to_slice(trace, &mut trace_id).ok()?;
        hex::decode_to_slice(parent, &mut parent_id).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        (trace_id != [0; 16] && parent_id != [0; 8]).then_some(TraceParent { trace_id, parent_id, flags })
    }

    /// The context a message was processed in: the one it came with, or a trace started for it
    /// (sampled), its id derived from the agency and message id.
    pub fn of_message(agency: &str, message_id: &str, came_with: Option<&str>) -> TraceParent {
        if let Some(tp) = came_with.and_then(TraceParent::parse) {
            return tp;
        }
        let digest = Sha256::new()
            .chain_update(b"tracker trace\0")
            .chain_update(agency)
            .chain_update([0])
            .chain_update(message_id)
            .finalize();
        let mut trace_id = [0u8; 16];
        trace_id.copy_from_slice(&digest[..16]);
        let mut parent_id = [0u8; 8];
        parent_id.copy_from_slice(&digest[16..24]);
        TraceParent { trace_id, parent_id, flags: 0x01 }
    }

    /// A span of the hub's inside this trace (a delivery), its id derived from `span_key`.
    pub fn child(&self, span_key: &[u8]) -> TraceParent {
        let digest =
            Sha256::new().chain_update(b"tracker span\0").chain_update(self.trace_id).chain_update(span_key).finalize();
        let mut parent_id = [0u8; 8];
        parent_id.copy_from_slice(&digest[..8]);
        if parent_id == [0; 8] {
            parent_id[7] = 1;
        }
        TraceParent { trace_id: self.trace_id, parent_id, flags: self.flags }
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "00-{}-{}-{:02x}", hex::encode(self.trace_id), hex::encode(self.parent_id), self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_and_writes_the_w3c_example() {
        let tp = TraceParent::parse(SENT).unwrap();
        assert_eq!(tp.to_string(), SENT);
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn refuses_what_is_not_a_traceparent() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_delivery_keeps_the_trace_with_a_span_of_its_own_the_same_every_time() {
        let inbound = TraceParent::of_message("police", "m1", Some(SENT));
        let a = inbound.child(b"delivery-1");
        assert_eq!(a.trace_id, inbound.trace_id);
        assert_ne!(a.parent_id, inbound.parent_id);
        assert_eq!(a, inbound.child(b"delivery-1"));
        assert_ne!(a.parent_id, inbound.child(b"delivery-2").parent_id);
        // Without one, a trace is started, the same for every redelivery of the message.
        let started = TraceParent::of_message("police", "m1", None);
        assert_eq!(started, TraceParent::of_message("police", "m1", Some("garbage")));
        assert_ne!(started.trace_id, TraceParent::of_message("police", "m2", None).trace_id);
    }
}
