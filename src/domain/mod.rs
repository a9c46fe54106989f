//! Domain types shared across the hub: person identifiers and the canonical event vocabulary.
pub mod event_types;
pub mod identifiers;
pub mod names;
