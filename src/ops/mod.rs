//! Operations: what operators do when a feed breaks — see the dead letters, replay them after a
//! fix, purge what will never apply, reprocess from the raw archive — and the status of queues,
//! dead letters and the outbox — recalling a disclosure made in error, and erasing records at
//! their owning agency's request.
pub mod alerts;
pub mod deadletters;
pub mod erasure;
pub mod identity;
pub mod recall;
pub mod restriction;
pub mod status;
