//! Avro's binary encoding written straight from the JSON shape, validating as it goes, and read
//! straight back into it, walking the parsed schema.
//!
//! Why by hand, beside apache-avro: its writer goes through its own `Value` tree, validates the
//! whole tree first and builds a hashed field lookup for every record it writes, and its reader
//! builds the same tree before it becomes JSON. Converting, encoding and decoding were about a
//! third of the hub's own processor time (perf during `tracker bench inbound` and `bench
//! delivery`, session 25). Tracker's schemas use a handful of types (records, unions, arrays,
//! strings, numbers, booleans and the date, instant and UUID logical types), each a few lines of
//! the specification. apache-avro stays the reference: the tests read what this writes with it,
//! and it reads data written with earlier schemas, which needs schema resolution.
//!
//! Reading takes bytes from storage and from the fuzzers: every length is checked against what is
//! left, the items of all arrays together are bounded by the datum's size, and nesting is the
//! schema's (Tracker's schemas are not recursive), so time and memory follow the input's size.
use apache_avro::schema::{Schema, UuidSchema};
use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value as Json};

use super::{ENVELOPE, SchemaError};

/// Where a value sits in the record being written. Built on the stack as the writing goes down,
/// and formatted only for an error: formatting every field's path up front was a tenth of the
/// hub's own time reading custody files.
#[derive(Clone, Copy)]
enum At<'a> {
    Root(&'a str),
    Field(&'a At<'a>, &'a str),
    Item(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Field(parent, name) => write!(f, "{parent}.{name}"),
            At::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn mismatch(path: &At, message: impl Into<String>) -> SchemaError {
    SchemaError::Mismatch { path: path.to_string(), message: message.into() }
}

/// Encodes the JSON shape as an Avro datum of `schema`, refusing (with the value's path, starting
/// at `root`) anything the schema does not allow: unknown fields, missing required ones, values of
/// the wrong type.
pub fn encode(json: &Json, schema: &Schema, root: &str) -> Result<Vec<u8>, SchemaError> {
    let mut out = Vec::with_capacity(512);
    write(json, schema, &At::Root(root), &mut out)?;
    Ok(out)
}

fn write(json: &Json, schema: &Schema, path: &At, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    match schema {
        Schema::Null => {
            if !json.is_null() {
                return Err(mismatch(path, "expected null"));
            }
        }
        Schema::Boolean => out.push(u8::from(json.as_bool().ok_or_else(|| mismatch(path, "expected a boolean"))?)),
        Schema::Int => {
            let n = json.as_i64().ok_or_else(|| mismatch(path, "expected an integer"))?;
            let n = i32::try_from(n).map_err(|_| mismatch(path, "integer out of range"))?;
            write_long(i64::from(n), out);
        }
        Schema::Long => write_long(json.as_i64().ok_or_else(|| mismatch(path, "expected an integer"))?, out),
        Schema::Double => {
            out.extend_from_slice(&json.as_f64().ok_or_else(|| mismatch(path, "expected a number"))?.to_le_bytes())
        }
        Schema::String => write_text(json.as_str().ok_or_else(|| mismatch(path, "expected text"))?, out),
        Schema::Uuid(UuidSchema::String) => {
            let s = json.as_str().ok_or_else(|| mismatch(path, "expected a UUID"))?;
            let id = uuid::Uuid::parse_str(s).map_err(|_| mismatch(path, "not a UUID"))?;
            // Written in its canonical form, whatever form it came in.
            write_text(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()), out);
        }
        Schema::Date => {
            let s = json.as_str().ok_or_else(|| mismatch(path, "expected a date YYYY-MM-DD"))?;
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| mismatch(path, "not a date YYYY-MM-DD"))?;
            write_long(i64::from((d - epoch()).num_days() as i32), out);
        }
        Schema::TimestampMicros => {
            let s = json.as_str().ok_or_else(|| mismatch(path, "expected an RFC 3339 instant"))?;
            let t = DateTime::parse_from_rfc3339(s).map_err(|_| mismatch(path, "not an RFC 3339 instant"))?;
            write_long(t.timestamp_micros(), out);
        }
        Schema::Array(a) => {
            let items = json.as_array().ok_or_else(|| mismatch(path, "expected a list"))?;
            // One block holding every item, then the empty block that ends the list.
            if !items.is_empty() {
                write_long(items.len() as i64, out);
                for (i, item) in items.iter().enumerate() {
                    write(item, &a.items, &At::Item(path, i), out)?;
                }
            }
            write_long(0, out);
        }
        Schema::Union(u) => write_union(json, u.variants(), path, out)?,
        Schema::Record(r) => {
            let obj = json.as_object().ok_or_else(|| mismatch(path, format!("expected a {} record", r.name.name())))?;
            if let Some(key) = obj.keys().find(|key| !r.lookup.contains_key(*key)) {
                return Err(mismatch(&At::Field(path, key), format!("{} has no field {key}", r.name.name())));
            }
            for f in &r.fields {
                let fpath = At::Field(path, &f.name);
                match obj.get(&f.name) {
                    // The payload union holds one record per event type; the event type picks it.
                    Some(v) if f.name == "payload" && r.name.name() == ENVELOPE => {
                        write_payload(obj, v, &f.schema, &fpath, out)?
                    }
                    Some(v) => write(v, &f.schema, &fpath, out)?,
                    None => match &f.default {
                        Some(d) => write(d, &f.schema, &fpath, out)?,
                        None => return Err(mismatch(&fpath, "is required")),
                    },
                }
            }
        }
        other => return Err(mismatch(path, format!("schema type {other:?} is not used by Tracker"))),
    }
    Ok(())
}

/// A union is given as its bare value: null takes the null branch, anything else the first
/// branch it fits (the error of the last branch tried explains a value that fits none).
fn write_union(json: &Json, variants: &[Schema], path: &At, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    if json.is_null() {
        let i =
            variants.iter().position(|v| matches!(v, Schema::Null)).ok_or_else(|| mismatch(path, "may not be null"))?;
        write_long(i as i64, out);
        return Ok(());
    }
    let mut last = None;
    for (i, variant) in variants.iter().enumerate().filter(|(_, v)| !matches!(v, Schema::Null)) {
        let start = out.len();
        write_long(i as i64, out);
        match write(json, variant, path, out) {
            Ok(()) => return Ok(()),
            Err(e) => {
                out.truncate(start);
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| mismatch(path, "no union branch fits")))
}

/// The envelope's payload: the union branch named by the envelope's `event_type`.
fn write_payload(
    envelope: &Map<String, Json>,
    payload: &Json,
    schema: &Schema,
    path: &At,
    out: &mut Vec<u8>,
) -> Result<(), SchemaError> {
    let event_type =
        envelope.get("event_type").and_then(Json::as_str).ok_or_else(|| mismatch(path, "event_type missing"))?;
    let Schema::Union(u) = schema else {
        return Err(mismatch(path, "payload is not a union"));
    };
    let (i, branch) = u
        .variants()
        .iter()
        .enumerate()
        .find(|(_, v)| matches!(v, Schema::Record(r) if r.name.name() == event_type))
        .ok_or_else(|| mismatch(path, format!("no schema for event type {event_type}")))?;
    write_long(i as i64, out);
    write(payload, branch, path, out)
}

/// A zigzag varint: Avro's `int` and `long`.
fn write_long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z > 0x7F {
        out.push(0x80 | (z & 0x7F) as u8);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_text(s: &str, out: &mut Vec<u8>) {
    write_long(s.len() as i64, out);
    out.extend_from_slice(s.as_bytes());
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Decodes one Avro datum of `schema` into the JSON shape. The datum must be the whole of
/// `bytes`; anything malformed is refused with the byte offset where it was found.
pub fn decode(bytes: &[u8], schema: &Schema) -> Result<Json, SchemaError> {
    let mut reader = Reader { bytes, at: 0, items_left: bytes.len() };
    let value = reader.value(schema)?;
    if reader.at != bytes.len() {
        return Err(reader.refuse(format!("{} bytes after the datum", bytes.len() - reader.at)));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Array items still allowed: at most one per byte of the datum, so a list of empty items
    /// cannot claim more work than its size.
    items_left: usize,
}

impl Reader<'_> {
    fn refuse(&self, message: impl std::fmt::Display) -> SchemaError {
        SchemaError::Avro(format!("byte {}: {message}", self.at))
    }

    fn take(&mut self, n: usize) -> Result<&[u8], SchemaError> {
        if self.bytes.len() - self.at < n {
            return Err(self.refuse(format!("{n} bytes wanted, {} left", self.bytes.len() - self.at)));
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(taken)
    }

    fn long(&mut self) -> Result<i64, SchemaError> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            z |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(self.refuse("a number longer than ten bytes"))
    }

    fn int(&mut self) -> Result<i32, SchemaError> {
        let n = self.long()?;
        i32::try_from(n).map_err(|_| self.refuse(format!("{n} is out of range for an int")))
    }

    /// A length or count: not negative, and no more than the bytes left.
    fn size(&mut self) -> Result<usize, SchemaError> {
        let n = self.long()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len() - self.at)
            .ok_or_else(|| self.refuse(format!("a length of {n} with {} bytes left", self.bytes.len() - self.at)))
    }

    fn text(&mut self) -> Result<String, SchemaError> {
        let n = self.size()?;
        let start = self.at;
        let raw = self.take(n)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(SchemaError::Avro(format!("byte {start}: text that is not UTF-8"))),
        }
    }

    fn value(&mut self, schema: &Schema) -> Result<Json, SchemaError> {
        Ok(match schema {
            Schema::Null => Json::Null,
            Schema::Boolean => match self.take(1)?[0] {
                0 => Json::Bool(false),
                1 => Json::Bool(true),
                other => return Err(self.refuse(format!("{other} is not a boolean"))),
            },
            Schema::Int => Json::from(self.int()?),
            Schema::Long => Json::from(self.long()?),
            Schema::Double => {
                let raw: [u8; 8] = self.take(8)?.try_into().map_err(|_| self.refuse("a double is eight bytes"))?;
                Json::from(f64::from_le_bytes(raw))
            }
            Schema::String => Json::String(self.text()?),
            Schema::Uuid(UuidSchema::String) => {
                let start = self.at;
                let text = self.text()?;
                let id = uuid::Uuid::parse_str(&text)
                    .map_err(|_| SchemaError::Avro(format!("byte {start}: {text:?} is not a UUID")))?;
                Json::String(id.to_string())
            }
            // Read as `from_avro` reads apache-avro's values, past chrono's calendar included.
            Schema::Date => super::convert::date_from_days(self.int()?),
            Schema::TimestampMicros => super::convert::instant_from_micros(self.long()?),
            Schema::Array(a) => {
                let mut items = Vec::new();
                loop {
                    let count = self.long()?;
                    if count == 0 {
                        break;
                    }
                    if count < 0 {
                        // A negative count is followed by the block's size in bytes.
                        self.long()?;
                    }
                    let count = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
                    if count > self.items_left {
                        return Err(
                            self.refuse(format!("a list of {count} items in a datum of {} bytes", self.bytes.len()))
                        );
                    }
                    self.items_left -= count;
                    items.reserve(count.min(1024));
                    for _ in 0..count {
                        items.push(self.value(&a.items)?);
                    }
                }
                Json::Array(items)
            }
            Schema::Union(u) => {
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| u.variants().get(i))
                    .ok_or_else(|| self.refuse(format!("union branch {i} of {}", u.variants().len())))?;
                self.value(branch)?
            }
            Schema::Record(r) => {
                let mut fields = Map::new();
                for f in &r.fields {
                    let value = self.value(&f.schema)?;
                    fields.insert(f.name.clone(), value);
                }
                Json::Object(fields)
            }
            other => return Err(self.refuse(format!("schema type {other:?} is not used by Tracker"))),
        })
    }
}
