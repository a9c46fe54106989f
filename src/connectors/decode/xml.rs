//! XML payloads: one item per declared item element under the declared root, in the declared
//! namespace. Read in two passes. A streaming scan (quick-xml) first checks the limits —
//! nesting, attributes per element, elements, value sizes, no DTD — so that nothing hostile
//! reaches the tree parser (roxmltree checks duplicate attributes in time quadratic in their
//! number, and a tree built recursively would overflow the stack on deep nesting). Then
//! roxmltree resolves namespaces and gives each item its tree.
use quick_xml::events::Event;
use serde_json::{Map, Value as Json};

use super::{Decoded, LineCounter, RawItem};
use crate::connectors::limits::{ParseLimits, check_values, too_long};
use crate::connectors::spec::XmlOptions;
use crate::connectors::{Refusal, RefusalCode};

pub fn decode(opts: &XmlOptions, body: &str, limits: &ParseLimits) -> Result<Decoded, Refusal> {
    scan(body, limits)?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::try_from(limits.max_elements.saturating_mul(4).saturating_add(16)).unwrap_or(u32::MAX),
    };
    let doc = roxmltree::Document::parse_with_options(body, options).map_err(|e| {
        let pos = e.pos();
        Refusal::new(
            RefusalCode::Malformed,
            format!("not well-formed XML at line {}, column {}: {e}", pos.row, pos.col),
        )
    })?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or("");
    if ns != opts.namespace {
        return Err(Refusal::new(
            RefusalCode::Namespace,
            format!("root element is in namespace {ns:?}; this connector reads only {:?}", opts.namespace),
        ));
    }
    if root.tag_name().name() != opts.root {
        return Err(Refusal::new(
            RefusalCode::Malformed,
            format!("root element is <{}>, expected <{}>", root.tag_name().name(), opts.root),
        ));
    }
    let mut file = Map::new();
    for a in root.attributes() {
        file.insert(format!("@{}", a.name()), Json::String(a.value().to_string()));
    }
    let file = Json::Object(file);
    check_values(&file, &format!("<{}>", opts.root), limits)?;
    let mut lines = LineCounter::new(body);
    let mut items = Vec::new();
    let cases = root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == opts.item && n.tag_name().namespace() == Some(ns));
    for (i, node) in cases.enumerate() {
        if i >= limits.max_items {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!("the file has more than {} <{}> items (limits.parse.max_items)", limits.max_items, opts.item),
            ));
        }
        let position = (i + 1) as u32;
        let line = lines.line_at(node.range().start);
        let label = format!("{} {position} (line {line})", opts.item);
        let tree = match element_tree(node, ns, 1, limits) {
            Ok(tree) => check_values(&tree, &label, limits).map(|()| tree),
            Err(r) => Err(Refusal::new(r.code, format!("{label}: {}", r.reason))),
        };
        items.push(RawItem { position, label, tree, raw: body.as_bytes()[node.range()].to_vec() });
    }
    Ok(Decoded { file, items })
}

/// The streaming pass: refuses, naming the line, what the limits do not allow. Malformed XML is
/// left for roxmltree to describe.
fn scan(body: &str, limits: &ParseLimits) -> Result<(), Refusal> {
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = false;
    let (mut depth, mut elements) = (0usize, 0usize);
    let at = |reader: &quick_xml::Reader<&[u8]>| {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX).min(body.len());
        LineCounter::new(body).line_at(offset)
    };
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(_) => return Ok(()),
        };
        let (start, opens) = match &event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                (None, false)
            }
            Event::Text(t) if t.len() > limits.max_field_bytes => {
                return Err(too_long(&format!("line {}: text", at(&reader)), t.len(), limits.max_field_bytes));
            }
            Event::CData(t) if t.len() > limits.max_field_bytes => {
                return Err(too_long(&format!("line {}: CDATA", at(&reader)), t.len(), limits.max_field_bytes));
            }
            Event::DocType(_) => {
                return Err(Refusal::new(
                    RefusalCode::Malformed,
                    format!("line {}: a document type declaration (<!DOCTYPE>) is not accepted", at(&reader)),
                ));
            }
            Event::Eof => return Ok(()),
            _ => (None, false),
        };
        let Some(element) = start else { continue };
        elements += 1;
        if elements > limits.max_elements {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!("the file has more than {} elements (limits.parse.max_elements)", limits.max_elements),
            ));
        }
        let level = depth + 1;
        if opens {
            depth = level;
        }
        if level > limits.max_depth {
            return Err(Refusal::new(
                RefusalCode::TooDeep,
                format!(
                    "line {}: elements nested deeper than {} levels (limits.parse.max_depth)",
                    at(&reader),
                    limits.max_depth
                ),
            ));
        }
        // Counting without the duplicate check, which is quadratic; roxmltree checks duplicates
        // once the count is known to be small.
        let mut attributes = 0usize;
        for attribute in element.attributes().with_checks(false) {
            attributes += 1;
            let value_len = attribute.map_or(0, |a| a.value.len());
            if attributes > limits.max_attributes {
                return Err(Refusal::new(
                    RefusalCode::TooLarge,
                    format!(
                        "line {}: an element with more than {} attributes (limits.parse.max_attributes)",
                        at(&reader),
                        limits.max_attributes
                    ),
                ));
            }
            if value_len > limits.max_field_bytes {
                let place = format!("line {}: an attribute", at(&reader));
                return Err(too_long(&place, value_len, limits.max_field_bytes));
            }
        }
    }
}

/// An element as a tree: `@attr` keys, children grouped by name into lists, text as a string
/// (a leaf) or under `#text`. Elements of other namespaces are ignored. The depth is checked
/// again here (the scan already bounded it), so recursion can never exceed the limit.
fn element_tree(node: roxmltree::Node, ns: &str, depth: usize, limits: &ParseLimits) -> Result<Json, Refusal> {
    if depth > limits.max_depth {
        return Err(Refusal::new(
            RefusalCode::TooDeep,
            format!("elements nested deeper than {} levels (limits.parse.max_depth)", limits.max_depth),
        ));
    }
    let mut obj = Map::new();
    for a in node.attributes() {
        obj.insert(format!("@{}", a.name()), Json::String(a.value().to_string()));
    }
    let mut has_children = false;
    for child in node.children().filter(|c| c.is_element() && c.tag_name().namespace().unwrap_or("") == ns) {
        has_children = true;
        let tree = element_tree(child, ns, depth + 1, limits)?;
        let entry = obj.entry(child.tag_name().name().to_string()).or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(list) = entry {
            list.push(tree);
        }
    }
    let text: String = node.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect();
    let text = text.trim();
    if obj.is_empty() && !has_children {
        return Ok(Json::String(text.to_string()));
    }
    if !text.is_empty() {
        obj.insert("#text".into(), Json::String(text.to_string()));
    }
    Ok(Json::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> XmlOptions {
        XmlOptions { namespace: "urn:libra:results:2".into(), root: "ResultsBatch".into(), item: "Case".into() }
    }

    fn batch(inner: &str) -> String {
        format!("<ResultsBatch xmlns=\"urn:libra:results:2\">\n{inner}\n</ResultsBatch>")
    }

    #[test]
    fn other_namespace_is_refused_and_malformed_names_the_line() {
        let old = r#"<ResultsBatch xmlns="urn:libra:results:1"><Case/></ResultsBatch>"#;
        assert_eq!(decode(&opts(), old, &ParseLimits::default()).err().unwrap().code, RefusalCode::Namespace);
        let broken = "<ResultsBatch xmlns=\"urn:libra:results:2\">\n<Case>\n</ResultsBatch>";
        let err = decode(&opts(), broken, &ParseLimits::default()).err().unwrap();
        assert!(err.reason.contains("line 3"), "{}", err.reason);
    }

    #[test]
    fn prefixed_namespace_reads_like_default() {
        let doc = r#"<r:ResultsBatch xmlns:r="urn:libra:results:2" court="X"><r:Case urn="1"><r:Outcome>SENTENCED</r:Outcome><Other xmlns="urn:x">no</Other></r:Case></r:ResultsBatch>"#;
        let d = decode(&opts(), doc, &ParseLimits::default()).unwrap();
        assert_eq!(d.file["@court"], "X");
        let case = d.items[0].tree.as_ref().unwrap();
        assert_eq!(case["Outcome"][0], "SENTENCED");
        assert!(case.get("Other").is_none());
    }

    #[test]
    fn deep_nesting_is_refused_naming_the_line() {
        let deep = batch(&format!("<Case>{}{}</Case>", "<a>".repeat(20_000), "</a>".repeat(20_000)));
        let err = decode(&opts(), &deep, &ParseLimits::default()).err().unwrap();
        assert_eq!(err.code, RefusalCode::TooDeep);
        assert!(err.reason.starts_with("line 2: elements nested deeper than 32"), "{}", err.reason);
        // Self-closing elements at the limit do not fool the count.
        let limits = ParseLimits { max_depth: 3, ..Default::default() };
        assert!(decode(&opts(), &batch("<Case><a/></Case>"), &limits).is_ok());
        assert!(decode(&opts(), &batch("<Case><a><b/></a></Case>"), &limits).is_err());
    }

    #[test]
    fn attribute_floods_and_dtds_are_refused() {
        let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"1\"")).collect();
        let err = decode(&opts(), &batch(&format!("<Case{attrs}/>")), &ParseLimits::default()).err().unwrap();
        assert!(err.reason.contains("more than 64 attributes"), "{}", err.reason);
        let dtd = "<!DOCTYPE r [<!ENTITY a \"aaaa\">]><ResultsBatch xmlns=\"urn:libra:results:2\"/>";
        let err = decode(&opts(), dtd, &ParseLimits::default()).err().unwrap();
        assert!(err.reason.contains("DOCTYPE"), "{}", err.reason);
    }

    #[test]
    fn element_and_item_counts_are_bounded() {
        let limits = ParseLimits { max_items: 10, max_elements: 100, ..Default::default() };
        let err = decode(&opts(), &batch(&"<Case/>".repeat(11)), &limits).err().unwrap();
        assert!(err.reason.contains("more than 10 <Case> items"), "{}", err.reason);
        let err = decode(&opts(), &batch(&"<Other/>".repeat(200)), &limits).err().unwrap();
        assert!(err.reason.contains("more than 100 elements"), "{}", err.reason);
    }

    #[test]
    fn items_are_labelled_with_their_line() {
        let d = decode(&opts(), &batch("<Case/>\n<Case/>\n\n<Case/>"), &ParseLimits::default()).unwrap();
        let labels: Vec<&str> = d.items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, ["Case 1 (line 2)", "Case 2 (line 3)", "Case 3 (line 5)"]);
    }
}
