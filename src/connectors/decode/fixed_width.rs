//! Fixed-width payloads: a header record, data records, a trailer whose count proves the file
//! arrived whole. One item per data line.
use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::{Decoded, RawItem};
use crate::connectors::limits::{ParseLimits, check_values};
use crate::connectors::spec::FixedWidthOptions;
use crate::connectors::{Refusal, RefusalCode};

pub fn decode(opts: &FixedWidthOptions, body: &str, limits: &ParseLimits) -> Result<Decoded, Refusal> {
    let lines: Vec<&str> = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let lines: &[&str] = match lines.iter().rposition(|l| !l.trim().is_empty()) {
        Some(last) => &lines[..=last],
        None => return Err(Refusal::new(RefusalCode::Truncated, "the file is empty")),
    };
    // Header and trailer besides the records.
    if lines.len() > limits.max_items + 2 {
        return Err(Refusal::new(
            RefusalCode::TooLarge,
            format!("the file has more than {} records (limits.parse.max_items)", limits.max_items),
        ));
    }
    let mut file = Map::new();
    let mut items = Vec::new();
    let mut trailer: Option<(usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        if line.len() > limits.max_row_bytes {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!(
                    "line {number}: is {} bytes; the limit is {} (limits.parse.max_row_bytes)",
                    line.len(),
                    limits.max_row_bytes
                ),
            ));
        }
        let chars: Vec<char> = line.chars().collect();
        let record_type = columns(&chars, opts.record_type);
        if record_type == opts.header {
            if number != 1 {
                return Err(Refusal::new(RefusalCode::Malformed, format!("line {number}: a second header record")));
            }
            if let Some(layout) = opts.records.get(&opts.header) {
                read_layout(&chars, layout, &mut file);
            }
            continue;
        }
        if number == 1 {
            return Err(Refusal::new(
                RefusalCode::Malformed,
                format!("line 1: expected the header record {}", opts.header),
            ));
        }
        if trailer.is_some() {
            return Err(Refusal::new(RefusalCode::Malformed, format!("line {number}: records after the trailer")));
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
        let label = format!("line {number}");
        let tree = match opts.records.get(&record_type) {
            Some(layout) => {
                let mut obj = Map::new();
                obj.insert("record_type".into(), Json::String(record_type.clone()));
                read_layout(&chars, &opts.shared, &mut obj);
                read_layout(&chars, layout, &mut obj);
                let tree = Json::Object(obj);
                check_values(&tree, &label, limits).map(|()| tree)
            }
            None => Err(Refusal::new(
                RefusalCode::UnknownRecord,
                format!(
                    "{label}: record type {:?} is not declared",
                    crate::connectors::limits::printable(&record_type)
                ),
            )),
        };
        items.push(RawItem { position: number as u32, label, tree, raw: line.as_bytes().to_vec() });
    }
    let file = Json::Object(file);
    check_values(&file, "line 1 (the header)", limits)?;
    check_trailer(trailer, items.len(), &opts.trailer)?;
    Ok(Decoded { file, items })
}

fn check_trailer(trailer: Option<(usize, String)>, records: usize, trailer_type: &str) -> Result<(), Refusal> {
    let Some((line, count)) = trailer else {
        return Err(Refusal::new(
            RefusalCode::Truncated,
            format!("no trailer record ({trailer_type}): the file was cut short in transfer; nothing applied"),
        ));
    };
    let declared: usize = count.trim().parse().map_err(|_| {
        Refusal::new(
            RefusalCode::Truncated,
            format!("line {line}: trailer count {:?} is not a number", crate::connectors::limits::printable(&count)),
        )
    })?;
    if declared != records {
        return Err(Refusal::new(
            RefusalCode::Truncated,
            format!(
                "trailer (line {line}) says {declared} records, the file has {records}: cut short in transfer; nothing applied"
            ),
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FixedWidthOptions {
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

    fn read(body: &str) -> Result<Decoded, Refusal> {
        decode(&opts(), body, &ParseLimits::default())
    }

    #[test]
    fn short_lines_read_as_blanks_and_trailer_counts() {
        let d = read("HDPROV0001\r\nTRabc\r\nTRxyz1234\r\nTL00000002\r\n").unwrap();
        assert_eq!(d.file["provider"], "PROV0001");
        let first = d.items[0].tree.as_ref().unwrap();
        assert_eq!(first["a"], "abc");
        assert_eq!(first["b"], "");
        assert_eq!(d.items[1].position, 3);
        let cut = read("HDPROV0001\r\nTRabc\r\nTL00000005\r\n").err().unwrap();
        assert_eq!(cut.code, RefusalCode::Truncated);
        assert!(cut.reason.contains("says 5 records, the file has 1"), "{}", cut.reason);
        let no_trailer = read("HDPROV0001\r\nTRabc\r\n").err().unwrap();
        assert!(no_trailer.reason.contains("no trailer"));
    }

    #[test]
    fn nul_in_a_record_refuses_that_line_only() {
        let d = read("HDPROV0001\nTRabc\nTRa\u{0}c\nTL00000002\n").unwrap();
        assert!(d.items[0].tree.is_ok());
        let err = d.items[1].tree.as_ref().unwrap_err();
        assert_eq!(err.code, RefusalCode::NulByte);
        assert!(err.reason.starts_with("line 3, field a:"), "{}", err.reason);
    }

    #[test]
    fn record_count_and_line_length_are_bounded() {
        let limits = ParseLimits { max_items: 2, max_row_bytes: 20, ..Default::default() };
        let err = decode(&opts(), "HDPROV0001\nTRa\nTRb\nTRc\nTL00000003\n", &limits).err().unwrap();
        assert!(err.reason.contains("more than 2 records"), "{}", err.reason);
        let long = format!("HDPROV0001\nTR{}\nTL00000001\n", "x".repeat(30));
        let err = decode(&opts(), &long, &limits).err().unwrap();
        assert!(err.reason.contains("line 2: is 32 bytes"), "{}", err.reason);
    }
}
