//! Why a payload or one of its items was refused: a bounded code (counted in `/metrics`, carried
//! in the dead letter's `tracker-error-code` header, stored in `refusals.code`) and a reason a
//! person can act on.
use std::fmt;

/// Every reason code the hub refuses with. The stored and published form is `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    /// A value that does not read as its declared type (a date that is no date, say).
    BadValue,
    /// A connector declaration that cannot apply to this payload.
    Config,
    /// An empty payload.
    Empty,
    /// Bytes that are not the declared character encoding.
    Encoding,
    /// A CSV row with another number of fields than its header.
    FieldCount,
    /// Not well-formed XML, JSON, CSV or fixed-width text.
    Malformed,
    /// A required value absent.
    MissingValue,
    /// An XML document in another namespace.
    Namespace,
    /// A NUL byte where text was expected.
    NulByte,
    /// Delivered again and again without being committed (`limits.max_deliveries`).
    Poison,
    /// Reading the payload failed (a defect in Tracker).
    ReaderFailed,
    /// An event that does not fit its Avro schema.
    Schema,
    /// The store refused what the connector accepted (a defect in Tracker's checks).
    StoreRefused,
    /// Nested deeper than `limits.parse` allows.
    TooDeep,
    /// Larger, longer or more numerous than the limits allow.
    TooLarge,
    /// Cut short in transfer (a trailer count that does not match, a missing trailer).
    Truncated,
    /// A routing key naming an agency that is not configured.
    UnknownAgency,
    /// A connector the agency does not use, or that is not loaded.
    UnknownConnector,
    /// A record type the connector does not declare.
    UnknownRecord,
    /// Published under another agency's key, by another agency's broker user, or with another
    /// agency's codes.
    WrongAgency,
    /// A payload naming a publisher code that is not the agency's.
    WrongPublisher,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::BadValue => "bad_value",
            RefusalCode::Config => "config",
            RefusalCode::Empty => "empty",
            RefusalCode::Encoding => "encoding",
            RefusalCode::FieldCount => "field_count",
            RefusalCode::Malformed => "malformed",
            RefusalCode::MissingValue => "missing_value",
            RefusalCode::Namespace => "namespace",
            RefusalCode::NulByte => "nul_byte",
            RefusalCode::Poison => "poison",
            RefusalCode::ReaderFailed => "reader_failed",
            RefusalCode::Schema => "schema",
            RefusalCode::StoreRefused => "store_refused",
            RefusalCode::TooDeep => "too_deep",
            RefusalCode::TooLarge => "too_large",
            RefusalCode::Truncated => "truncated",
            RefusalCode::UnknownAgency => "unknown_agency",
            RefusalCode::UnknownConnector => "unknown_connector",
            RefusalCode::UnknownRecord => "unknown_record",
            RefusalCode::WrongAgency => "wrong_agency",
            RefusalCode::WrongPublisher => "wrong_publisher",
        }
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for RefusalCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A refusal: its code and a reason a person can act on, naming what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: RefusalCode,
    pub reason: String,
}

impl Refusal {
    pub fn new(code: RefusalCode, reason: impl Into<String>) -> Refusal {
        Refusal { code, reason: reason.into() }
    }
}
