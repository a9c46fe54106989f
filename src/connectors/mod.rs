//! Connectors: each agency feed is a file in `connectors/` declaring its legacy format and the
//! mapping to canonical events. The Rust code knows formats (csv, xml, json, fixed width); a new
//! feed is a new file. Files are checked at start-up: a mistake names the file and line.
pub mod decode;
pub mod limits;
pub mod mapping;
mod refusal;
pub mod spec;

pub use refusal::{Refusal, RefusalCode};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use mapping::{DraftEvent, DraftSubject, Scope};
use spec::{ConnectorSpec, Expr, ExprSpec, Format, IdentifierSpec, Kind, Unmatched};

use crate::domain::event_types;
use crate::domain::identifiers::Scheme;
use crate::schemas;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConnectorFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What one item of a payload became.
#[derive(Debug)]
pub enum ItemOutcome {
    Events {
        position: u32,
        subject: DraftSubject,
        events: Vec<DraftEvent>,
    },
    /// No event type matched and the connector keeps such items (counted by label).
    Kept {
        position: u32,
        label: String,
    },
    Refused {
        position: u32,
        refusal: Refusal,
        raw: Vec<u8>,
    },
}

/// Who published the payload: the connector checks the payload's own codes against them.
pub struct Publisher<'a> {
    pub agency: &'a str,
    pub codes: &'a [String],
}

pub struct Connector {
    pub name: String,
    pub file: PathBuf,
    spec: ConnectorSpec,
}

pub struct Registry {
    connectors: BTreeMap<String, Connector>,
}

impl Registry {
    /// Loads and checks every `*.toml` in `dir` (files named `error-*.toml` are negative
    /// examples for tests and are skipped).
    pub fn load(dir: &Path) -> Result<Registry, ConnectorFileError> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| ConnectorFileError { file: dir.display().to_string(), line: 0, message: e.to_string() })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("error-")))
            .collect();
        paths.sort();
        let mut connectors = BTreeMap::new();
        for path in paths {
            let c = Connector::load(&path)?;
            connectors.insert(c.name.clone(), c);
        }
        Ok(Registry { connectors })
    }

    pub fn get(&self, name: &str) -> Option<&Connector> {
        self.connectors.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }
}

impl Connector {
    /// Reads and checks one connector file.
    pub fn load(path: &Path) -> Result<Connector, ConnectorFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConnectorFileError {
            file: file.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        let spec: ConnectorSpec = toml::from_str(&text).map_err(|e| ConnectorFileError {
            file: file.clone(),
            line: e.span().map_or(0, |s| line_at(&text, s.start)),
            message: e.message().to_string(),
        })?;
        check(&spec, &text).map_err(|(needle, message)| ConnectorFileError {
            file: file.clone(),
            line: line_of(&text, &needle),
            message,
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if spec.name != stem {
            return Err(ConnectorFileError {
                file,
                line: line_of(&text, "name"),
                message: format!("name {:?} must match the file name {stem:?}", spec.name),
            });
        }
        Ok(Connector { name: spec.name.clone(), file: path.to_path_buf(), spec })
    }

    /// The payload with item `position`'s bytes blanked (every character but line breaks turned
    /// into a space, so other items keep their places and a fixed-width trailer its count), in
    /// the payload's own encoding: what the raw archive keeps of a message once one of its records
    /// is erased. `None` when no item has that position.
    pub fn redact_item(&self, payload: &[u8], position: u32, limits: &limits::ParseLimits) -> Option<Vec<u8>> {
        let decoded = decode::decode(&self.spec, payload, limits).ok()?;
        let item = decoded.items.iter().find(|i| i.position == position)?;
        let text = decode::text(self.spec.encoding, payload).ok()?;
        let at = text.as_bytes().windows(item.raw.len().max(1)).position(|w| w == item.raw.as_slice())?;
        let mut bytes = text.into_bytes();
        for b in &mut bytes[at..at + item.raw.len()] {
            if *b != b'\r' && *b != b'\n' {
                *b = b' ';
            }
        }
        // Every byte of the item (multi-byte characters whole) became a space: still UTF-8.
        let text = String::from_utf8(bytes).ok()?;
        Some(match self.spec.encoding {
            spec::Encoding::Utf8 if payload.starts_with(b"\xEF\xBB\xBF") => {
                [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()
            }
            spec::Encoding::Utf8 => text.into_bytes(),
            spec::Encoding::Windows1252 => encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
        })
    }

    /// Turns a payload into events, item by item. `Err` refuses the whole payload.
    pub fn parse(
        &self,
        payload: &[u8],
        publisher: &Publisher,
        limits: &limits::ParseLimits,
    ) -> Result<Vec<ItemOutcome>, Refusal> {
        let decoded = decode::decode(&self.spec, payload, limits)?;
        let file_scope = Scope { item: &decoded.file, file: &decoded.file };
        if let Some(check) = &self.spec.publisher
            && check.path.starts_with('/')
        {
            publisher_matches(file_scope, &check.path, publisher)?;
        }
        let mut out = Vec::with_capacity(decoded.items.len());
        for item in decoded.items {
            let position = item.position;
            let outcome = match item.tree {
                Err(refusal) => ItemOutcome::Refused { position, refusal, raw: item.raw },
                Ok(tree) => match self.map_item(Scope { item: &tree, file: &decoded.file }, publisher) {
                    Ok(Mapped::Events(subject, events)) => ItemOutcome::Events { position, subject, events },
                    Ok(Mapped::Kept(label)) => ItemOutcome::Kept { position, label },
                    Err(refusal) => ItemOutcome::Refused {
                        position,
                        refusal: Refusal { code: refusal.code, reason: format!("{}: {}", item.label, refusal.reason) },
                        raw: item.raw,
                    },
                },
            };
            out.push(outcome);
        }
        Ok(out)
    }

    fn map_item(&self, scope: Scope, publisher: &Publisher) -> Result<Mapped, Refusal> {
        let spec = &self.spec;
        if let Some(check) = &spec.publisher
            && !check.path.starts_with('/')
        {
            publisher_matches(scope, &check.path, publisher)?;
        }
        let matching: Vec<_> =
            spec.events.iter().filter(|e| e.when.as_ref().is_none_or(|c| mapping::condition_holds(c, scope))).collect();
        if matching.is_empty() {
            let label =
                spec.unmatched_label.as_deref().and_then(|p| scope.text(p)).unwrap_or_else(|| "unlabelled".into());
            return match spec.unmatched {
                Unmatched::Keep => Ok(Mapped::Kept(label)),
                Unmatched::Refuse => {
                    Err(Refusal::new(RefusalCode::UnknownRecord, format!("no event type is declared for {label:?}")))
                }
            };
        }
        let subject = mapping::subject(spec, scope).map_err(|m| Refusal::new(RefusalCode::BadValue, m))?;
        let mut events = Vec::with_capacity(matching.len());
        for e in matching {
            let occurred = e
                .occurred_at
                .as_ref()
                .or(spec.common.occurred_at.as_ref())
                .ok_or_else(|| Refusal::new(RefusalCode::Config, format!("{} has no occurred_at", e.event_type)))?;
            let occurred = mapping::eval(spec, occurred, scope, "occurred_at")
                .map_err(|m| Refusal::new(RefusalCode::BadValue, m))?;
            let occurred_at = occurred
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok_or_else(|| Refusal::new(RefusalCode::MissingValue, "occurred_at: the event's time is missing"))?;
            let mut payload = Map::new();
            for (name, expr) in spec.common.fields.iter().filter(|(n, _)| !e.without.contains(n)).chain(e.fields.iter())
            {
                let value =
                    mapping::eval(spec, expr, scope, name).map_err(|m| Refusal::new(RefusalCode::BadValue, m))?;
                payload.insert(name.clone(), value);
            }
            let category = e
                .category_when
                .iter()
                .find(|c| mapping::condition_holds(&c.when, scope))
                .map_or(e.category, |c| c.category);
            let key = record_key(&e.key, &payload, &subject);
            events.push(DraftEvent {
                event_type: e.event_type.clone(),
                occurred_at,
                payload,
                category,
                nature: e.nature,
                key,
                withdraws: e.withdraw_when.as_ref().is_some_and(|c| mapping::condition_holds(c, scope)),
            });
        }
        Ok(Mapped::Events(subject, events))
    }

    pub fn format(&self) -> Format {
        self.spec.format
    }
}

/// The record's key: its key fields' values, joined (`subject.SCHEME` is the item's identifier of
/// that scheme, for records whose fields name no case or order of their own). None when the
/// event declares no key or a key value is missing: such a record is never taken as correcting
/// another.
fn record_key(fields: &[String], payload: &Map<String, Json>, subject: &mapping::DraftSubject) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(fields.len());
    for f in fields {
        if let Some(scheme) = f.strip_prefix("subject.") {
            let id = subject.identifiers.iter().find(|i| i.scheme().as_str() == scheme)?;
            parts.push(id.value().to_string());
            continue;
        }
        match payload.get(f) {
            None | Some(Json::Null) => return None,
            Some(Json::String(s)) if s.trim().is_empty() => return None,
            Some(Json::String(s)) => parts.push(s.clone()),
            Some(other) => parts.push(other.to_string()),
        }
    }
    Some(parts.join("\u{1f}"))
}

enum Mapped {
    Events(DraftSubject, Vec<DraftEvent>),
    Kept(String),
}

fn publisher_matches(scope: Scope, path: &str, publisher: &Publisher) -> Result<(), Refusal> {
    if publisher.codes.is_empty() {
        return Ok(());
    }
    let code = scope.text(path).unwrap_or_default();
    if publisher.codes.iter().any(|c| code.starts_with(c.as_str())) {
        Ok(())
    } else {
        Err(Refusal::new(
            RefusalCode::WrongPublisher,
            format!(
                "{path} is {code:?}, not a code of the publishing agency {} ({})",
                publisher.agency,
                publisher.codes.join(", ")
            ),
        ))
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The first line mentioning `needle` (for errors found after parsing), or 0.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map_or(0, |i| i + 1)
}

type CheckError = (String, String);

/// Semantic checks serde cannot make: event types and fields exist in the schemas, code tables
/// exist, formats have their options, zones are real.
fn check(spec: &ConnectorSpec, _text: &str) -> Result<(), CheckError> {
    let options_present = match spec.format {
        Format::Csv => true,
        Format::Xml => spec.xml.is_some(),
        Format::Json => true,
        Format::FixedWidth => spec.fixed_width.is_some(),
    };
    if !options_present {
        return Err(("format".into(), format!("format {:?} needs its options table", spec.format)));
    }
    let schemas = schemas::get().map_err(|e| ("format".to_string(), e.to_string()))?;
    for id in &spec.subject.identifiers {
        if let IdentifierSpec::Field { scheme, .. } = id
            && Scheme::parse(scheme).is_none()
        {
            return Err((format!("\"{scheme}\""), format!("unknown identifier scheme {scheme:?}")));
        }
    }
    if let Some(e) = &spec.subject.name {
        check_expr(spec, e, "name", None)?;
    }
    if let Some(e) = &spec.subject.date_of_birth {
        check_expr(spec, e, "date_of_birth", None)?;
    }
    if let Some(e) = &spec.common.occurred_at {
        check_expr(spec, e, "occurred_at", None)?;
    }
    if spec.events.is_empty() {
        return Err(("[[event]]".into(), "a connector declares at least one [[event]]".into()));
    }
    for e in &spec.events {
        let needle = format!("\"{}\"", e.event_type);
        let Some(schema) = schemas.events.get(&e.event_type) else {
            return Err((needle, format!("event type {:?} has no schema in schemas/", e.event_type)));
        };
        if event_types::data_class(&e.event_type).is_none() {
            return Err((needle, format!("event type {:?} has no data class", e.event_type)));
        }
        if let Some(o) = &e.occurred_at {
            check_expr(spec, o, "occurred_at", None)?;
        }
        if e.occurred_at.is_none() && spec.common.occurred_at.is_none() {
            return Err((needle, format!("event {} has no occurred_at (and [common] gives none)", e.event_type)));
        }
        if e.withdraw_when.is_some() && e.key.is_empty() {
            return Err((needle, format!("event {} withdraws records but declares no key", e.event_type)));
        }
        for k in &e.key {
            if let Some(scheme) = k.strip_prefix("subject.") {
                if Scheme::parse(scheme).is_none() {
                    return Err((needle, format!("key field {k:?}: unknown identifier scheme {scheme:?}")));
                }
                continue;
            }
            let mapped = e.fields.contains_key(k) || (spec.common.fields.contains_key(k) && !e.without.contains(k));
            if !mapped {
                return Err((needle, format!("event {} has key field {k:?}, which it does not map", e.event_type)));
            }
        }
        for (name, expr) in spec.common.fields.iter().filter(|(n, _)| !e.without.contains(n)).chain(e.fields.iter()) {
            if !schema.fields.contains(name) {
                return Err((
                    format!("{name} ="),
                    format!("{} has no field {name:?} (see schemas/{}.avsc)", e.event_type, e.event_type),
                ));
            }
            check_expr(spec, expr, name, schema.nested.get(name))?;
        }
    }
    Ok(())
}

fn check_expr(
    spec: &ConnectorSpec,
    expr: &Expr,
    name: &str,
    nested: Option<&std::collections::BTreeSet<String>>,
) -> Result<(), CheckError> {
    let Expr::Spec(s) = expr else { return Ok(()) };
    let s: &ExprSpec = s;
    if let Some(t) = &s.table
        && !spec.tables.contains_key(t)
    {
        return Err((format!("table = \"{t}\""), format!("{name}: no code table [tables.{t}]")));
    }
    if let Some(z) = &s.zone
        && z.parse::<chrono_tz::Tz>().is_err()
    {
        return Err((format!("\"{z}\""), format!("{name}: unknown time zone {z:?}")));
    }
    if s.kind == Kind::Timestamp && s.format.is_some() && s.zone.is_none() {
        return Err((format!("{name} ="), format!("{name}: a local date/time needs its zone")));
    }
    if let Some(fields) = &s.fields {
        for (sub, e) in fields {
            if let Some(allowed) = nested
                && !allowed.contains(sub)
            {
                return Err((format!("{sub} ="), format!("{name} has no field {sub:?}")));
            }
            check_expr(spec, e, sub, None)?;
        }
    }
    Ok(())
}

/// `serde_json` view of a draft, for `tracker connector test`.
pub fn describe(outcomes: &[ItemOutcome]) -> Json {
    let items: Vec<Json> = outcomes
        .iter()
        .map(|o| match o {
            ItemOutcome::Events { position, subject, events } => serde_json::json!({
                "position": position,
                "subject": {
                    "identifiers": subject.identifiers.iter().map(|i| serde_json::json!({"scheme": i.scheme().as_str(), "value": i.value()})).collect::<Vec<_>>(),
                    "rejected_identifiers": subject.rejected.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                    "name": subject.name, "date_of_birth": subject.date_of_birth,
                },
                "events": events.iter().map(|e| serde_json::json!({
                    "event_type": e.event_type, "occurred_at": e.occurred_at.to_rfc3339(), "category": e.category.as_str(),
                    "nature": e.nature.as_str(), "key": e.key, "withdraws": e.withdraws, "payload": e.payload,
                })).collect::<Vec<_>>(),
            }),
            ItemOutcome::Kept { position, label } => serde_json::json!({"position": position, "kept_unrouted": label}),
            ItemOutcome::Refused { position, refusal, .. } => {
                serde_json::json!({"position": position, "refused": refusal.code, "reason": refusal.reason})
            }
        })
        .collect();
    Json::Array(items)
}
