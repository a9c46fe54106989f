//! Sharing agreements as configuration: one file per owning agency (or kind of agency) in
//! `config/agreements/`, each rule naming recipients, what it covers (event types or data
//! classes), conditions on event fields or on facts about the person, the fields withheld or the
//! only fields shared, whether consent is needed, purpose, legal basis and validity. Checked at
//! start-up against the schemas: a mistake names the file and line.
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::event_types::{self, EVENT_TYPES};
use crate::schemas;
use crate::settings::AgencyKind;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct AgreementFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementFile {
    owner: Vec<String>,
    #[serde(default, rename = "agreement")]
    permits: Vec<RuleSpec>,
    #[serde(default, rename = "deny")]
    denies: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    recipients: Vec<String>,
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default)]
    data_classes: Vec<String>,
    #[serde(default)]
    when_any: Vec<FieldCondition>,
    #[serde(default)]
    facts: Vec<Fact>,
    #[serde(default)]
    withhold: Vec<String>,
    only: Option<Vec<String>>,
    #[serde(default)]
    consent: bool,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    legal_basis: String,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

/// A condition on the event's fields; a dotted path reaching into a list matches any entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FieldCondition {
    pub field: String,
    pub equals: Option<String>,
    pub one_of: Option<Vec<String>>,
    pub present: Option<bool>,
}

/// Facts about the person a rule may require, judged at the update's `occurred_at`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// An order (CO, SSO) or supervision started and not terminated.
    ActiveOrder,
    /// A treatment agency is involved with the person.
    InTreatment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Permit,
    Deny,
}

/// Who a rule names: a kind of agency or one agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    Kind(AgencyKind),
    Agency(String),
}

impl Party {
    fn parse(s: &str) -> Party {
        match s {
            "police" => Party::Kind(AgencyKind::Police),
            "court" | "courts" => Party::Kind(AgencyKind::Court),
            "probation" => Party::Kind(AgencyKind::Probation),
            "treatment" => Party::Kind(AgencyKind::Treatment),
            other => Party::Agency(other.to_string()),
        }
    }

    pub fn matches(&self, agency: &str, kind: AgencyKind) -> bool {
        match self {
            Party::Kind(k) => *k == kind,
            Party::Agency(a) => a == agency,
        }
    }
}

/// One rule of an agreement, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub effect: Effect,
    pub file: PathBuf,
    pub owners: Vec<Party>,
    pub recipients: Vec<Party>,
    pub event_types: Vec<String>,
    pub data_classes: Vec<String>,
    pub when_any: Vec<FieldCondition>,
    pub facts: Vec<Fact>,
    pub withhold: Vec<String>,
    pub only: Option<Vec<String>>,
    pub consent: bool,
    pub purpose: String,
    pub legal_basis: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

impl Rule {
    pub fn covers(&self, event_type: &str, data_class: &str) -> bool {
        self.event_types.iter().any(|t| t == event_type) || self.data_classes.iter().any(|c| c == data_class)
    }

    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= day) && self.valid_to.is_none_or(|t| day <= t)
    }
}

/// Every rule of every agreement file, in file then declaration order.
#[derive(Debug, Clone, Default)]
pub struct Agreements {
    pub rules: Vec<Rule>,
}

impl Agreements {
    pub fn load(dir: &Path) -> Result<Agreements, AgreementFileError> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| AgreementFileError { file: dir.display().to_string(), line: 0, message: e.to_string() })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut rules = Vec::new();
        for path in paths {
            rules.extend(load_file(&path)?);
        }
        Ok(Agreements { rules })
    }
}

fn load_file(path: &Path) -> Result<Vec<Rule>, AgreementFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AgreementFileError {
        file: file.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    let spec: AgreementFile = toml::from_str(&text).map_err(|e| AgreementFileError {
        file: file.clone(),
        line: e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().to_string(),
    })?;
    let fail = |needle: &str, message: String| AgreementFileError {
        file: file.clone(),
        line: text.lines().position(|l| l.contains(needle)).map_or(0, |i| i + 1),
        message,
    };
    if spec.owner.is_empty() {
        return Err(fail("owner", "owner names at least one agency or kind".into()));
    }
    let owners: Vec<Party> = spec.owner.iter().map(|o| Party::parse(o)).collect();
    let schemas = schemas::get().map_err(|e| fail("owner", e.to_string()))?;
    let mut rules = Vec::new();
    for (effect, list) in [(Effect::Permit, &spec.permits), (Effect::Deny, &spec.denies)] {
        for r in list {
            let id_line = format!("\"{}\"", r.id);
            if r.recipients.is_empty() {
                return Err(fail(&id_line, format!("{}: no recipients", r.id)));
            }
            if r.event_types.is_empty() && r.data_classes.is_empty() {
                return Err(fail(&id_line, format!("{}: names neither event_types nor data_classes", r.id)));
            }
            for t in &r.event_types {
                if event_types::data_class(t).is_none() {
                    return Err(fail(&format!("\"{t}\""), format!("{}: unknown event type {t:?}", r.id)));
                }
            }
            for c in &r.data_classes {
                if !EVENT_TYPES.iter().any(|(_, dc)| dc == c) {
                    return Err(fail(&format!("\"{c}\""), format!("{}: unknown data class {c:?}", r.id)));
                }
            }
            // Every field the rule names must exist in each event type it covers.
            let covered: Vec<&str> = EVENT_TYPES
                .iter()
                .filter(|(t, c)| r.event_types.iter().any(|x| x == t) || r.data_classes.iter().any(|x| x == c))
                .map(|(t, _)| *t)
                .collect();
            let named = r.withhold.iter().chain(r.only.iter().flatten()).chain(r.when_any.iter().map(|c| &c.field));
            for field in named {
                let top = field.split('.').next().unwrap_or(field);
                for t in &covered {
                    let has = schemas.events.get(*t).is_some_and(|s| s.fields.contains(top));
                    // withhold lists shared across a data class may name fields some types lack.
                    if !has
                        && (r.only.iter().flatten().any(|f| f == field) || r.when_any.iter().any(|c| &c.field == field))
                    {
                        return Err(fail(&format!("\"{field}\""), format!("{}: {t} has no field {top:?}", r.id)));
                    }
                }
                if !covered.iter().any(|t| schemas.events.get(*t).is_some_and(|s| s.fields.contains(top))) {
                    return Err(fail(
                        &format!("\"{field}\""),
                        format!("{}: no covered event type has a field {top:?}", r.id),
                    ));
                }
            }
            let date = |d: &Option<String>| -> Result<Option<NaiveDate>, AgreementFileError> {
                d.as_deref()
                    .map(|s| {
                        NaiveDate::parse_from_str(s, "%Y-%m-%d")
                            .map_err(|_| fail(s, format!("{}: {s:?} is not a date YYYY-MM-DD", r.id)))
                    })
                    .transpose()
            };
            if effect == Effect::Permit && (r.purpose.is_empty() || r.legal_basis.is_empty()) {
                return Err(fail(&id_line, format!("{}: a permit needs its purpose and legal_basis", r.id)));
            }
            rules.push(Rule {
                id: r.id.clone(),
                effect,
                file: path.to_path_buf(),
                owners: owners.clone(),
                recipients: r.recipients.iter().map(|x| Party::parse(x)).collect(),
                event_types: r.event_types.clone(),
                data_classes: r.data_classes.clone(),
                when_any: r.when_any.clone(),
                facts: r.facts.clone(),
                withhold: r.withhold.clone(),
                only: r.only.clone(),
                consent: r.consent,
                purpose: r.purpose.clone(),
                legal_basis: r.legal_basis.clone(),
                valid_from: date(&r.valid_from)?,
                valid_to: date(&r.valid_to)?,
            });
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Vec<Rule>, AgreementFileError> {
        let dir = std::env::temp_dir().join(format!("agreements-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("police.toml");
        std::fs::write(&path, text).unwrap();
        let out = load_file(&path);
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    #[test]
    fn the_shipped_agreements_encode_the_nine() {
        let a = Agreements::load(Path::new("config/agreements")).unwrap();
        let mut ids: Vec<&str> = a.rules.iter().filter(|r| r.effect == Effect::Permit).map(|r| r.id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids, ["A4", "A5", "A1", "A2", "A3", "A6", "A7", "A8", "A9"]);
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let base = "owner = [\"police\"]\n\n[[agreement]]\nid = \"X1\"\nrecipients = [\"court\"]\n";
        let unknown_key = format!("{base}data_class = [\"custody\"]\npurpose = \"p\"\nlegal_basis = \"l\"\n");
        let err = load_text(&unknown_key).unwrap_err();
        assert_eq!(err.line, 6, "{err}");
        assert!(err.message.contains("unknown field `data_class`"), "{err}");
        let bad_field = format!(
            "{base}event_types = [\"Arrested\"]\nonly = [\"shoe_size\"]\npurpose = \"p\"\nlegal_basis = \"l\"\n"
        );
        let err = load_text(&bad_field).unwrap_err();
        assert_eq!(err.line, 7, "{err}");
        assert!(err.message.contains("Arrested has no field \"shoe_size\""), "{err}");
        let bad_type = format!("{base}event_types = [\"Arested\"]\npurpose = \"p\"\nlegal_basis = \"l\"\n");
        assert_eq!(load_text(&bad_type).unwrap_err().line, 6);
        let no_basis = format!("{base}data_classes = [\"custody\"]\npurpose = \"p\"\n");
        assert!(load_text(&no_basis).unwrap_err().message.contains("legal_basis"));
    }
}
