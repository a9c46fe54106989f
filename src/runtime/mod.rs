//! The runtime path, in the order a message travels:
//!
//! 1. `consume`: one consumer per agency queue takes a message (manual acks, a configured
//!    prefetch);
//! 2. `message` → `admit` → `read`: the envelope is made storable, the publisher and connector are
//!    admitted, the payload is read by its connector and every event validated (`large_payloads`
//!    keeps big reads off the async workers);
//! 3. `process`: archive the raw payload, recognise a redelivery, then store events and
//!    projections, link identities and decide sharing — one transaction;
//! 4. `outbox`: the publisher sends what was decided, each delivery confirmed before it is marked.
//!
//! `retry` keeps every broker connection up through faults.
//!
//! The guarantee, kept here and nowhere else: a message is acknowledged only after the transaction
//! that stored it (and its refusals) committed and its dead letters were confirmed by the broker;
//! a delivery is published only after it was decided and logged in that transaction, and marked
//! published only after the broker confirmed it. A crash anywhere in between leaves the message on
//! its queue or the delivery in the outbox, and doing it again changes nothing (event ids and
//! message ids are derived, so a redelivery is recognised).
pub mod admit;
pub mod apply;
pub mod consume;
pub mod large_payloads;
pub mod message;
pub mod outbox;
pub mod process;
pub mod read;
pub mod record;
pub mod retry;
