//! From apache-avro's values to the JSON shape: what data written with an earlier schema reads
//! as, once apache-avro has resolved it to the current schema (`binary` reads and writes the
//! current schema's data directly).

use apache_avro::types::Value;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value as Json;

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
        Value::Date(d) => date_from_days(*d),
        Value::TimestampMicros(us) => instant_from_micros(*us),
        Value::Union(_, inner) => from_avro(inner),
        Value::Array(items) => Json::Array(items.iter().map(from_avro).collect()),
        Value::Record(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), from_avro(v))).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), from_avro(v))).collect()),
        other => Json::String(format!("{other:?}")),
    }
}

/// Avro's `date` (days since 1970-01-01) as `YYYY-MM-DD`. Checked: a corrupt datum can name a day
/// past chrono's range (found by fuzzing, where `+` panicked); such a date reads as null.
pub(super) fn date_from_days(days: i32) -> Json {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap_or_default()
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
        .map_or(Json::Null, |day| Json::String(day.format("%Y-%m-%d").to_string()))
}

/// Avro's `timestamp-micros` as an RFC 3339 instant in UTC (empty past chrono's range).
pub(super) fn instant_from_micros(us: i64) -> Json {
    Json::String(
        DateTime::<Utc>::from_timestamp_micros(us)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_default(),
    )
}
