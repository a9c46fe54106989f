//! The runtime path, in the order a message travels:
//!
//! 1. `consume`: one consumer per agency queue this process holds (hub processes share the
//!    queues out: `store::leases`) takes the messages it has ready, a batch (manual acks, a
//!    configured prefetch, batch size and byte bound), and reads the next batch while one is stored;
//! 2. `message` → `admit` → `read`: the envelope is made storable, the publisher and connector are
//!    admitted, the payload is read by its connector and every event validated (`large_payloads`
//!    keeps big reads off the async workers);
//! 3. `process`: archive the raw payloads, recognise redeliveries, then (`record`, `apply`) store
//!    events and projections, link identities and decide sharing — one transaction per batch,
//!    each run of one agency's messages together under a savepoint;
//! 4. `outbox`: the publisher sends what was decided, each delivery confirmed before it is marked.
//!
//! `retry` keeps every broker connection up through faults; `maintenance` keeps table statistics
//! fresh where the database server does not.
//!
//! The guarantee, kept here and nowhere else: a message is acknowledged only after the transaction
//! that stored it (and its refusals) committed and its dead letters were confirmed by the broker
//! (a batch's acknowledgement covers only messages of that committed batch);
//! a delivery is published only after it was decided and logged in that transaction, and marked
//! published only after the broker confirmed it. A crash anywhere in between leaves the message on
//! its queue or the delivery in the outbox, and doing it again changes nothing (event ids and
//! message ids are derived, so a redelivery is recognised).
pub mod admit;
pub mod apply;
pub mod consume;
pub mod large_payloads;
pub mod maintenance;
pub mod message;
pub mod outbox;
pub mod process;
pub mod read;
pub mod record;
pub mod retry;
