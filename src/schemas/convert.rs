//! Between the JSON shape events are stored in and Avro values: validating against the schema on
//! the way in, and back for reading deliveries.

use apache_avro::schema::Schema;
use apache_avro::types::Value;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use super::{ENVELOPE, SchemaError};

/// Where a value sits in the record being converted. Built on the stack as the conversion goes
/// down, and written out only for an error: formatting every field's path up front was a tenth
/// of the hub's own time reading custody files.
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

/// Converts the JSON shape to an Avro value, validating it against `schema`; `path` names the
/// value in error messages.
pub fn to_avro(json: &Json, schema: &Schema, path: &str) -> Result<Value, SchemaError> {
    convert(json, schema, &At::Root(path))
}

fn convert(json: &Json, schema: &Schema, path: &At) -> Result<Value, SchemaError> {
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
                    .map(|(i, v)| convert(v, &a.items, &At::Item(path, i)))
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
                    match convert(json, v, path) {
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
                    return Err(mismatch(&At::Field(path, key), format!("{} has no field {key}", r.name.name())));
                }
            }
            let mut fields = Vec::with_capacity(r.fields.len());
            for f in &r.fields {
                let fpath = At::Field(path, &f.name);
                let value = match obj.get(&f.name) {
                    // The payload union holds one record per event type; the event type picks it.
                    Some(v) if f.name == "payload" && r.name.name() == ENVELOPE => {
                        payload_to_avro(obj, v, &f.schema, &fpath)?
                    }
                    Some(v) => convert(v, &f.schema, &fpath)?,
                    None => match &f.default {
                        Some(d) => convert(d, &f.schema, &fpath)?,
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
    path: &At,
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
    Ok(Value::Union(i as u32, Box::new(convert(payload, branch, path)?)))
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
