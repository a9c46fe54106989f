//! Operations: what operators do when a feed breaks — see the dead letters, replay them after a
//! fix, purge what will never apply, reprocess from the raw archive — and the status of queues,
//! dead letters and the outbox — and recalling a disclosure made in error.
pub mod alerts;
pub mod deadletters;
pub mod identity;
pub mod recall;
pub mod status;
