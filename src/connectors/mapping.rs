//! The declarative mapping: reads an item's values by path and builds canonical events as the
//! connector file says (code tables, dates and local times in their zone, conditions choosing
//! the event type, repeated elements, nested records).
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value as Json};

use super::spec::{Condition, ConnectorSpec, Expr, ExprSpec, IdentifierSpec, Kind};
use crate::domain::identifiers::{Identifier, IdentifierError, Scheme};

/// Where paths are read: the item, and (paths starting with `/`) the file's header values.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub item: &'a Json,
    pub file: &'a Json,
}

/// The person an item is about, as the payload names them.
#[derive(Debug, Clone, Default)]
pub struct DraftSubject {
    pub identifiers: Vec<Identifier>,
    /// Identifiers that failed their check: they link nobody, and an operator sees why.
    pub rejected: Vec<IdentifierError>,
    pub name: Option<String>,
    pub date_of_birth: Option<String>,
}

/// A canonical event before it has an id, a subject id or a store.
#[derive(Debug, Clone)]
pub struct DraftEvent {
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: Map<String, Json>,
    /// The data subject's category, as the connector's mapping declares it.
    pub category: super::spec::SubjectCategory,
    /// Fact or assessment, as the connector's mapping declares it.
    pub nature: super::spec::Nature,
    /// The record's key (see `EventSpec::key`): a later record with the same one corrects it.
    pub key: Option<String>,
    /// The item withdraws the record with this key instead of adding one.
    pub withdraws: bool,
}

impl<'a> Scope<'a> {
    /// The node at `path`, taking the first of repeated elements on the way.
    pub fn node(&self, path: &str) -> Option<&'a Json> {
        let (mut node, rest) = match path.strip_prefix('/') {
            Some(rest) => (self.file, rest),
            None => (self.item, path),
        };
        for seg in rest.split('.').filter(|s| !s.is_empty()) {
            node = first(node).get(seg)?;
        }
        Some(first(node))
    }

    /// Every node at `path` (a repeated element or a JSON array).
    pub fn nodes(&self, path: &str) -> Vec<&'a Json> {
        let (root, rest) = match path.strip_prefix('/') {
            Some(rest) => (self.file, rest),
            None => (self.item, path),
        };
        let segs: Vec<&str> = rest.split('.').filter(|s| !s.is_empty()).collect();
        let Some((last, init)) = segs.split_last() else {
            return Vec::new();
        };
        let mut node = root;
        for seg in init {
            match first(node).get(*seg) {
                Some(n) => node = n,
                None => return Vec::new(),
            }
        }
        match first(node).get(*last) {
            Some(Json::Array(items)) => items.iter().collect(),
            Some(Json::Null) | None => Vec::new(),
            Some(other) => vec![other],
        }
    }

    /// The text at `path`, trimmed; blank is `None`.
    pub fn text(&self, path: &str) -> Option<String> {
        scalar_text(self.node(path)?)
    }

    fn with_item(&self, item: &'a Json) -> Scope<'a> {
        Scope { item, file: self.file }
    }
}

fn first(node: &Json) -> &Json {
    match node {
        Json::Array(items) if !items.is_empty() => &items[0],
        other => other,
    }
}

fn scalar_text(node: &Json) -> Option<String> {
    let s = match node {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Object(o) => o.get("#text").and_then(Json::as_str)?.trim().to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

pub fn condition_holds(cond: &Condition, scope: Scope) -> bool {
    let value = scope.text(&cond.path);
    if let Some(want) = &cond.equals
        && value.as_deref() != Some(want.as_str())
    {
        return false;
    }
    if let Some(options) = &cond.one_of
        && !value.as_ref().is_some_and(|v| options.contains(v))
    {
        return false;
    }
    if let Some(present) = cond.present {
        let has = match scope.node(&cond.path) {
            Some(Json::Object(_)) => true,
            Some(n) => scalar_text(n).is_some(),
            None => false,
        };
        if has != present {
            return false;
        }
    }
    true
}

/// Reads the subject: identifiers (checked), name and date of birth.
pub fn subject(spec: &ConnectorSpec, scope: Scope) -> Result<DraftSubject, String> {
    let mut out = DraftSubject::default();
    let add = |scheme: Scheme, value: String, out: &mut DraftSubject| match Identifier::parse(scheme, &value) {
        Ok(id) if !out.identifiers.contains(&id) => out.identifiers.push(id),
        Ok(_) => {}
        Err(e) => out.rejected.push(e),
    };
    for id in &spec.subject.identifiers {
        match id {
            IdentifierSpec::Field { scheme, path } => {
                let scheme = Scheme::parse(scheme).ok_or_else(|| format!("unknown identifier scheme {scheme}"))?;
                if let Some(v) = scope.text(path) {
                    add(scheme, v, &mut out);
                }
            }
            IdentifierSpec::List { list, scheme_path, value_path } => {
                for entry in scope.nodes(list) {
                    let s = scope.with_item(entry);
                    let (Some(name), Some(value)) = (s.text(scheme_path), s.text(value_path)) else {
                        continue;
                    };
                    match Scheme::parse(&name) {
                        Some(scheme) => add(scheme, value, &mut out),
                        None => out.rejected.push(IdentifierError {
                            scheme: Scheme::Crn,
                            value,
                            reason: format!("identifier type {name:?} is not one Tracker links on"),
                        }),
                    }
                }
            }
        }
    }
    if let Some(e) = &spec.subject.name {
        out.name = eval(spec, e, scope, "subject.name")?.as_str().map(str::to_owned);
    }
    if let Some(e) = &spec.subject.date_of_birth {
        out.date_of_birth = eval(spec, e, scope, "subject.date_of_birth")?.as_str().map(str::to_owned);
    }
    Ok(out)
}

/// Evaluates one field expression; errors name the field and the source value.
pub fn eval(spec: &ConnectorSpec, expr: &Expr, scope: Scope, field: &str) -> Result<Json, String> {
    match expr {
        Expr::Path(path) => Ok(scope.text(path).map_or(Json::Null, Json::String)),
        Expr::Spec(s) => eval_spec(spec, s, scope, field),
    }
}

fn eval_spec(spec: &ConnectorSpec, s: &ExprSpec, scope: Scope, field: &str) -> Result<Json, String> {
    if let Some(c) = &s.constant {
        return Ok(toml_to_json(c));
    }
    if let (Some(each), Some(fields)) = (&s.each, &s.fields) {
        let mut out = Vec::new();
        for node in scope.nodes(each) {
            out.push(record(spec, fields, scope.with_item(node), field)?);
        }
        return Ok(Json::Array(out));
    }
    if let Some(fields) = &s.fields {
        let rec = record(spec, fields, scope, field)?;
        let empty = rec.as_object().is_some_and(|o| o.values().all(Json::is_null));
        return Ok(if empty { Json::Null } else { rec });
    }
    let (text, source) = if let Some(date) = &s.date {
        let d = scope.text(date);
        let t = s.time.as_ref().and_then(|t| scope.text(t));
        let joined = match (d, t) {
            (Some(d), Some(t)) => Some(format!("{d} {t}")),
            (Some(d), None) if s.time.is_none() => Some(d),
            _ => None,
        };
        (joined, format!("{date} {}", s.time.clone().unwrap_or_default()))
    } else if let Some(paths) = &s.paths {
        let parts: Vec<String> = paths.iter().filter_map(|p| scope.text(p)).collect();
        ((!parts.is_empty()).then(|| parts.join(" ")), paths.join("+"))
    } else if let Some(path) = &s.path {
        if s.kind == Kind::List
            && let Some(Json::Array(items)) = scope.node_raw(path)
        {
            return Ok(Json::Array(items.iter().filter_map(scalar_text).map(Json::String).collect()));
        }
        (scope.text(path), path.clone())
    } else {
        return Err(format!("{field}: the mapping gives no path, date, const, fields or each"));
    };
    let Some(text) = text else {
        if s.required {
            return Err(format!("{field}: {source} is missing"));
        }
        return Ok(if s.kind == Kind::List { Json::Array(Vec::new()) } else { Json::Null });
    };
    let text = match &s.table {
        Some(name) => {
            let table = spec.tables.get(name).ok_or_else(|| format!("{field}: no code table {name}"))?;
            table
                .get(&text)
                .cloned()
                .ok_or_else(|| format!("{field}: {source} code {text:?} is not in table {name}"))?
        }
        None => text,
    };
    convert(&text, s, field, &source)
}

impl<'a> Scope<'a> {
    /// The node at `path` without reducing a final list to its first entry.
    fn node_raw(&self, path: &str) -> Option<&'a Json> {
        let (mut node, rest) = match path.strip_prefix('/') {
            Some(rest) => (self.file, rest),
            None => (self.item, path),
        };
        for seg in rest.split('.').filter(|s| !s.is_empty()) {
            node = first(node).get(seg)?;
        }
        Some(node)
    }
}

fn record(
    spec: &ConnectorSpec,
    fields: &std::collections::BTreeMap<String, Expr>,
    scope: Scope,
    field: &str,
) -> Result<Json, String> {
    let mut obj = Map::new();
    for (name, e) in fields {
        obj.insert(name.clone(), eval(spec, e, scope, &format!("{field}.{name}"))?);
    }
    Ok(Json::Object(obj))
}

fn convert(text: &str, s: &ExprSpec, field: &str, source: &str) -> Result<Json, String> {
    let bad = |what: &str| format!("{field}: {source} {text:?} is not {what}");
    Ok(match s.kind {
        Kind::Text => Json::String(text.to_string()),
        Kind::Int => Json::from(text.parse::<i64>().map_err(|_| bad("a whole number"))?),
        Kind::Decimal => {
            text.parse::<f64>().map_err(|_| bad("a number"))?;
            Json::String(text.to_string())
        }
        Kind::Bool => Json::Bool(match text.to_ascii_lowercase().as_str() {
            "true" | "y" | "yes" | "1" => true,
            "false" | "n" | "no" | "0" => false,
            _ => return Err(bad("true or false (Y or N)")),
        }),
        Kind::Date => {
            let format = s.format.as_deref().unwrap_or("%Y-%m-%d");
            let d = NaiveDate::parse_from_str(text, format).map_err(|_| bad(&format!("a date ({})", show(format))))?;
            Json::String(d.format("%Y-%m-%d").to_string())
        }
        Kind::Timestamp => {
            Json::String(timestamp(text, s).map_err(|w| bad(&w))?.to_rfc3339_opts(SecondsFormat::Secs, true))
        }
        Kind::List => {
            let sep = s.split.as_deref().unwrap_or(";");
            Json::Array(
                text.split(sep).map(str::trim).filter(|p| !p.is_empty()).map(|p| Json::String(p.into())).collect(),
            )
        }
    })
}

/// A human form of a chrono format for error messages.
fn show(format: &str) -> String {
    format.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%H", "HH").replace("%M", "MM")
}

/// An instant: RFC 3339 with its own offset, or a local date/time in the declared zone.
fn timestamp(text: &str, s: &ExprSpec) -> Result<DateTime<Utc>, String> {
    let Some(format) = &s.format else {
        return DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| "an instant with an offset (RFC 3339)".to_string());
    };
    let local = NaiveDateTime::parse_from_str(text, format)
        .or_else(|_| NaiveDate::parse_from_str(text, format).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default()))
        .map_err(|_| format!("a date and time ({})", show(format)))?;
    let zone: Tz = s.zone.as_deref().unwrap_or("UTC").parse().map_err(|_| "in a known time zone".to_string())?;
    Ok(match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        // The hour repeated when clocks go back: the first (summer time) reading.
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        // The hour skipped when clocks go forward: read it as the zone's standard time.
        LocalResult::None => match zone.from_local_datetime(&(local + chrono::Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => return Err("a time that exists in its zone".into()),
        },
    })
}

fn toml_to_json(v: &toml::Value) -> Json {
    match v {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => Json::from(*f),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Json::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(kind: Kind, format: &str, zone: &str) -> ExprSpec {
        ExprSpec {
            path: Some("t".into()),
            kind,
            format: Some(format.into()),
            zone: Some(zone.into()),
            ..Default::default()
        }
    }

    #[test]
    fn local_times_follow_the_october_clock_change() {
        let s = spec_with(Kind::Timestamp, "%d/%m/%Y %H:%M", "Europe/London");
        // Summer time (BST, +01:00) before 25 October 2026, GMT after.
        assert_eq!(timestamp("24/10/2026 14:35", &s).unwrap().to_rfc3339(), "2026-10-24T13:35:00+00:00");
        assert_eq!(timestamp("28/10/2026 14:35", &s).unwrap().to_rfc3339(), "2026-10-28T14:35:00+00:00");
        // 01:30 happens twice on 25 October: the first (BST) reading.
        assert_eq!(timestamp("25/10/2026 01:30", &s).unwrap().to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert_eq!(timestamp("25/10/2026 02:30", &s).unwrap().to_rfc3339(), "2026-10-25T02:30:00+00:00");
    }

    #[test]
    fn offsets_are_honoured() {
        let s = ExprSpec { path: Some("t".into()), kind: Kind::Timestamp, ..Default::default() };
        assert_eq!(timestamp("2026-06-02T09:30:00+01:00", &s).unwrap().to_rfc3339(), "2026-06-02T08:30:00+00:00");
    }

    #[test]
    fn an_impossible_date_names_field_and_value() {
        let s = spec_with(Kind::Date, "%d/%m/%Y", "UTC");
        let err = convert("31/11/2026", &s, "event_date", "EventDate").unwrap_err();
        assert_eq!(err, "event_date: EventDate \"31/11/2026\" is not a date (dd/mm/yyyy)");
    }
}
