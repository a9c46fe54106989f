//! The canonical Avro schemas (`schemas/*.avsc`, embedded at build time): the one module that
//! reads them, validates events against them, encodes and decodes Avro (plain datums and single
//! object encoding), computes fingerprints and checks compatibility with the released version.
//!
//! Events travel inside the hub as JSON values shaped like the schema (dates `YYYY-MM-DD`,
//! instants RFC 3339, unions as the bare value) — the same shape a JSON subscriber receives — and
//! become Avro only here, where the schema decides every type.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::Schema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

const NAMESPACE: &str = "tracker.v1";
const ENVELOPE: &str = "Update";

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{path}: {message}")]
    Mismatch { path: String, message: String },
    #[error("avro: {0}")]
    Avro(String),
}

/// One event type's record schema and its branch in the envelope's payload union.
pub struct EventSchema {
    pub union_index: u32,
    pub fields: BTreeSet<String>,
    /// Nested record fields, by dotted path (e.g. `officer.code`), for mapping checks.
    pub nested: BTreeMap<String, BTreeSet<String>>,
}

pub struct Schemas {
    /// Each file's JSON, by file stem.
    pub files: BTreeMap<String, Json>,
    /// The envelope with every named type defined inline once: the writer schema subscribers fetch.
    pub envelope_json: Json,
    envelope: &'static Schema,
    writer: GenericDatumWriter<'static>,
    reader: GenericDatumReader<'static>,
    /// CRC-64-AVRO fingerprint bytes as written after `C3 01` (little-endian).
    pub fingerprint: [u8; 8],
    pub events: BTreeMap<String, EventSchema>,
}

static SCHEMAS: OnceLock<Schemas> = OnceLock::new();

/// The embedded schemas, parsed once per process.
pub fn get() -> Result<&'static Schemas, SchemaError> {
    if let Some(s) = SCHEMAS.get() {
        return Ok(s);
    }
    let built = Schemas::build(SCHEMA_FILES)?;
    Ok(SCHEMAS.get_or_init(|| built))
}

impl Schemas {
    fn build(sources: &[(&str, &str)]) -> Result<Schemas, SchemaError> {
        let mut files = BTreeMap::new();
        for (stem, text) in sources {
            let json: Json = serde_json::from_str(text)
                .map_err(|e| SchemaError::Invalid { file: format!("{stem}.avsc"), message: e.to_string() })?;
            files.insert(stem.to_string(), json);
        }
        let envelope_json = expand(&files)?;
        let schema = Schema::parse(&envelope_json)
            .map_err(|e| SchemaError::Invalid { file: format!("{ENVELOPE}.avsc"), message: e.to_string() })?;
        let envelope: &'static Schema = Box::leak(Box::new(schema));
        let fingerprint = rabin_fingerprint(parsing_canonical_form(&envelope_json, NAMESPACE).as_bytes()).to_le_bytes();
        let writer = GenericDatumWriter::builder(envelope).build().map_err(|e| SchemaError::Avro(e.to_string()))?;
        let reader = GenericDatumReader::builder(envelope).build().map_err(|e| SchemaError::Avro(e.to_string()))?;
        let events = event_schemas(envelope)?;
        Ok(Schemas { files, envelope_json, envelope, writer, reader, fingerprint, events })
    }

    /// The fingerprint in hex, bytes in the order they are written (as the Avro specification
    /// and fastavro print it).
    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.fingerprint)
    }

    pub fn envelope(&self) -> &Schema {
        self.envelope
    }

    /// Validates an `Update` (JSON shape) against the envelope and encodes it as an Avro datum.
    pub fn encode_datum(&self, update: &Json) -> Result<Vec<u8>, SchemaError> {
        let value = to_avro(update, self.envelope, ENVELOPE)?;
        self.writer.write_value_to_vec(value).map_err(|e| SchemaError::Avro(e.to_string()))
    }

    /// Single-object encoding: `C3 01`, the fingerprint, then the datum.
    pub fn encode_single_object(&self, update: &Json) -> Result<Vec<u8>, SchemaError> {
        let datum = self.encode_datum(update)?;
        let mut out = Vec::with_capacity(datum.len() + 10);
        out.extend_from_slice(&[0xC3, 0x01]);
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&datum);
        Ok(out)
    }

    /// Decodes a datum written with the envelope back to the JSON shape.
    pub fn decode_datum(&self, bytes: &[u8]) -> Result<Json, SchemaError> {
        let mut cursor = bytes;
        let value = self.reader.read_value(&mut cursor).map_err(|e| SchemaError::Avro(e.to_string()))?;
        Ok(from_avro(&value))
    }

    /// Decodes a single-object encoded message, checking its marker and fingerprint.
    pub fn decode_single_object(&self, bytes: &[u8]) -> Result<Json, SchemaError> {
        if bytes.len() < 10 || bytes[..2] != [0xC3, 0x01] {
            return Err(SchemaError::Avro("not single-object encoded".into()));
        }
        if bytes[2..10] != self.fingerprint {
            return Err(SchemaError::Avro(format!("unknown schema fingerprint {}", hex::encode(&bytes[2..10]))));
        }
        self.decode_datum(&bytes[10..])
    }
}

fn event_schemas(envelope: &Schema) -> Result<BTreeMap<String, EventSchema>, SchemaError> {
    let Schema::Record(env) = envelope else {
        return Err(SchemaError::Avro("the envelope is not a record".into()));
    };
    let payload = env
        .fields
        .iter()
        .find(|f| f.name == "payload")
        .ok_or_else(|| SchemaError::Avro("the envelope has no payload field".into()))?;
    let Schema::Union(union) = &payload.schema else {
        return Err(SchemaError::Avro("payload is not a union".into()));
    };
    let mut out = BTreeMap::new();
    for (i, variant) in union.variants().iter().enumerate() {
        if let Schema::Record(r) = variant {
            let fields = r.fields.iter().map(|f| f.name.clone()).collect();
            let mut nested = BTreeMap::new();
            for f in &r.fields {
                if let Some(inner) = record_inside(&f.schema) {
                    nested.insert(f.name.clone(), inner.fields.iter().map(|g| g.name.clone()).collect());
                }
            }
            out.insert(r.name.name().to_string(), EventSchema { union_index: i as u32, fields, nested });
        }
    }
    Ok(out)
}

/// The record a field holds directly, as an array's items, or inside a nullable union.
fn record_inside(schema: &Schema) -> Option<&apache_avro::schema::RecordSchema> {
    match schema {
        Schema::Record(r) => Some(r),
        Schema::Array(a) => record_inside(&a.items),
        Schema::Union(u) => u.variants().iter().find_map(record_inside),
        _ => None,
    }
}

/// The envelope with every referenced named type inlined at its first use.
fn expand(files: &BTreeMap<String, Json>) -> Result<Json, SchemaError> {
    let mut named = BTreeMap::new();
    for (stem, json) in files {
        if let Some(name) = json.get("name").and_then(Json::as_str) {
            named.insert(full_name(name, json), stem.clone());
        }
    }
    let root = files
        .get(ENVELOPE)
        .ok_or_else(|| SchemaError::Invalid { file: format!("{ENVELOPE}.avsc"), message: "missing".into() })?;
    let mut defined = BTreeSet::new();
    inline(root, files, &named, &mut defined)
}

fn full_name(name: &str, json: &Json) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        let ns = json.get("namespace").and_then(Json::as_str).unwrap_or(NAMESPACE);
        format!("{ns}.{name}")
    }
}

fn inline(
    json: &Json,
    files: &BTreeMap<String, Json>,
    named: &BTreeMap<String, String>,
    defined: &mut BTreeSet<String>,
) -> Result<Json, SchemaError> {
    Ok(match json {
        Json::String(s) => {
            let full = if s.contains('.') { s.clone() } else { format!("{NAMESPACE}.{s}") };
            match named.get(&full) {
                Some(stem) if !defined.contains(&full) => {
                    let def = files.get(stem).ok_or_else(|| SchemaError::Avro(format!("no file for {full}")))?;
                    inline(def, files, named, defined)?
                }
                _ => json.clone(),
            }
        }
        Json::Array(items) => {
            Json::Array(items.iter().map(|i| inline(i, files, named, defined)).collect::<Result<_, _>>()?)
        }
        Json::Object(obj) => {
            if let (Some(Json::String(kind)), Some(Json::String(name))) = (obj.get("type"), obj.get("name"))
                && matches!(kind.as_str(), "record" | "enum" | "fixed")
            {
                defined.insert(full_name(name, json));
            }
            let mut out = Map::new();
            for (k, v) in obj {
                let v = if matches!(k.as_str(), "type" | "items" | "values" | "fields") {
                    inline(v, files, named, defined)?
                } else {
                    v.clone()
                };
                out.insert(k.clone(), v);
            }
            Json::Object(out)
        }
        other => other.clone(),
    })
}

/// The Parsing Canonical Form of the Avro specification: full names, only the attributes that
/// matter for reading (logical types, docs and defaults stripped), fixed attribute order, no
/// whitespace. (apache-avro keeps `{"type":"string"}` for logical types, which other libraries
/// do not; subscribers find the schema by this fingerprint, so it must be the standard one.)
pub fn parsing_canonical_form(schema: &Json, namespace: &str) -> String {
    match schema {
        Json::String(s) => Json::String(full(s, namespace)).to_string(),
        Json::Array(branches) => {
            format!("[{}]", branches.iter().map(|b| parsing_canonical_form(b, namespace)).collect::<Vec<_>>().join(","))
        }
        Json::Object(obj) => {
            let kind = obj.get("type").cloned().unwrap_or(Json::Null);
            let kind_name = kind.as_str().unwrap_or_default();
            if !matches!(kind_name, "record" | "error" | "enum" | "fixed" | "array" | "map") {
                // A primitive (possibly with a logical type): its simple form.
                return parsing_canonical_form(&kind, namespace);
            }
            let mut parts = Vec::new();
            let mut inner_ns = namespace.to_string();
            if let Some(name) = obj.get("name").and_then(Json::as_str) {
                let ns = obj.get("namespace").and_then(Json::as_str).unwrap_or(namespace);
                let full_name = full(name, ns);
                inner_ns = full_name.rsplit_once('.').map_or(String::new(), |(n, _)| n.to_string());
                parts.push(format!("\"name\":{}", Json::String(full_name)));
            }
            let kind_out = if kind_name == "error" { "record" } else { kind_name };
            parts.push(format!("\"type\":{}", Json::String(kind_out.to_string())));
            if let Some(Json::Array(fields)) = obj.get("fields") {
                let fs: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{{\"name\":{},\"type\":{}}}",
                            f.get("name").cloned().unwrap_or(Json::Null),
                            parsing_canonical_form(f.get("type").unwrap_or(&Json::Null), &inner_ns)
                        )
                    })
                    .collect();
                parts.push(format!("\"fields\":[{}]", fs.join(",")));
            }
            if let Some(symbols) = obj.get("symbols") {
                parts.push(format!("\"symbols\":{symbols}"));
            }
            if let Some(items) = obj.get("items") {
                parts.push(format!("\"items\":{}", parsing_canonical_form(items, &inner_ns)));
            }
            if let Some(values) = obj.get("values") {
                parts.push(format!("\"values\":{}", parsing_canonical_form(values, &inner_ns)));
            }
            if let Some(size) = obj.get("size") {
                parts.push(format!("\"size\":{size}"));
            }
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

const PRIMITIVES: [&str; 8] = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

fn full(name: &str, namespace: &str) -> String {
    if name.contains('.') || PRIMITIVES.contains(&name) || namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

/// CRC-64-AVRO (Rabin) fingerprint, as the Avro specification defines it.
pub fn rabin_fingerprint(bytes: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let table: Vec<u64> =
        (0..256u64).map(|i| (0..8).fold(i, |fp, _| (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg()))).collect();
    bytes.iter().fold(EMPTY, |fp, b| (fp >> 8) ^ table[((fp ^ u64::from(*b)) & 0xff) as usize])
}

fn mismatch(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError::Mismatch { path: path.to_string(), message: message.into() }
}

/// Converts the JSON shape to an Avro value, validating it against `schema`.
pub fn to_avro(json: &Json, schema: &Schema, path: &str) -> Result<Value, SchemaError> {
    Ok(match schema {
        Schema::Null => match json {
            Json::Null => Value::Null,
            _ => return Err(mismatch(path, "expected null")),
        },
        Schema::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| mismatch(path, "expected a boolean"))?),
        Schema::Int => {
            let n = json.as_i64().ok_or_else(|| mismatch(path, "expected an integer"))?;
            Value::Int(i32::try_from(n).map_err(|_| mismatch(path, "integer out of range"))?)
        }
        Schema::Long => Value::Long(json.as_i64().ok_or_else(|| mismatch(path, "expected an integer"))?),
        Schema::Double => Value::Double(json.as_f64().ok_or_else(|| mismatch(path, "expected a number"))?),
        Schema::String => Value::String(json.as_str().ok_or_else(|| mismatch(path, "expected text"))?.to_string()),
        Schema::Uuid(_) => {
            let s = json.as_str().ok_or_else(|| mismatch(path, "expected a UUID"))?;
            Value::Uuid(uuid::Uuid::parse_str(s).map_err(|_| mismatch(path, "not a UUID"))?)
        }
        Schema::Date => {
            let s = json.as_str().ok_or_else(|| mismatch(path, "expected a date YYYY-MM-DD"))?;
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| mismatch(path, "not a date YYYY-MM-DD"))?;
            Value::Date(days_since_epoch(d))
        }
        Schema::TimestampMicros => {
            let s = json.as_str().ok_or_else(|| mismatch(path, "expected an RFC 3339 instant"))?;
            let t = DateTime::parse_from_rfc3339(s).map_err(|_| mismatch(path, "not an RFC 3339 instant"))?;
            Value::TimestampMicros(t.timestamp_micros())
        }
        Schema::Array(a) => {
            let items = json.as_array().ok_or_else(|| mismatch(path, "expected a list"))?;
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| to_avro(v, &a.items, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Schema::Union(u) => {
            let variants = u.variants();
            if json.is_null() {
                let i = variants
                    .iter()
                    .position(|v| matches!(v, Schema::Null))
                    .ok_or_else(|| mismatch(path, "may not be null"))?;
                Value::Union(i as u32, Box::new(Value::Null))
            } else {
                let mut last = None;
                let mut found = None;
                for (i, v) in variants.iter().enumerate() {
                    if matches!(v, Schema::Null) {
                        continue;
                    }
                    match to_avro(json, v, path) {
                        Ok(value) => {
                            found = Some(Value::Union(i as u32, Box::new(value)));
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                match (found, last) {
                    (Some(v), _) => v,
                    (None, Some(e)) => return Err(e),
                    (None, None) => return Err(mismatch(path, "no union branch fits")),
                }
            }
        }
        Schema::Record(r) => {
            let obj = json.as_object().ok_or_else(|| mismatch(path, format!("expected a {} record", r.name.name())))?;
            for key in obj.keys() {
                if !r.lookup.contains_key(key) {
                    return Err(mismatch(&format!("{path}.{key}"), format!("{} has no field {key}", r.name.name())));
                }
            }
            let mut fields = Vec::with_capacity(r.fields.len());
            for f in &r.fields {
                let fpath = format!("{path}.{}", f.name);
                let value = match obj.get(&f.name) {
                    // The payload union holds one record per event type; the event type picks it.
                    Some(v) if f.name == "payload" && r.name.name() == ENVELOPE => {
                        payload_to_avro(obj, v, &f.schema, &fpath)?
                    }
                    Some(v) => to_avro(v, &f.schema, &fpath)?,
                    None => match &f.default {
                        Some(d) => to_avro(d, &f.schema, &fpath)?,
                        None => return Err(mismatch(&fpath, "is required")),
                    },
                };
                fields.push((f.name.clone(), value));
            }
            Value::Record(fields)
        }
        other => {
            return Err(mismatch(path, format!("schema type {other:?} is not used by Tracker")));
        }
    })
}

fn payload_to_avro(
    envelope: &Map<String, Json>,
    payload: &Json,
    schema: &Schema,
    path: &str,
) -> Result<Value, SchemaError> {
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
    Ok(Value::Union(i as u32, Box::new(to_avro(payload, branch, path)?)))
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

/// Converts an Avro value back to the JSON shape.
pub fn from_avro(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Long(i) => Json::from(*i),
        Value::Float(f) => Json::from(f64::from(*f)),
        Value::Double(f) => Json::from(*f),
        Value::String(s) | Value::Enum(_, s) => Json::String(s.clone()),
        Value::Uuid(u) => Json::String(u.to_string()),
        Value::Date(d) => {
            // Checked: a corrupt datum can name a day past chrono's range (found by fuzzing,
            // where `+` panicked). Such a date reads as null.
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            epoch
                .checked_add_signed(chrono::Duration::days(i64::from(*d)))
                .map_or(Json::Null, |day| Json::String(day.format("%Y-%m-%d").to_string()))
        }
        Value::TimestampMicros(us) => Json::String(
            DateTime::<Utc>::from_timestamp_micros(*us)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                .unwrap_or_default(),
        ),
        Value::Union(_, inner) => from_avro(inner),
        Value::Array(items) => Json::Array(items.iter().map(from_avro).collect()),
        Value::Record(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), from_avro(v))).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), from_avro(v))).collect()),
        other => Json::String(format!("{other:?}")),
    }
}

/// Backward compatibility: can the current schemas read everything written with `released`
/// (a map of file stem to schema JSON)? Returns one line per problem.
pub fn check_compatibility(released: &BTreeMap<String, Json>) -> Result<Vec<String>, SchemaError> {
    let current = get()?;
    let old = Schemas::build_from_json(released)?;
    let mut problems = Vec::new();
    if let Err(e) = apache_avro::schema_compatibility::SchemaCompatibility::can_read(old.envelope, current.envelope) {
        problems.push(format!(
            "Update (with every event type): new schemas cannot read data written with the released ones: {e}"
        ));
    }
    for name in old.events.keys() {
        if !current.events.contains_key(name) {
            problems.push(format!("{name}: event type removed"));
        }
    }
    Ok(problems)
}

impl Schemas {
    fn build_from_json(files: &BTreeMap<String, Json>) -> Result<Schemas, SchemaError> {
        let texts: Vec<(String, String)> = files.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
        let refs: Vec<(&str, &str)> = texts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Schemas::build(&refs)
    }
}

#[cfg(test)]
mod tests;
