//! JSON payloads (one document, one item). Read strictly: a key given twice is refused rather
//! than the last one silently winning, and nesting deeper than the limit is refused before it
//! can cost stack. serde_json builds no `Value` of its own here; the visitor below builds it,
//! checking as it goes, because serde_json has no option to refuse duplicate keys.
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

use super::{Decoded, RawItem};
use crate::connectors::limits::{ParseLimits, check_values};
use crate::connectors::{Refusal, RefusalCode};

pub fn decode(body: &str, limits: &ParseLimits) -> Result<Decoded, Refusal> {
    let mut de = serde_json::Deserializer::from_str(body);
    let doc = Strict { depth: 0, limits }.deserialize(&mut de).and_then(|doc| de.end().map(|()| doc)).map_err(|e| {
        Refusal::new(RefusalCode::Malformed, format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()))
    })?;
    if !doc.is_object() {
        return Err(Refusal::new(RefusalCode::Malformed, "the JSON document is not an object"));
    }
    // A value the store cannot keep refuses the item (position 1), as a bad row would.
    let tree = check_values(&doc, "event", limits).map(|()| doc);
    let items = vec![RawItem { position: 1, label: "event".into(), tree, raw: body.as_bytes().to_vec() }];
    Ok(Decoded { file: Json::Object(Map::new()), items })
}

/// Builds a `Value` one level at a time, knowing how deep it is.
#[derive(Clone, Copy)]
struct Strict<'a> {
    depth: usize,
    limits: &'a ParseLimits,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Json;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl Strict<'_> {
    fn deeper<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= self.limits.max_depth {
            return Err(E::custom(format!(
                "nested deeper than {} levels (limits.parse.max_depth)",
                self.limits.max_depth
            )));
        }
        Ok(Strict { depth: self.depth + 1, limits: self.limits })
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = self.deeper()?;
        let mut list = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            list.push(v);
        }
        Ok(Json::Array(list))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let inner = self.deeper()?;
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "the key {:?} appears twice in one object",
                    crate::connectors::limits::printable(&key)
                )));
            }
            let value = map.next_value_seed(inner)?;
            obj.insert(key, value);
        }
        Ok(Json::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_the_place() {
        let err = decode("{\"a\": 1,\n \"a\": 2}", &ParseLimits::default()).err().unwrap();
        assert_eq!(err.code, RefusalCode::Malformed);
        assert!(err.reason.contains("\"a\" appears twice") && err.reason.contains("line 2"), "{}", err.reason);
        // The same key in two different objects is fine.
        assert!(decode(r#"{"a": {"b": 1}, "c": {"b": 2}}"#, &ParseLimits::default()).is_ok());
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_without_recursing_further() {
        let limits = ParseLimits { max_depth: 4, ..Default::default() };
        assert!(decode(r#"{"a":{"b":{"c":{"d":1}}}}"#, &limits).is_ok());
        let err = decode(r#"{"a":{"b":{"c":{"d":{"e":1}}}}}"#, &limits).err().unwrap();
        assert!(err.reason.contains("deeper than 4 levels"), "{}", err.reason);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(decode(&deep, &ParseLimits::default()).is_err());
    }

    #[test]
    fn escaped_nul_is_refused_naming_the_field() {
        let decoded = decode(r#"{"event": {"name": "a\u0000b"}}"#, &ParseLimits::default()).unwrap();
        let err = decoded.items[0].tree.as_ref().err().unwrap();
        assert_eq!(err.code, RefusalCode::NulByte);
        assert!(err.reason.contains("field event/name"), "{}", err.reason);
    }

    #[test]
    fn trailing_content_is_refused() {
        assert!(decode(r#"{"a": 1} {"b": 2}"#, &ParseLimits::default()).is_err());
    }
}
