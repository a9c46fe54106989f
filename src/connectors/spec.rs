//! The connector file format (`connectors/*.toml`): what a feed's payload looks like and how
//! its fields become canonical events. Parsed strictly: an unknown key is an error naming the line.
use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub format: Format,
    #[serde(default)]
    pub encoding: Encoding,
    pub csv: Option<CsvOptions>,
    pub xml: Option<XmlOptions>,
    pub fixed_width: Option<FixedWidthOptions>,
    /// Where the payload names its publisher's code (a `/`-path is file level).
    pub publisher: Option<PublisherCheck>,
    /// What to do with an item no `[[event]]` matches.
    #[serde(default)]
    pub unmatched: Unmatched,
    /// A path whose value names an unmatched item when it is counted (e.g. its event type).
    pub unmatched_label: Option<String>,
    pub subject: SubjectSpec,
    #[serde(default)]
    pub common: CommonSpec,
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(rename = "event")]
    pub events: Vec<EventSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Xml,
    Json,
    FixedWidth,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// Refuse the item: a record nobody declared is a mistake worth seeing.
    #[default]
    Refuse,
    /// Keep it (raw archive) and count it by label; route nothing.
    Keep,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    #[serde(default = "comma")]
    pub delimiter: char,
    #[serde(default = "yes")]
    pub header: bool,
    #[serde(default = "double_quote")]
    pub quote: char,
}

fn comma() -> char {
    ','
}
fn double_quote() -> char {
    '"'
}
fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlOptions {
    /// The only namespace accepted; any other refuses the file.
    pub namespace: String,
    pub root: String,
    /// The element that is one item (its ordinal is the item position).
    pub item: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedWidthOptions {
    /// 1-based inclusive columns of the record type.
    pub record_type: [usize; 2],
    pub header: String,
    pub trailer: String,
    /// Field of the trailer layout holding the count of records between header and trailer.
    pub trailer_count: String,
    /// Fields every data record shares.
    #[serde(default)]
    pub shared: BTreeMap<String, [usize; 2]>,
    /// Per record type, its own fields (1-based inclusive columns).
    pub records: BTreeMap<String, BTreeMap<String, [usize; 2]>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherCheck {
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectSpec {
    pub identifiers: Vec<IdentifierSpec>,
    pub name: Option<Expr>,
    pub date_of_birth: Option<Expr>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum IdentifierSpec {
    /// One identifier of a known scheme at a path.
    Field { scheme: String, path: String },
    /// A list of `{type, value}` entries naming their own schemes.
    List { list: String, scheme_path: String, value_path: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommonSpec {
    pub occurred_at: Option<Expr>,
    #[serde(default)]
    pub fields: BTreeMap<String, Expr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    #[serde(rename = "type")]
    pub event_type: String,
    pub when: Option<Condition>,
    pub occurred_at: Option<Expr>,
    /// Fields from `[common]` this event leaves out.
    #[serde(default)]
    pub without: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, Expr>,
    /// The data subject's category for this event (DPA 2018 s.38(3)); the first of
    /// `category_when` that holds overrides it.
    #[serde(default)]
    pub category: SubjectCategory,
    #[serde(default)]
    pub category_when: Vec<CategoryWhen>,
    /// Whether the event is fact or a personal assessment (DPA 2018 s.38(2)).
    #[serde(default)]
    pub nature: Nature,
    /// The mapped fields that identify the record across messages: a later record of this type
    /// from the same agency with the same key corrects it (empty: every record is new).
    #[serde(default)]
    pub key: Vec<String>,
    /// When this holds, the item withdraws the record with its key (its source deleted it)
    /// instead of adding one.
    pub withdraw_when: Option<Condition>,
}

/// The categories of data subject DPA 2018 s.38(3) asks a controller to distinguish, "where
/// relevant and as far as possible"; `unspecified` where the source record does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectCategory {
    Suspect,
    Convicted,
    Victim,
    Witness,
    #[default]
    Unspecified,
}

impl SubjectCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectCategory::Suspect => "suspect",
            SubjectCategory::Convicted => "convicted",
            SubjectCategory::Victim => "victim",
            SubjectCategory::Witness => "witness",
            SubjectCategory::Unspecified => "unspecified",
        }
    }
}

/// Personal data based on facts, or a personal assessment (DPA 2018 s.38(2)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nature {
    #[default]
    Fact,
    Assessment,
}

impl Nature {
    pub fn as_str(self) -> &'static str {
        match self {
            Nature::Fact => "fact",
            Nature::Assessment => "assessment",
        }
    }
}

/// A category that applies when a condition on the item holds (e.g. a result that convicts).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryWhen {
    pub when: Condition,
    pub category: SubjectCategory,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub path: String,
    pub equals: Option<String>,
    pub one_of: Option<Vec<String>>,
    /// `true`: the path must hold a value; `false`: it must be absent or blank.
    pub present: Option<bool>,
}

/// How one event field is computed: a bare string is a path whose text is copied.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Expr {
    Path(String),
    Spec(Box<ExprSpec>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprSpec {
    pub path: Option<String>,
    /// Several paths joined with spaces (blank parts skipped).
    pub paths: Option<Vec<String>>,
    /// A date path and a time path read together with `format`.
    pub date: Option<String>,
    pub time: Option<String>,
    #[serde(rename = "const")]
    pub constant: Option<toml::Value>,
    #[serde(rename = "as", default)]
    pub kind: Kind,
    /// chrono format of a date or local time.
    pub format: Option<String>,
    /// Time zone of a local time (e.g. Europe/London).
    pub zone: Option<String>,
    /// Separator of a list held in one text field.
    pub split: Option<String>,
    /// A code table from `[tables]`.
    pub table: Option<String>,
    /// A repeated element or array: one record per entry, built with `fields`.
    pub each: Option<String>,
    /// A nested record built from these fields.
    pub fields: Option<BTreeMap<String, Expr>>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Text,
    Int,
    Decimal,
    Bool,
    Date,
    Timestamp,
    List,
}
