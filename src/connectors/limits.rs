//! Bounds on what one payload may make a decoder do. Every decoder checks them as it reads, so a
//! hostile or broken file costs time and memory in proportion to its size and is refused with a
//! reason that names the limit, the place and the setting that raises it.
use serde::Deserialize;
use serde_json::Value as Json;

use super::{Refusal, RefusalCode};

/// Configured in `[limits.parse]`; the defaults are far above anything a real feed sends.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ParseLimits {
    /// Items (CSV rows, XML items, fixed-width records) in one payload.
    pub max_items: usize,
    /// Nesting of XML elements or JSON arrays and objects.
    pub max_depth: usize,
    /// Attributes (and namespace declarations) on one XML element.
    pub max_attributes: usize,
    /// XML elements in one payload, at any depth.
    pub max_elements: usize,
    /// Bytes of one value: a CSV field, an XML attribute or text, a JSON string or key.
    pub max_field_bytes: usize,
    /// Bytes of one CSV row or fixed-width line.
    pub max_row_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_items: 50_000,
            max_depth: 32,
            max_attributes: 64,
            max_elements: 500_000,
            max_field_bytes: 65_536,
            max_row_bytes: 1_048_576,
        }
    }
}

/// Checks every string of a decoded tree (keys too): no NUL, which PostgreSQL cannot hold in
/// text or jsonb, and none longer than `max_field_bytes`. `label` says where the tree came from.
/// Iterative, so a tree's depth cannot exhaust the stack.
pub fn check_values(tree: &Json, label: &str, limits: &ParseLimits) -> Result<(), Refusal> {
    // Nearly every tree passes: look without building any path first, and name the place only
    // for a tree that fails (a second walk, which finds the same first fault).
    if all_values_fit(tree, limits) {
        return Ok(());
    }
    let mut stack: Vec<(&Json, String)> = vec![(tree, String::new())];
    while let Some((node, path)) = stack.pop() {
        match node {
            Json::String(s) => check_text(s, label, &path, limits)?,
            Json::Array(list) => stack.extend(list.iter().map(|v| (v, path.clone()))),
            Json::Object(map) => {
                for (key, value) in map {
                    let inner = if path.is_empty() { key.clone() } else { format!("{path}/{key}") };
                    check_text(key, label, &inner, limits)?;
                    stack.push((value, inner));
                }
            }
            Json::Null | Json::Bool(_) | Json::Number(_) => {}
        }
    }
    Ok(())
}

/// Whether every string of the tree (keys too) is free of NUL and within `max_field_bytes`.
fn all_values_fit(tree: &Json, limits: &ParseLimits) -> bool {
    let fits = |s: &str| s.len() <= limits.max_field_bytes && !s.contains('\0');
    let mut stack: Vec<&Json> = vec![tree];
    while let Some(node) = stack.pop() {
        match node {
            Json::String(s) if !fits(s) => return false,
            Json::Array(list) => stack.extend(list.iter()),
            Json::Object(map) => {
                for (key, value) in map {
                    if !fits(key) {
                        return false;
                    }
                    stack.push(value);
                }
            }
            Json::String(_) | Json::Null | Json::Bool(_) | Json::Number(_) => {}
        }
    }
    true
}

fn check_text(s: &str, label: &str, path: &str, limits: &ParseLimits) -> Result<(), Refusal> {
    if s.len() <= limits.max_field_bytes && !s.contains('\0') {
        return Ok(());
    }
    let place = if path.is_empty() { label.to_string() } else { format!("{label}, field {}", printable(path)) };
    if s.contains('\0') {
        return Err(Refusal::new(
            RefusalCode::NulByte,
            format!("{place}: contains a NUL character (0x00), which the store cannot keep; fix the export"),
        ));
    }
    if s.len() > limits.max_field_bytes {
        return Err(too_long(&place, s.len(), limits.max_field_bytes));
    }
    Ok(())
}

/// A value over `max_field_bytes`.
pub fn too_long(place: &str, len: usize, limit: usize) -> Refusal {
    Refusal::new(
        RefusalCode::TooLarge,
        format!("{place}: a value of {len} bytes; the limit is {limit} (limits.parse.max_field_bytes)"),
    )
}

/// A name from a payload, fit to quote in a reason: control characters escaped, at most 80 chars.
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_long_values_are_named_with_their_field() {
        let limits = ParseLimits { max_field_bytes: 5, ..Default::default() };
        let nul = serde_json::json!({"A": "ok", "B": "x\u{0}y"});
        let err = check_values(&nul, "row 3", &limits).unwrap_err();
        assert_eq!(err.code, RefusalCode::NulByte);
        assert!(err.reason.starts_with("row 3, field B: contains a NUL"), "{}", err.reason);
        let long = serde_json::json!({"Outer": [{"Inner": "123456"}]});
        let err = check_values(&long, "Case 1", &limits).unwrap_err();
        assert!(err.reason.contains("field Outer/Inner") && err.reason.contains("6 bytes"), "{}", err.reason);
        assert!(check_values(&serde_json::json!({"A": "12345"}), "row 2", &limits).is_ok());
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\nb\u{0}"), "a\\nb\\0");
        assert_eq!(printable(&"x".repeat(100)).chars().count(), 81);
    }
}
