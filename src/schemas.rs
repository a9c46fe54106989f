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
use serde_json::{Map, Value as Json};

mod binary;
mod canonical;
mod convert;
pub use canonical::{parsing_canonical_form, rabin_fingerprint};
pub use convert::from_avro;

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
    /// CRC-64-AVRO fingerprint bytes as written after `C3 01` (little-endian).
    pub fingerprint: [u8; 8],
    pub events: BTreeMap<String, EventSchema>,
    /// Earlier writer schemas by fingerprint: what they wrote is read into the current shape.
    earlier: BTreeMap<[u8; 8], Earlier>,
}

/// An earlier writer schema (`schemas/history/`): its JSON, served to subscribers still holding
/// messages written with it, and a reader that resolves its data to the current schema (fields
/// added since take their defaults).
struct Earlier {
    json: Json,
    reader: GenericDatumReader<'static>,
}

static SCHEMAS: OnceLock<Schemas> = OnceLock::new();

/// The embedded schemas, parsed once per process.
pub fn get() -> Result<&'static Schemas, SchemaError> {
    if let Some(s) = SCHEMAS.get() {
        return Ok(s);
    }
    let built = Schemas::build(SCHEMA_FILES, HISTORY_FILES)?;
    Ok(SCHEMAS.get_or_init(|| built))
}

impl Schemas {
    fn build(sources: &[(&str, &str)], history: &[(&str, &str)]) -> Result<Schemas, SchemaError> {
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
        let events = event_schemas(envelope)?;
        let mut earlier = BTreeMap::new();
        for (name, text) in history {
            let file = format!("history/{name}.json");
            let json: Json = serde_json::from_str(text)
                .map_err(|e| SchemaError::Invalid { file: file.clone(), message: e.to_string() })?;
            let its = rabin_fingerprint(parsing_canonical_form(&json, NAMESPACE).as_bytes()).to_le_bytes();
            if hex::encode(its) != *name {
                let message = format!("its fingerprint is {}, not the file's name", hex::encode(its));
                return Err(SchemaError::Invalid { file, message });
            }
            // The current schema (released, so in the history too) needs no reader of its own.
            if its == fingerprint {
                continue;
            }
            let old = Schema::parse(&json)
                .map_err(|e| SchemaError::Invalid { file: file.clone(), message: e.to_string() })?;
            // Kept for the life of the process, held by its reader in the schemas' static.
            let old: &'static Schema = Box::leak(Box::new(old));
            let reader = GenericDatumReader::builder(old).reader_schema(envelope).build().map_err(|e| {
                SchemaError::Invalid { file, message: format!("cannot be read as the current schema: {e}") }
            })?;
            earlier.insert(its, Earlier { json, reader });
        }
        Ok(Schemas { files, envelope_json, envelope, fingerprint, events, earlier })
    }

    /// The writer schema with `fingerprint` (as written after `C3 01`): the current one or an
    /// earlier one.
    pub fn writer_json(&self, fingerprint: &[u8]) -> Option<&Json> {
        if fingerprint == self.fingerprint {
            return Some(&self.envelope_json);
        }
        let key: [u8; 8] = fingerprint.try_into().ok()?;
        self.earlier.get(&key).map(|e| &e.json)
    }

    /// Every fingerprint this hub reads: the current first, then the earlier ones.
    pub fn known_fingerprints(&self) -> Vec<[u8; 8]> {
        std::iter::once(self.fingerprint).chain(self.earlier.keys().copied()).collect()
    }

    /// Decodes a stored datum written with the schema `fingerprint` (the current or an earlier
    /// one) into the current shape.
    pub fn decode_stored(&self, fingerprint: &[u8], bytes: &[u8]) -> Result<Json, SchemaError> {
        if fingerprint == self.fingerprint {
            return self.decode_datum(bytes);
        }
        let earlier = <[u8; 8]>::try_from(fingerprint)
            .ok()
            .and_then(|key| self.earlier.get(&key))
            .ok_or_else(|| SchemaError::Avro(format!("unknown writer schema {}", hex::encode(fingerprint))))?;
        let mut cursor = bytes;
        let value = earlier.reader.read_value(&mut cursor).map_err(|e| SchemaError::Avro(e.to_string()))?;
        Ok(from_avro(&value))
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
        binary::encode(update, self.envelope, ENVELOPE)
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
        binary::decode(bytes, self.envelope)
    }

    /// Decodes a single-object encoded message, checking its marker and fingerprint.
    pub fn decode_single_object(&self, bytes: &[u8]) -> Result<Json, SchemaError> {
        if bytes.len() < 10 || bytes[..2] != [0xC3, 0x01] {
            return Err(SchemaError::Avro("not single-object encoded".into()));
        }
        if self.writer_json(&bytes[2..10]).is_none() {
            return Err(SchemaError::Avro(format!("unknown schema fingerprint {}", hex::encode(&bytes[2..10]))));
        }
        self.decode_stored(&bytes[2..10], &bytes[10..])
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
        Schemas::build(&refs, &[])
    }
}

#[cfg(test)]
mod tests;
