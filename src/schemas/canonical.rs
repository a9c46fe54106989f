//! The Parsing Canonical Form and the CRC-64-AVRO fingerprint, exactly as the Avro specification
//! defines them: subscribers find a delivery's schema by this fingerprint.

use serde_json::Value as Json;

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
