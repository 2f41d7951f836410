//! The validated form schema: what [`FormSchema::from_json`] returns once every
//! check in the module documentation has passed. Fields are private so that a
//! `FormSchema` in hand always satisfies those checks.

use std::collections::BTreeMap;
use std::fmt;

use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use time::Date;

use super::date::format_date;

/// Maximum characters of a `text` field without `max_length`: drafts are
/// synced and submitted, so no value may be unbounded.
pub const DEFAULT_TEXT_MAX_LENGTH: u32 = 2000;

/// A form schema for one matter (事项), loaded and checked by
/// [`FormSchema::from_json`].
#[derive(Debug, Clone)]
pub struct FormSchema {
    pub(super) matter_code: String,
    pub(super) version: u32,
    pub(super) title: Label,
    pub(super) sections: Vec<Section>,
    pub(super) rules: Vec<Rule>,
    /// Field id → (section index, field index): drafts look fields up by id on
    /// every `set`, so this avoids a linear scan.
    pub(super) index: BTreeMap<String, (usize, usize)>,
}

impl FormSchema {
    /// Parses and checks a schema; the error names the JSON path of the first
    /// problem found (see the module documentation for the order of checks).
    pub fn from_json(json: &str) -> Result<Self, SchemaError> {
        super::load::load(json)
    }

    /// The matter's standard code (事项编码).
    pub fn matter_code(&self) -> &str {
        &self.matter_code
    }

    /// The schema version (drafts remember the version they were made with).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The form title.
    pub fn title(&self) -> &Label {
        &self.title
    }

    /// The sections, in display order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The cross-field rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The field with this id, if any.
    pub fn field(&self, id: &str) -> Option<&Field> {
        let &(s, f) = self.index.get(id)?;
        self.sections.get(s)?.fields.get(f)
    }

    /// The problem path of a field: `section_id.field_id`.
    pub fn field_path(&self, id: &str) -> Option<String> {
        let &(s, _) = self.index.get(id)?;
        let section = self.sections.get(s)?;
        Some(format!("{}.{id}", section.id))
    }

    /// Every field with its section, in display order.
    pub fn fields(&self) -> impl Iterator<Item = (&Section, &Field)> {
        self.sections
            .iter()
            .flat_map(|s| s.fields.iter().map(move |f| (s, f)))
    }

    /// Whether a draft made with `matter_code` / `version` belongs to this schema.
    pub(super) fn matches(&self, matter_code: &str, version: u32) -> bool {
        self.matter_code == matter_code && self.version == version
    }
}

/// Bilingual text: Simplified Chinese and English, both non-empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Simplified Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

/// A group of fields shown together.
#[derive(Debug, Clone)]
pub struct Section {
    pub(super) id: String,
    pub(super) title: Label,
    pub(super) fields: Vec<Field>,
}

impl Section {
    /// The section id (first part of problem paths).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The section title.
    pub fn title(&self) -> &Label {
        &self.title
    }

    /// The fields, in display order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }
}

/// One input of the form.
#[derive(Debug, Clone)]
pub struct Field {
    pub(super) id: String,
    pub(super) label: Label,
    pub(super) hint: Option<Label>,
    pub(super) kind: FieldKind,
    pub(super) required: bool,
    pub(super) bind: Option<String>,
    pub(super) required_if: Option<RequiredIf>,
}

impl Field {
    /// The field id, unique in the whole form (draft values are keyed by it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The field label.
    pub fn label(&self) -> &Label {
        &self.label
    }

    /// Optional help text shown under the input.
    pub fn hint(&self) -> Option<&Label> {
        self.hint.as_ref()
    }

    /// The field type and its constraints.
    pub fn kind(&self) -> &FieldKind {
        &self.kind
    }

    /// Whether a value is always required.
    pub fn required(&self) -> bool {
        self.required
    }

    /// The prefill source key, e.g. `credential.name`.
    pub fn bind(&self) -> Option<&str> {
        self.bind.as_deref()
    }

    /// The condition under which a value is required.
    pub fn required_if(&self) -> Option<&RequiredIf> {
        self.required_if.as_ref()
    }
}

/// "This field is required when `field` has the value `equals`."
#[derive(Debug, Clone, PartialEq)]
pub struct RequiredIf {
    /// The field whose value is tested.
    pub field: String,
    /// The value (compared as JSON) that makes this field required.
    pub equals: Value,
}

/// A field type with its constraints (see the module documentation for the
/// value shape of each).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FieldKind {
    /// A string of `min_length..=max_length` characters matching `pattern`.
    Text {
        /// Minimum characters (Unicode scalar values).
        min_length: u32,
        /// Maximum characters ([`DEFAULT_TEXT_MAX_LENGTH`] when not given).
        max_length: u32,
        /// Pattern the whole value must match.
        pattern: Option<Pattern>,
    },
    /// A JSON number.
    Number {
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Inclusive upper bound.
        max: Option<f64>,
        /// Whether the number must be integral.
        integer: bool,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date {
        /// Inclusive lower bound.
        min: Option<DateBound>,
        /// Inclusive upper bound.
        max: Option<DateBound>,
    },
    /// One of a fixed set of strings.
    Enum {
        /// The options, in display order (at least one).
        options: Vec<EnumOption>,
    },
    /// A citizen ID number (GB 11643-1999).
    IdNumber,
    /// A unified social credit code (GB 32100-2015).
    Uscc,
    /// A mainland mobile number.
    Phone,
    /// `{"region", "detail"}`.
    Address,
    /// `{"licence_id", "reason"}`: an e-licence presented for this matter.
    LicenceRef {
        /// Licence type code the identifier must have, if restricted.
        licence_type: Option<String>,
    },
    /// `{"sha256", "media_type", "size"}`: a file referenced by hash.
    Attachment,
}

impl FieldKind {
    /// The `type` name used in schema JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Number { .. } => "number",
            Self::Date { .. } => "date",
            Self::Enum { .. } => "enum",
            Self::IdNumber => "id_number",
            Self::Uscc => "uscc",
            Self::Phone => "phone",
            Self::Address => "address",
            Self::LicenceRef { .. } => "licence_ref",
            Self::Attachment => "attachment",
        }
    }

    /// Whether `value` has the JSON kind this type stores (string, number or
    /// object). Drafts accept any value of the right kind; the rest of the
    /// checks wait for validation because drafts may be incomplete.
    pub fn accepts_kind(&self, value: &Value) -> bool {
        match self {
            Self::Number { .. } => value.is_number(),
            Self::Address | Self::LicenceRef { .. } | Self::Attachment => value.is_object(),
            Self::Text { .. }
            | Self::Date { .. }
            | Self::Enum { .. }
            | Self::IdNumber
            | Self::Uscc
            | Self::Phone => value.is_string(),
        }
    }
}

/// A date bound: a fixed date or the validation day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    /// `"today"`: the `today` passed to validation.
    Today,
    /// A fixed date.
    Date(Date),
}

impl DateBound {
    /// The bound as a date, given the validation day.
    pub fn resolve(self, today: Date) -> Date {
        match self {
            Self::Today => today,
            Self::Date(d) => d,
        }
    }
}

impl fmt::Display for DateBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Today => f.write_str("today"),
            Self::Date(d) => f.write_str(&format_date(*d)),
        }
    }
}

/// One option of an `enum` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumOption {
    /// The stored value.
    pub value: String,
    /// What the citizen sees.
    pub label: Label,
}

/// A compiled `pattern`, anchored so it must match the whole value.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles `source` wrapped as `^(?:source)$`: schema authors often forget
    /// anchors, and an unanchored pattern would accept any value containing a match.
    pub(super) fn new(source: &str) -> Result<Self, regex_lite::Error> {
        let regex = Regex::new(&format!("^(?:{source})$"))?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written in the schema.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

/// A cross-field rule, checked after every field's own checks passed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// The date in `field` must be strictly after the date in `after`.
    DateAfter {
        /// The later date's field (problems are reported on it).
        field: String,
        /// The earlier date's field.
        after: String,
        /// Message shown instead of the generic one.
        message: Option<Label>,
    },
    /// `field` and `other` must not have the same value.
    NotEqual {
        /// The field problems are reported on.
        field: String,
        /// The field it is compared with.
        other: String,
        /// Message shown instead of the generic one.
        message: Option<Label>,
    },
}

/// Why a schema was rejected, with the JSON path of the offending value
/// (`sections[1].fields[3].required_if.field`; empty for the document itself).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} (at {})", if path.is_empty() { "the top level" } else { path.as_str() })]
pub struct SchemaError {
    path: String,
    kind: SchemaErrorKind,
}

impl SchemaError {
    pub(super) fn new(path: impl Into<String>, kind: SchemaErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }

    /// Stable error code (`YW-1501`..`YW-1521`).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// JSON path of the offending value; empty for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn kind(&self) -> &SchemaErrorKind {
        &self.kind
    }
}

/// What is wrong with a schema (see [`SchemaError`] for where).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The document is not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// A value has the wrong JSON type.
    #[error("wrong JSON type: expected {expected}")]
    WrongJsonType {
        /// What was expected, e.g. "a string".
        expected: &'static str,
    },
    /// A key that is unknown, or that does not apply to this field type.
    #[error("unknown key, or a key that does not apply here")]
    UnknownKey,
    /// A required key is missing.
    #[error("missing required key")]
    MissingKey,
    /// The matter code is not 1-64 characters of `A-Z`, `0-9`, `-`.
    #[error("invalid matter code: expected 1 to 64 characters from A-Z, 0-9 and -")]
    InvalidMatterCode,
    /// The version is not an integer from 1 to 4294967295.
    #[error("invalid version: expected an integer from 1 to 4294967295")]
    InvalidVersion,
    /// A section or field id is not `[a-z][a-z0-9_]{0,63}`.
    #[error("invalid id: expected a lowercase letter and up to 63 of a-z, 0-9, _")]
    InvalidId,
    /// A section id, field id or enum option value appears twice.
    #[error("duplicate id or option value")]
    Duplicate,
    /// The field `type` is not one of the supported types.
    #[error("unknown field type")]
    UnknownType,
    /// A `required_if` or rule names a field that does not exist.
    #[error("refers to a field that does not exist")]
    UnknownField,
    /// Following `required_if` from this field leads back to it.
    #[error("the required_if chain is cyclic")]
    CyclicRequiredIf,
    /// The pattern does not compile (regex-lite syntax).
    #[error("invalid pattern: {0}")]
    InvalidPattern(String),
    /// A bound is out of range or a minimum exceeds its maximum.
    #[error("invalid range: {0}")]
    InvalidRange(&'static str),
    /// An `enum` field has no options.
    #[error("an enum field needs at least one option")]
    NoOptions,
    /// The bind key is malformed or cannot fill this field type.
    #[error("invalid bind: {0}")]
    InvalidBind(&'static str),
    /// A rule is malformed or compares incompatible fields.
    #[error("invalid rule: {0}")]
    InvalidRule(&'static str),
    /// Bilingual text lacks a non-empty `zh` or `en`.
    #[error("invalid text: zh and en must both be non-empty strings")]
    InvalidLabel,
    /// A date bound is neither `YYYY-MM-DD` nor `"today"`.
    #[error("invalid date: expected a real YYYY-MM-DD date or \"today\"")]
    InvalidDate,
    /// The form or a section has nothing in it.
    #[error("empty: {0}")]
    Empty(&'static str),
    /// A `required_if` can never apply or contradicts `required`.
    #[error("invalid required_if: {0}")]
    InvalidRequiredIf(&'static str),
    /// A `licence_type` is not a 21-character licence type code.
    #[error("invalid licence type code: expected 18 credit-code characters and 3 digits")]
    InvalidLicenceType,
}

impl SchemaErrorKind {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Json(_) => "YW-1501",
            Self::WrongJsonType { .. } => "YW-1502",
            Self::UnknownKey => "YW-1503",
            Self::MissingKey => "YW-1504",
            Self::InvalidMatterCode => "YW-1505",
            Self::InvalidVersion => "YW-1506",
            Self::InvalidId => "YW-1507",
            Self::Duplicate => "YW-1508",
            Self::UnknownType => "YW-1509",
            Self::UnknownField => "YW-1510",
            Self::CyclicRequiredIf => "YW-1511",
            Self::InvalidPattern(_) => "YW-1512",
            Self::InvalidRange(_) => "YW-1513",
            Self::NoOptions => "YW-1514",
            Self::InvalidBind(_) => "YW-1515",
            Self::InvalidRule(_) => "YW-1516",
            Self::InvalidLabel => "YW-1517",
            Self::InvalidDate => "YW-1518",
            Self::Empty(_) => "YW-1519",
            Self::InvalidRequiredIf(_) => "YW-1520",
            Self::InvalidLicenceType => "YW-1521",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_anchored() {
        let p = Pattern::new("[0-9]{3}").unwrap();
        assert!(p.is_match("123"));
        assert!(!p.is_match("a123"));
        assert!(!p.is_match("1234"));
        // Already anchored patterns still work.
        let p = Pattern::new("^[0-9]{3}$").unwrap();
        assert!(p.is_match("123"));
        assert_eq!(p.as_str(), "^[0-9]{3}$");
    }

    #[test]
    fn han_range_pattern() {
        let p = Pattern::new("[\u{4e00}-\u{9fff}·]{1,16}").unwrap();
        assert!(p.is_match("张三"));
        assert!(p.is_match("阿依古丽·买买提"));
        assert!(!p.is_match("Zhang San"));
        let escaped = Pattern::new("[\\x{4e00}-\\x{9fff}]+").unwrap();
        assert!(escaped.is_match("李四"));
    }

    #[test]
    fn accepts_kind_by_type() {
        let text = FieldKind::Text {
            min_length: 0,
            max_length: 5,
            pattern: None,
        };
        assert!(text.accepts_kind(&Value::from("x")));
        assert!(!text.accepts_kind(&Value::from(1)));
        assert!(!text.accepts_kind(&Value::Null));
        assert!(FieldKind::Address.accepts_kind(&serde_json::json!({})));
        assert!(!FieldKind::Address.accepts_kind(&Value::from("x")));
        let number = FieldKind::Number {
            min: None,
            max: None,
            integer: false,
        };
        assert!(number.accepts_kind(&Value::from(1.5)));
    }

    #[test]
    fn error_display_names_the_path() {
        let e = SchemaError::new("sections[0].id", SchemaErrorKind::InvalidId);
        assert_eq!(e.code(), "YW-1507");
        assert!(e.to_string().contains("sections[0].id"));
        let e = SchemaError::new("", SchemaErrorKind::MissingKey);
        assert!(e.to_string().contains("top level"));
    }

    #[test]
    fn date_bound_resolves() {
        let today = time::macros::date!(2025 - 03 - 01);
        assert_eq!(DateBound::Today.resolve(today), today);
        let d = time::macros::date!(2020 - 01 - 31);
        assert_eq!(DateBound::Date(d).resolve(today), d);
        assert_eq!(DateBound::Date(d).to_string(), "2020-01-31");
    }
}
