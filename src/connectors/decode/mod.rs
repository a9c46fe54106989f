//! Decoders: one per legacy format, each turning a payload into items (a CSV row, an XML
//! element, a JSON document, a fixed-width record) as trees of text that the mapping reads by
//! path. Decoders know formats, never agencies.
mod csv;
mod fixed_width;
mod json;
mod xml;

use serde_json::Value as Json;

use super::limits::ParseLimits;
use super::spec::{ConnectorSpec, Encoding, Format};
use super::{Refusal, RefusalCode};

/// One item of a payload, before mapping.
pub struct RawItem {
    /// The item position, part of the event id: CSV record number (header = 1), XML ordinal, 1 for JSON,
    /// line number for fixed width.
    pub position: u32,
    /// How a person finds the item: "row 3", "Case 2", "line 5".
    pub label: String,
    pub tree: Result<Json, Refusal>,
    /// The item's own bytes, dead-lettered if it is refused.
    pub raw: Vec<u8>,
}

/// A decoded payload: file-level values (header record, root attributes) and its items.
pub struct Decoded {
    pub file: Json,
    pub items: Vec<RawItem>,
}

/// Decodes a payload within `limits`: time and memory linear in its size, whatever it holds.
pub fn decode(spec: &ConnectorSpec, payload: &[u8], limits: &ParseLimits) -> Result<Decoded, Refusal> {
    let body = text(spec.encoding, payload)?;
    match spec.format {
        Format::Csv => self::csv::decode(spec.csv.as_ref(), &body, limits),
        Format::Xml => {
            let opts =
                spec.xml.as_ref().ok_or_else(|| Refusal::new(RefusalCode::Config, "connector has no [xml] options"))?;
            xml::decode(opts, &body, limits)
        }
        Format::Json => json::decode(&body, limits),
        Format::FixedWidth => {
            let opts = spec
                .fixed_width
                .as_ref()
                .ok_or_else(|| Refusal::new(RefusalCode::Config, "connector has no [fixed_width] options"))?;
            fixed_width::decode(opts, &body, limits)
        }
    }
}

/// The payload as text in its declared encoding, without a byte-order mark.
pub(super) fn text(encoding: Encoding, payload: &[u8]) -> Result<String, Refusal> {
    match encoding {
        Encoding::Utf8 => {
            let body = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
            std::str::from_utf8(body).map(str::to_owned).map_err(|e| {
                Refusal::new(RefusalCode::Encoding, format!("not UTF-8: invalid byte at offset {}", e.valid_up_to()))
            })
        }
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(payload).0.into_owned()),
    }
}

/// Turns byte offsets (which only grow) into 1-based line numbers, scanning each byte once.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(body: &'a str) -> Self {
        LineCounter { bytes: body.as_bytes(), offset: 0, line: 1 }
    }

    fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.bytes.len());
        if offset > self.offset {
            self.line += self.bytes[self.offset..offset].iter().filter(|b| **b == b'\n').count() as u64;
            self.offset = offset;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_names_decode() {
        let s = text(Encoding::Windows1252, b"CHLO\xCB Brennan").unwrap();
        assert_eq!(s, "CHLOË Brennan");
    }

    #[test]
    fn utf8_bom_is_dropped_and_bad_bytes_named() {
        assert_eq!(text(Encoding::Utf8, b"\xEF\xBB\xBFA,B").unwrap(), "A,B");
        let err = text(Encoding::Utf8, b"AB\xFF").unwrap_err();
        assert!(err.reason.contains("offset 2"), "{}", err.reason);
    }

    #[test]
    fn line_counter_counts_forward() {
        let mut lines = LineCounter::new("a\nb\n\nc");
        assert_eq!(lines.line_at(0), 1);
        assert_eq!(lines.line_at(2), 2);
        assert_eq!(lines.line_at(5), 4);
    }
}
