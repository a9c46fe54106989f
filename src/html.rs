//! HTML and XML escaping for what code writes outside the templates (`templates`): the charts'
//! SVG, the generator's XML feeds. One function, written here rather than taken from a crate:
//! it is five replacements.

/// Text made safe to place in HTML content or a quoted attribute.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
