//! HTML escaping, for every page the hub writes (console, reports, exports, the generator's
//! previews). One function, written here rather than taken from a crate: it is five
//! replacements, and the pages need nothing else.

/// Text made safe to place in HTML content or a quoted attribute.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
