//! CSV payloads: one item per record after the header. Linear in the payload: line numbers are
//! counted forward from the previous record, never from the top of the file again.
use serde_json::{Map, Value as Json};

use super::{Decoded, LineCounter, RawItem};
use crate::connectors::limits::{ParseLimits, check_values};
use crate::connectors::spec::CsvOptions;
use crate::connectors::{Refusal, RefusalCode};

/// A record as read: where it starts, its line, and its fields (or why it could not be read).
struct Record {
    start: usize,
    line: u64,
    fields: Result<csv::StringRecord, String>,
}

pub fn decode(opts: Option<&CsvOptions>, body: &str, limits: &ParseLimits) -> Result<Decoded, Refusal> {
    let (delimiter, quote, has_header) =
        opts.map_or((b',', b'"', true), |o| (o.delimiter as u8, o.quote as u8, o.header));
    if body.trim().is_empty() {
        let what = if has_header { "no header row and no records" } else { "no records" };
        return Err(Refusal::new(RefusalCode::Empty, format!("the file is empty: {what}")));
    }
    let records = read_records(body, delimiter, quote, limits)?;
    let mut header: Vec<String> = Vec::new();
    let mut items = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let end = records.get(i + 1).map_or(body.len(), |r| r.start);
        let raw = &body.as_bytes()[rec.start..end];
        let position = (i + 1) as u32;
        if i == 0 && has_header {
            header = read_header(rec, limits)?;
            continue;
        }
        let label = if rec.line == u64::from(position) {
            format!("row {position}")
        } else {
            format!("row {position} (line {})", rec.line)
        };
        let tree = row_tree(rec, &header, has_header, &label, raw.len(), limits);
        items.push(RawItem { position, label, tree, raw: raw.to_vec() });
    }
    Ok(Decoded { file: Json::Object(Map::new()), items })
}

/// A CSV reader over a copy of the payload, kept between payloads.
type CachedReader = csv::Reader<std::io::Cursor<Vec<u8>>>;

thread_local! {
    /// One reader per (delimiter, quote) on each thread. Building a reader computes its parser's
    /// state machine and allocates its buffer: for a one-row file that was most of reading it
    /// (3 % of the hub's CPU in the delivery benchmark), so a reader is built once and reset for
    /// each payload instead.
    static READERS: std::cell::RefCell<Vec<((u8, u8), CachedReader)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The reader for these settings, reset to the start of `body` (a copy of it: the cached reader
/// cannot borrow the payload).
fn reader_for(body: &str, delimiter: u8, quote: u8) -> CachedReader {
    let cached = READERS.with_borrow_mut(|readers| {
        let at = readers.iter().position(|(settings, _)| *settings == (delimiter, quote))?;
        Some(readers.swap_remove(at).1)
    });
    let mut reader = cached.unwrap_or_else(|| {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(quote)
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::Cursor::new(Vec::new()))
    });
    // Back to the start, the parser's state, line and position reset, while the reader holds no
    // payload (the seek reads the first record if none was read before: here, none), then the
    // new payload in its place. A seek on an empty cursor cannot fail.
    let _ = reader.seek_raw(std::io::SeekFrom::Start(0), csv::Position::new());
    *reader.get_mut() = std::io::Cursor::new(body.as_bytes().to_vec());
    reader
}

/// Returns a reader to the thread's cache, without the payload it held.
fn keep_reader(mut reader: CachedReader, delimiter: u8, quote: u8) {
    *reader.get_mut() = std::io::Cursor::new(Vec::new());
    READERS.with_borrow_mut(|readers| readers.push(((delimiter, quote), reader)));
}

fn read_records(body: &str, delimiter: u8, quote: u8, limits: &ParseLimits) -> Result<Vec<Record>, Refusal> {
    let mut reader = reader_for(body, delimiter, quote);
    let records = read_all(&mut reader, body, limits);
    keep_reader(reader, delimiter, quote);
    records
}

fn read_all(reader: &mut CachedReader, body: &str, limits: &ParseLimits) -> Result<Vec<Record>, Refusal> {
    let mut lines = LineCounter::new(body);
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        // The header and up to max_items records; one more means the file is over the limit.
        if records.len() > limits.max_items + 1 {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!("the file has more than {} records (limits.parse.max_items)", limits.max_items),
            ));
        }
        let (offset, fields) = match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => (record.position().map_or(0, |p| p.byte() as usize), Ok(record.clone())),
            Err(e) => {
                let offset = e.position().map_or(0, |p| p.byte() as usize);
                let io = matches!(e.kind(), csv::ErrorKind::Io(_));
                records.push(lines.record(offset, Err(e.to_string())));
                if io {
                    break;
                }
                continue;
            }
        };
        records.push(lines.record(offset, fields));
    }
    Ok(records)
}

fn read_header(rec: &Record, limits: &ParseLimits) -> Result<Vec<String>, Refusal> {
    let header: Vec<String> = match &rec.fields {
        Ok(r) => r.iter().map(|h| h.trim().to_string()).collect(),
        Err(e) => return Err(Refusal::new(RefusalCode::Malformed, format!("row 1 (the header): {e}"))),
    };
    let as_json = Json::Array(header.iter().cloned().map(Json::String).collect());
    check_values(&as_json, "row 1 (the header)", limits)?;
    Ok(header)
}

fn row_tree(
    rec: &Record,
    header: &[String],
    has_header: bool,
    label: &str,
    raw_len: usize,
    limits: &ParseLimits,
) -> Result<Json, Refusal> {
    if raw_len > limits.max_row_bytes {
        return Err(Refusal::new(
            RefusalCode::TooLarge,
            format!("{label}: is {raw_len} bytes; the limit is {} (limits.parse.max_row_bytes)", limits.max_row_bytes),
        ));
    }
    let r = rec.fields.as_ref().map_err(|e| Refusal::new(RefusalCode::Malformed, format!("{label}: {e}")))?;
    if has_header && r.len() != header.len() {
        return Err(Refusal::new(
            RefusalCode::FieldCount,
            format!("{label}: has {} fields, the header has {}", r.len(), header.len()),
        ));
    }
    let mut obj = Map::new();
    for (j, value) in r.iter().enumerate() {
        let key = header.get(j).cloned().unwrap_or_else(|| format!("{}", j + 1));
        obj.insert(key, Json::String(value.to_string()));
    }
    let tree = Json::Object(obj);
    check_values(&tree, label, limits)?;
    Ok(tree)
}

impl LineCounter<'_> {
    fn record(&mut self, offset: usize, fields: Result<csv::StringRecord, String>) -> Record {
        let start = record_start(self.bytes, offset);
        Record { start, line: self.line_at(start), fields }
    }
}

/// The csv crate may place a record's start on the line break ending the previous one.
fn record_start(bytes: &[u8], mut offset: usize) -> usize {
    while offset < bytes.len() && (bytes[offset] == b'\r' || bytes[offset] == b'\n') {
        offset += 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(payload: &str) -> Vec<RawItem> {
        decode(None, payload, &ParseLimits::default()).expect("decodes").items
    }

    #[test]
    fn quoted_commas_newlines_and_crlf() {
        let items = items("A,B,C\r\n1,\"x, y\",\"two\r\nlines\"\r\n2,\"say \"\"hi\"\"\",z\r\n");
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
    fn row_with_wrong_field_count_is_refused_alone() {
        let items = items("A,B\r\n1,2\r\n1,2,3\r\n4,5\r\n");
        assert!(items[0].tree.is_ok());
        let err = items[1].tree.as_ref().unwrap_err();
        assert_eq!(err.code, RefusalCode::FieldCount);
        assert!(err.reason.contains("row 3") && err.reason.contains("3 fields"), "{}", err.reason);
        assert!(items[2].tree.is_ok());
    }

    #[test]
    fn nul_in_a_field_refuses_that_row_only() {
        let items = items("A,B\n1,2\n3,x\u{0}y\n5,6\n");
        assert!(items[0].tree.is_ok() && items[2].tree.is_ok());
        let err = items[1].tree.as_ref().unwrap_err();
        assert_eq!(err.code, RefusalCode::NulByte);
        assert!(err.reason.starts_with("row 3, field B:"), "{}", err.reason);
    }

    #[test]
    fn empty_file_is_refused_and_header_only_has_no_items() {
        let err = decode(None, "", &ParseLimits::default()).err().unwrap();
        assert_eq!(err.code, RefusalCode::Empty);
        assert!(decode(None, " \r\n", &ParseLimits::default()).is_err());
        assert!(items("A,B\r\n").is_empty());
    }

    #[test]
    fn limits_on_rows_and_sizes() {
        let limits = ParseLimits { max_items: 3, max_field_bytes: 5, max_row_bytes: 12, ..Default::default() };
        let err = decode(None, "A\n1\n2\n3\n4\n", &limits).err().unwrap();
        assert!(err.reason.contains("more than 3 records"), "{}", err.reason);
        let d = decode(None, "A,B\n123456,1\n1234,12345678\n", &limits).unwrap();
        assert!(d.items[0].tree.as_ref().unwrap_err().reason.contains("field A: a value of 6 bytes"));
        assert!(d.items[1].tree.as_ref().unwrap_err().reason.contains("is 14 bytes"));
    }

    #[test]
    fn a_reader_kept_from_an_earlier_file_starts_the_next_afresh() {
        // A file that ends inside an open quote leaves its reader mid-field, on line 3.
        let _ = decode(None, "A,B\n1,2\n3,\"never closed\n", &ParseLimits::default());
        let pipes = CsvOptions { delimiter: '|', quote: '\'', header: true };
        for _ in 0..2 {
            let items = items("A,B\n1,\"x,y\"\n");
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].label, "row 2");
            assert_eq!(items[0].tree.as_ref().unwrap()["B"], "x,y");
            // Another connector's settings on the same thread, between files of the first.
            let d = decode(Some(&pipes), "A|B\n'1|2'|3\n", &ParseLimits::default()).unwrap();
            assert_eq!(d.items[0].tree.as_ref().unwrap()["A"], "1|2");
        }
    }

    #[test]
    fn line_numbers_counted_forward_stay_right() {
        let mut body = String::from("A,B\n");
        for i in 0..40_000 {
            body.push_str(&format!("{i},x\n"));
        }
        let d = decode(None, &body, &ParseLimits::default()).unwrap();
        assert_eq!(d.items.len(), 40_000);
        assert_eq!(d.items[39_999].label, "row 40001");
    }
}
