//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): the same code a message meets —
//! the real connector files, limits and schemas — without broker or store. Every call must
//! return; a panic, hang or unbounded allocation is a defect the fuzzer reports.
use std::path::Path;
use std::sync::OnceLock;

use crate::connectors::{Publisher, Registry};
use crate::settings::Settings;

struct Loaded {
    registry: std::sync::Arc<Registry>,
    settings: Settings,
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // A harness that cannot load what it fuzzes must stop loudly, not test nothing.
        let registry = Registry::load(&root.join("connectors"))
            .unwrap_or_else(|e| panic!("fuzz harness: the connector files do not load: {e}"));
        let settings = Settings::load(&root.join("config"))
            .unwrap_or_else(|e| panic!("fuzz harness: config/default.toml does not load: {e}"));
        Loaded { registry: std::sync::Arc::new(registry), settings }
    })
}

/// Reads `data` as a payload of `connector` from the agency that publishes with it: decode and
/// map every item, within the configured limits — everything a payload's bytes can steer. (The
/// schema validation after it sees only what the mapping built, and would make each execution
/// ten times slower.) Panics are not caught here (the hub catches them; the fuzzer must see them).
pub fn read_payload(connector: &str, data: &[u8]) {
    let loaded = loaded();
    let Some((agency, settings)) =
        loaded.settings.agencies.iter().find(|(_, a)| a.connectors.iter().any(|c| c == connector))
    else {
        return;
    };
    let Some(c) = loaded.registry.get(connector) else { return };
    let publisher = Publisher { agency, codes: &settings.codes };
    let _ = std::hint::black_box(c.parse(data, &publisher, &loaded.settings.limits.parse));
}

/// Decodes `data` as a delivery: single-object encoded, and as a bare datum.
pub fn decode_delivery(data: &[u8]) {
    let Ok(schemas) = crate::schemas::get() else { return };
    let _ = std::hint::black_box(schemas.decode_single_object(data));
    let _ = std::hint::black_box(schemas.decode_datum(data));
}
