//! Decoders: one per legacy format, each turning a payload into items (a CSV row, an XML
//! element, a JSON document, a fixed-width record) as trees of text that the mapping reads by
//! path. Decoders know formats, never agencies.
use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::Refusal;
use super::spec::{ConnectorSpec, CsvOptions, Encoding, FixedWidthOptions, Format, XmlOptions};

/// One item of a payload, before mapping.
pub struct RawItem {
    /// The item position of DESIGN.md: CSV record number (header = 1), XML ordinal, 1 for JSON,
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

pub fn decode(spec: &ConnectorSpec, payload: &[u8]) -> Result<Decoded, Refusal> {
    match spec.format {
        Format::Csv => decode_csv(spec.csv.as_ref(), spec.encoding, payload),
        Format::Xml => {
            let opts = spec.xml.as_ref().ok_or_else(|| Refusal::new("config", "connector has no [xml] options"))?;
            decode_xml(opts, &text(spec.encoding, payload)?)
        }
        Format::Json => decode_json(&text(spec.encoding, payload)?),
        Format::FixedWidth => {
            let opts = spec
                .fixed_width
                .as_ref()
                .ok_or_else(|| Refusal::new("config", "connector has no [fixed_width] options"))?;
            decode_fixed(opts, &text(spec.encoding, payload)?)
        }
    }
}

/// The payload as text in its declared encoding, without a byte-order mark.
fn text(encoding: Encoding, payload: &[u8]) -> Result<String, Refusal> {
    match encoding {
        Encoding::Utf8 => {
            let body = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
            std::str::from_utf8(body)
                .map(str::to_owned)
                .map_err(|e| Refusal::new("encoding", format!("not UTF-8: invalid byte at offset {}", e.valid_up_to())))
        }
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(payload).0.into_owned()),
    }
}

fn decode_csv(opts: Option<&CsvOptions>, encoding: Encoding, payload: &[u8]) -> Result<Decoded, Refusal> {
    let body = text(encoding, payload)?;
    let (delimiter, quote, has_header) =
        opts.map_or((b',', b'"', true), |o| (o.delimiter as u8, o.quote as u8, o.header));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record_start(&body, record.position().map_or(0, |p| p.byte() as usize));
                records.push((start, line_number(&body, start), Ok(record.clone())));
            }
            Err(e) => {
                let start = record_start(&body, e.position().map_or(0, |p| p.byte() as usize));
                records.push((start, line_number(&body, start), Err(e.to_string())));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    let mut header: Vec<String> = Vec::new();
    let mut items = Vec::new();
    for (i, (start, line, rec)) in records.iter().enumerate() {
        let end = records.get(i + 1).map_or(body.len(), |r| r.0);
        let raw = body.as_bytes()[*start..end].to_vec();
        let position = (i + 1) as u32;
        if i == 0 && has_header {
            match rec {
                Ok(r) => header = r.iter().map(|h| h.trim().to_string()).collect(),
                Err(e) => {
                    return Err(Refusal::new("malformed", format!("row 1 (the header): {e}")));
                }
            }
            continue;
        }
        let label =
            if *line == position as u64 { format!("row {position}") } else { format!("row {position} (line {line})") };
        let tree = match rec {
            Err(e) => Err(Refusal::new("malformed", format!("{label}: {e}"))),
            Ok(r) if has_header && r.len() != header.len() => Err(Refusal::new(
                "field_count",
                format!("{label}: has {} fields, the header has {}", r.len(), header.len()),
            )),
            Ok(r) => {
                let mut obj = Map::new();
                for (j, value) in r.iter().enumerate() {
                    let key = header.get(j).cloned().unwrap_or_else(|| format!("{}", j + 1));
                    obj.insert(key, Json::String(value.to_string()));
                }
                Ok(Json::Object(obj))
            }
        };
        items.push(RawItem { position, label, tree, raw });
    }
    Ok(Decoded { file: Json::Object(Map::new()), items })
}

/// The csv crate may place a record's start on the line break ending the previous one.
fn record_start(body: &str, mut offset: usize) -> usize {
    let bytes = body.as_bytes();
    while offset < bytes.len() && (bytes[offset] == b'\r' || bytes[offset] == b'\n') {
        offset += 1;
    }
    offset
}

/// 1-based line number of a byte offset.
fn line_number(body: &str, offset: usize) -> u64 {
    body.as_bytes()[..offset.min(body.len())].iter().filter(|b| **b == b'\n').count() as u64 + 1
}

fn decode_xml(opts: &XmlOptions, body: &str) -> Result<Decoded, Refusal> {
    let doc = roxmltree::Document::parse(body).map_err(|e| {
        let pos = e.pos();
        Refusal::new("malformed", format!("not well-formed XML at line {}, column {}: {e}", pos.row, pos.col))
    })?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or("");
    if ns != opts.namespace {
        return Err(Refusal::new(
            "namespace",
            format!("root element is in namespace {ns:?}; this connector reads only {:?}", opts.namespace),
        ));
    }
    if root.tag_name().name() != opts.root {
        return Err(Refusal::new(
            "malformed",
            format!("root element is <{}>, expected <{}>", root.tag_name().name(), opts.root),
        ));
    }
    let mut file = Map::new();
    for a in root.attributes() {
        file.insert(format!("@{}", a.name()), Json::String(a.value().to_string()));
    }
    let mut items = Vec::new();
    let cases = root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == opts.item && n.tag_name().namespace() == Some(ns));
    for (i, node) in cases.enumerate() {
        let position = (i + 1) as u32;
        let line = doc.text_pos_at(node.range().start).row;
        items.push(RawItem {
            position,
            label: format!("{} {position} (line {line})", opts.item),
            tree: Ok(element_tree(node, ns)),
            raw: body.as_bytes()[node.range()].to_vec(),
        });
    }
    Ok(Decoded { file: Json::Object(file), items })
}

/// An element as a tree: `@attr` keys, children grouped by name into lists, text as a string
/// (a leaf) or under `#text`. Elements of other namespaces are ignored.
fn element_tree(node: roxmltree::Node, ns: &str) -> Json {
    let mut obj = Map::new();
    for a in node.attributes() {
        obj.insert(format!("@{}", a.name()), Json::String(a.value().to_string()));
    }
    let mut has_children = false;
    for child in node.children().filter(|c| c.is_element() && c.tag_name().namespace().unwrap_or("") == ns) {
        has_children = true;
        let entry = obj.entry(child.tag_name().name().to_string()).or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(list) = entry {
            list.push(element_tree(child, ns));
        }
    }
    let text: String = node.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect();
    let text = text.trim();
    if obj.is_empty() && !has_children {
        return Json::String(text.to_string());
    }
    if !text.is_empty() {
        obj.insert("#text".into(), Json::String(text.to_string()));
    }
    Json::Object(obj)
}

fn decode_json(body: &str) -> Result<Decoded, Refusal> {
    let doc: Json = serde_json::from_str(body).map_err(|e| {
        Refusal::new("malformed", format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()))
    })?;
    if !doc.is_object() {
        return Err(Refusal::new("malformed", "the JSON document is not an object"));
    }
    let items = vec![RawItem { position: 1, label: "event".into(), tree: Ok(doc), raw: body.as_bytes().to_vec() }];
    Ok(Decoded { file: Json::Object(Map::new()), items })
}

/// Characters `from..=to` (1-based) of a line; a missing tail reads as blanks; right-trimmed.
fn columns(line: &[char], [from, to]: [usize; 2]) -> String {
    let start = from.saturating_sub(1).min(line.len());
    let end = to.min(line.len());
    line[start..end.max(start)].iter().collect::<String>().trim_end().to_string()
}

fn read_layout(line: &[char], layout: &BTreeMap<String, [usize; 2]>, into: &mut Map<String, Json>) {
    for (name, cols) in layout {
        into.insert(name.clone(), Json::String(columns(line, *cols)));
    }
}

fn decode_fixed(opts: &FixedWidthOptions, body: &str) -> Result<Decoded, Refusal> {
    let lines: Vec<&str> = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let lines: Vec<&str> = match lines.iter().rposition(|l| !l.trim().is_empty()) {
        Some(last) => lines[..=last].to_vec(),
        None => return Err(Refusal::new("truncated", "the file is empty")),
    };
    let mut file = Map::new();
    let mut items = Vec::new();
    let mut trailer: Option<(usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        let chars: Vec<char> = line.chars().collect();
        let record_type = columns(&chars, opts.record_type);
        if record_type == opts.header {
            if number != 1 {
                return Err(Refusal::new("malformed", format!("line {number}: a second header record")));
            }
            if let Some(layout) = opts.records.get(&opts.header) {
                read_layout(&chars, layout, &mut file);
            }
            continue;
        }
        if number == 1 {
            return Err(Refusal::new("malformed", format!("line 1: expected the header record {}", opts.header)));
        }
        if trailer.is_some() {
            return Err(Refusal::new("malformed", format!("line {number}: records after the trailer")));
        }
        if record_type == opts.trailer {
            let mut t = Map::new();
            if let Some(layout) = opts.records.get(&opts.trailer) {
                read_layout(&chars, layout, &mut t);
            }
            let count = t.get(&opts.trailer_count).and_then(Json::as_str).unwrap_or("").to_string();
            trailer = Some((number, count));
            continue;
        }
        let tree = match opts.records.get(&record_type) {
            Some(layout) => {
                let mut obj = Map::new();
                obj.insert("record_type".into(), Json::String(record_type.clone()));
                read_layout(&chars, &opts.shared, &mut obj);
                read_layout(&chars, layout, &mut obj);
                Ok(Json::Object(obj))
            }
            None => Err(Refusal::new(
                "unknown_record",
                format!("line {number}: record type {record_type:?} is not declared"),
            )),
        };
        items.push(RawItem {
            position: number as u32,
            label: format!("line {number}"),
            tree,
            raw: line.as_bytes().to_vec(),
        });
    }
    let Some((line, count)) = trailer else {
        return Err(Refusal::new(
            "truncated",
            format!("no trailer record ({}): the file was cut short in transfer; nothing applied", opts.trailer),
        ));
    };
    let declared: usize = count
        .trim()
        .parse()
        .map_err(|_| Refusal::new("truncated", format!("line {line}: trailer count {count:?} is not a number")))?;
    if declared != items.len() {
        return Err(Refusal::new(
            "truncated",
            format!(
                "trailer (line {line}) says {declared} records, the file has {}: cut short in transfer; nothing applied",
                items.len()
            ),
        ));
    }
    Ok(Decoded { file: Json::Object(file), items })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_items(payload: &[u8]) -> Vec<RawItem> {
        decode_csv(None, Encoding::Utf8, payload).expect("decodes").items
    }

    #[test]
    fn csv_quoted_commas_newlines_bom_and_crlf() {
        let payload = b"\xEF\xBB\xBFA,B,C\r\n1,\"x, y\",\"two\r\nlines\"\r\n2,\"say \"\"hi\"\"\",z\r\n";
        let items = csv_items(payload);
        assert_eq!(items.len(), 2);
        let first = items[0].tree.as_ref().unwrap();
        assert_eq!(first["A"], "1");
        assert_eq!(first["B"], "x, y");
        assert_eq!(first["C"], "two\r\nlines");
        assert_eq!(items[0].position, 2);
        let second = items[1].tree.as_ref().unwrap();
        assert_eq!(second["B"], "say \"hi\"");
        assert_eq!(items[1].position, 3);
        assert_eq!(items[1].label, "row 3 (line 4)");
        assert_eq!(items[1].raw, b"2,\"say \"\"hi\"\"\",z\r\n");
    }

    #[test]
    fn csv_row_with_wrong_field_count_is_refused_alone() {
        let items = csv_items(b"A,B\r\n1,2\r\n1,2,3\r\n4,5\r\n");
        assert!(items[0].tree.is_ok());
        let err = items[1].tree.as_ref().unwrap_err();
        assert_eq!(err.code, "field_count");
        assert!(err.reason.contains("row 3") && err.reason.contains("3 fields"), "{}", err.reason);
        assert!(items[2].tree.is_ok());
    }

    #[test]
    fn windows_1252_names_decode() {
        let s = text(Encoding::Windows1252, b"CHLO\xCB Brennan").unwrap();
        assert_eq!(s, "CHLOË Brennan");
    }

    #[test]
    fn xml_other_namespace_is_refused_and_malformed_names_the_line() {
        let opts =
            XmlOptions { namespace: "urn:libra:results:2".into(), root: "ResultsBatch".into(), item: "Case".into() };
        let old = r#"<ResultsBatch xmlns="urn:libra:results:1"><Case/></ResultsBatch>"#;
        assert_eq!(decode_xml(&opts, old).err().unwrap().code, "namespace");
        let broken = "<ResultsBatch xmlns=\"urn:libra:results:2\">\n<Case>\n</ResultsBatch>";
        let err = decode_xml(&opts, broken).err().unwrap();
        assert!(err.reason.contains("line 3"), "{}", err.reason);
    }

    #[test]
    fn xml_prefixed_namespace_reads_like_default() {
        let opts =
            XmlOptions { namespace: "urn:libra:results:2".into(), root: "ResultsBatch".into(), item: "Case".into() };
        let doc = r#"<r:ResultsBatch xmlns:r="urn:libra:results:2" court="X"><r:Case urn="1"><r:Outcome>SENTENCED</r:Outcome><Other xmlns="urn:x">no</Other></r:Case></r:ResultsBatch>"#;
        let d = decode_xml(&opts, doc).unwrap();
        assert_eq!(d.file["@court"], "X");
        let case = d.items[0].tree.as_ref().unwrap();
        assert_eq!(case["Outcome"][0], "SENTENCED");
        assert!(case.get("Other").is_none());
    }

    fn fixed_opts() -> FixedWidthOptions {
        let mut records = BTreeMap::new();
        records.insert("HD".to_string(), BTreeMap::from([("provider".to_string(), [3, 10])]));
        records.insert("TL".to_string(), BTreeMap::from([("count".to_string(), [3, 10])]));
        records.insert("TR".to_string(), BTreeMap::from([("a".to_string(), [3, 5]), ("b".to_string(), [6, 9])]));
        FixedWidthOptions {
            record_type: [1, 2],
            header: "HD".into(),
            trailer: "TL".into(),
            trailer_count: "count".into(),
            shared: BTreeMap::new(),
            records,
        }
    }

    #[test]
    fn fixed_width_short_lines_read_as_blanks_and_trailer_counts() {
        let d = decode_fixed(&fixed_opts(), "HDPROV0001\r\nTRabc\r\nTRxyz1234\r\nTL00000002\r\n").unwrap();
        assert_eq!(d.file["provider"], "PROV0001");
        let first = d.items[0].tree.as_ref().unwrap();
        assert_eq!(first["a"], "abc");
        assert_eq!(first["b"], "");
        assert_eq!(d.items[1].position, 3);
        let cut = decode_fixed(&fixed_opts(), "HDPROV0001\r\nTRabc\r\nTL00000005\r\n").err().unwrap();
        assert_eq!(cut.code, "truncated");
        assert!(cut.reason.contains("says 5 records, the file has 1"), "{}", cut.reason);
        let no_trailer = decode_fixed(&fixed_opts(), "HDPROV0001\r\nTRabc\r\n").err().unwrap();
        assert!(no_trailer.reason.contains("no trailer"));
    }
}
