//! Loading a schema from JSON. The document is walked by hand rather than
//! derived with serde so that every error carries the JSON path of the value
//! at fault (serde only reports line and column).
//!
//! Order of checks: the document is walked top to bottom (each value's own
//! shape, then its children); cross references (`required_if`, `bind` against
//! the field type, rules) are checked afterwards, in document order.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::date::parse_date;
use super::schema::{
    DEFAULT_TEXT_MAX_LENGTH, DateBound, EnumOption, Field, FieldKind, FormSchema, Label, Pattern,
    RequiredIf, Rule, SchemaError, SchemaErrorKind as K, Section,
};

const TOP_KEYS: &[&str] = &["matter_code", "version", "title", "sections", "rules"];
const SECTION_KEYS: &[&str] = &["id", "title", "fields"];
const FIELD_KEYS: &[&str] = &[
    "id",
    "type",
    "label",
    "hint",
    "required",
    "bind",
    "required_if",
];
const REQUIRED_IF_KEYS: &[&str] = &["field", "equals"];
const OPTION_KEYS: &[&str] = &["value", "label"];
const LABEL_KEYS: &[&str] = &["zh", "en"];

/// Characters allowed in a unified social credit code (no I, O, S, V, Z).
const USCC_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Maximum characters of an enum option value.
const OPTION_VALUE_MAX: usize = 64;

pub(super) fn load(json: &str) -> Result<FormSchema, SchemaError> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| SchemaError::new("", K::Json(e.to_string())))?;
    let top = Obj::new(&root, "", &[TOP_KEYS])?;

    let matter_code = top.req_str("matter_code")?;
    if !is_matter_code(matter_code) {
        return Err(SchemaError::new(
            top.at("matter_code"),
            K::InvalidMatterCode,
        ));
    }
    let version = top
        .req("version")?
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v >= 1)
        .ok_or_else(|| SchemaError::new(top.at("version"), K::InvalidVersion))?;
    let title = label(top.req("title")?, &top.at("title"))?;

    let raw_sections = top.req_array("sections")?;
    if raw_sections.is_empty() {
        return Err(SchemaError::new(
            top.at("sections"),
            K::Empty("a form needs at least one section"),
        ));
    }
    let mut sections = Vec::with_capacity(raw_sections.len());
    let mut section_ids = BTreeSet::new();
    let mut index = BTreeMap::new();
    for (s, raw) in raw_sections.iter().enumerate() {
        let path = format!("sections[{s}]");
        let section = section(raw, &path)?;
        if !section_ids.insert(section.id.clone()) {
            return Err(SchemaError::new(format!("{path}.id"), K::Duplicate));
        }
        for (f, field) in section.fields.iter().enumerate() {
            if index.insert(field.id.clone(), (s, f)).is_some() {
                return Err(SchemaError::new(
                    format!("{path}.fields[{f}].id"),
                    K::Duplicate,
                ));
            }
        }
        sections.push(section);
    }

    let rules = match top.opt_array("rules")? {
        Some(raw) => raw
            .iter()
            .enumerate()
            .map(|(i, r)| rule(r, &format!("rules[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };

    let schema = FormSchema {
        matter_code: matter_code.to_owned(),
        version,
        title,
        sections,
        rules,
        index,
    };
    check_references(&schema)?;
    Ok(schema)
}

// ---- one function per JSON object kind ----

fn section(v: &Value, path: &str) -> Result<Section, SchemaError> {
    let obj = Obj::new(v, path, &[SECTION_KEYS])?;
    let id = id(&obj, "id")?;
    let title = label(obj.req("title")?, &obj.at("title"))?;
    let raw_fields = obj.req_array("fields")?;
    if raw_fields.is_empty() {
        return Err(SchemaError::new(
            obj.at("fields"),
            K::Empty("a section needs at least one field"),
        ));
    }
    let fields = raw_fields
        .iter()
        .enumerate()
        .map(|(i, f)| field(f, &format!("{path}.fields[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Section { id, title, fields })
}

fn field(v: &Value, path: &str) -> Result<Field, SchemaError> {
    // The type decides which other keys are allowed, so read it first.
    let type_path = join(path, "type");
    let type_name = v
        .as_object()
        .ok_or_else(|| {
            SchemaError::new(
                path,
                K::WrongJsonType {
                    expected: "an object",
                },
            )
        })?
        .get("type")
        .ok_or_else(|| SchemaError::new(&type_path, K::MissingKey))?
        .as_str()
        .ok_or_else(|| {
            SchemaError::new(
                &type_path,
                K::WrongJsonType {
                    expected: "a string",
                },
            )
        })?;
    let type_keys: &[&str] = match type_name {
        "text" => &["min_length", "max_length", "pattern"],
        "number" => &["min", "max", "integer"],
        "date" => &["min", "max"],
        "enum" => &["options"],
        "licence_ref" => &["licence_type"],
        "id_number" | "uscc" | "phone" | "address" | "attachment" => &[],
        _ => return Err(SchemaError::new(type_path, K::UnknownType)),
    };
    let obj = Obj::new(v, path, &[FIELD_KEYS, type_keys])?;

    let id = id(&obj, "id")?;
    let field_label = label(obj.req("label")?, &obj.at("label"))?;
    let hint = obj
        .opt("hint")
        .map(|h| label(h, &obj.at("hint")))
        .transpose()?;
    let required = obj.opt_bool("required")?.unwrap_or(false);
    let bind = obj.opt_str("bind")?.map(str::to_owned);
    let required_if = obj
        .opt("required_if")
        .map(|r| required_if(r, &obj.at("required_if")))
        .transpose()?;
    if required && required_if.is_some() {
        return Err(SchemaError::new(
            obj.at("required_if"),
            K::InvalidRequiredIf("a field cannot be both required and required_if"),
        ));
    }
    let kind = kind(type_name, &obj)?;
    Ok(Field {
        id,
        label: field_label,
        hint,
        kind,
        required,
        bind,
        required_if,
    })
}

fn kind(type_name: &str, obj: &Obj<'_>) -> Result<FieldKind, SchemaError> {
    Ok(match type_name {
        "text" => {
            let min_length = obj.opt_u32("min_length")?.unwrap_or(0);
            let max_length = obj
                .opt_u32("max_length")?
                .unwrap_or(DEFAULT_TEXT_MAX_LENGTH);
            if max_length == 0 {
                return Err(SchemaError::new(
                    obj.at("max_length"),
                    K::InvalidRange("max_length must be at least 1"),
                ));
            }
            if min_length > max_length {
                return Err(SchemaError::new(
                    obj.at("min_length"),
                    K::InvalidRange("min_length exceeds max_length"),
                ));
            }
            let pattern = obj
                .opt_str("pattern")?
                .map(|p| {
                    Pattern::new(p).map_err(|e| {
                        SchemaError::new(obj.at("pattern"), K::InvalidPattern(e.to_string()))
                    })
                })
                .transpose()?;
            FieldKind::Text {
                min_length,
                max_length,
                pattern,
            }
        }
        "number" => {
            let min = obj.opt_f64("min")?;
            let max = obj.opt_f64("max")?;
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(SchemaError::new(
                    obj.at("min"),
                    K::InvalidRange("min exceeds max"),
                ));
            }
            let integer = obj.opt_bool("integer")?.unwrap_or(false);
            FieldKind::Number { min, max, integer }
        }
        "date" => {
            let min = date_bound(obj, "min")?;
            let max = date_bound(obj, "max")?;
            // A bound of "today" moves, so only two fixed dates can be compared here.
            if let (Some(DateBound::Date(lo)), Some(DateBound::Date(hi))) = (min, max)
                && lo > hi
            {
                return Err(SchemaError::new(
                    obj.at("min"),
                    K::InvalidRange("min is after max"),
                ));
            }
            FieldKind::Date { min, max }
        }
        "enum" => FieldKind::Enum {
            options: options(obj)?,
        },
        "licence_ref" => {
            let licence_type = obj.opt_str("licence_type")?;
            if let Some(t) = licence_type
                && !is_licence_type_code(t)
            {
                return Err(SchemaError::new(
                    obj.at("licence_type"),
                    K::InvalidLicenceType,
                ));
            }
            FieldKind::LicenceRef {
                licence_type: licence_type.map(str::to_owned),
            }
        }
        "id_number" => FieldKind::IdNumber,
        "uscc" => FieldKind::Uscc,
        "phone" => FieldKind::Phone,
        "address" => FieldKind::Address,
        // `field` rejected every other name before calling here.
        _ => FieldKind::Attachment,
    })
}

fn options(obj: &Obj<'_>) -> Result<Vec<EnumOption>, SchemaError> {
    let path = obj.at("options");
    let raw = match obj.opt("options") {
        None => return Err(SchemaError::new(path, K::NoOptions)),
        Some(v) => v.as_array().ok_or_else(|| {
            SchemaError::new(
                &path,
                K::WrongJsonType {
                    expected: "an array",
                },
            )
        })?,
    };
    if raw.is_empty() {
        return Err(SchemaError::new(path, K::NoOptions));
    }
    let mut seen = BTreeSet::new();
    let mut options = Vec::with_capacity(raw.len());
    for (i, o) in raw.iter().enumerate() {
        let o = Obj::new(o, &format!("{path}[{i}]"), &[OPTION_KEYS])?;
        let value = o.req_str("value")?;
        if value.is_empty() || value.chars().count() > OPTION_VALUE_MAX {
            return Err(SchemaError::new(
                o.at("value"),
                K::InvalidRange("an option value must have 1 to 64 characters"),
            ));
        }
        if !seen.insert(value) {
            return Err(SchemaError::new(o.at("value"), K::Duplicate));
        }
        options.push(EnumOption {
            value: value.to_owned(),
            label: label(o.req("label")?, &o.at("label"))?,
        });
    }
    Ok(options)
}

fn required_if(v: &Value, path: &str) -> Result<RequiredIf, SchemaError> {
    let obj = Obj::new(v, path, &[REQUIRED_IF_KEYS])?;
    let field = obj.req_str("field")?.to_owned();
    let equals = obj.req("equals")?.clone();
    // An absent value is never "equal" to anything, so null could never match.
    if equals.is_null() {
        return Err(SchemaError::new(
            obj.at("equals"),
            K::InvalidRequiredIf("equals must not be null"),
        ));
    }
    Ok(RequiredIf { field, equals })
}

fn rule(v: &Value, path: &str) -> Result<Rule, SchemaError> {
    let kind_path = join(path, "kind");
    let kind = v
        .as_object()
        .ok_or_else(|| {
            SchemaError::new(
                path,
                K::WrongJsonType {
                    expected: "an object",
                },
            )
        })?
        .get("kind")
        .ok_or_else(|| SchemaError::new(&kind_path, K::MissingKey))?
        .as_str()
        .ok_or_else(|| {
            SchemaError::new(
                &kind_path,
                K::WrongJsonType {
                    expected: "a string",
                },
            )
        })?;
    let other_key = match kind {
        "date_after" => "after",
        "not_equal" => "other",
        _ => {
            return Err(SchemaError::new(
                kind_path,
                K::InvalidRule("unknown rule kind"),
            ));
        }
    };
    let obj = Obj::new(v, path, &[&["kind", "field", "message", other_key]])?;
    let field = obj.req_str("field")?.to_owned();
    let other = obj.req_str(other_key)?.to_owned();
    let message = obj
        .opt("message")
        .map(|m| label(m, &obj.at("message")))
        .transpose()?;
    Ok(match kind {
        "date_after" => Rule::DateAfter {
            field,
            after: other,
            message,
        },
        _ => Rule::NotEqual {
            field,
            other,
            message,
        },
    })
}

/// Bilingual text at `path`: an object with exactly `zh` and `en`, both
/// non-blank (a form the citizen cannot read in either language is a bug).
fn label(v: &Value, path: &str) -> Result<Label, SchemaError> {
    let obj = Obj::new(v, path, &[LABEL_KEYS])?;
    let zh = obj.req_str("zh")?;
    let en = obj.req_str("en")?;
    if zh.trim().is_empty() {
        return Err(SchemaError::new(obj.at("zh"), K::InvalidLabel));
    }
    if en.trim().is_empty() {
        return Err(SchemaError::new(obj.at("en"), K::InvalidLabel));
    }
    Ok(Label {
        zh: zh.to_owned(),
        en: en.to_owned(),
    })
}

fn id(obj: &Obj<'_>, key: &str) -> Result<String, SchemaError> {
    let id = obj.req_str(key)?;
    if !is_id(id) {
        return Err(SchemaError::new(obj.at(key), K::InvalidId));
    }
    Ok(id.to_owned())
}

fn date_bound(obj: &Obj<'_>, key: &str) -> Result<Option<DateBound>, SchemaError> {
    obj.opt_str(key)?
        .map(|s| match s {
            "today" => Ok(DateBound::Today),
            _ => parse_date(s)
                .map(DateBound::Date)
                .ok_or_else(|| SchemaError::new(obj.at(key), K::InvalidDate)),
        })
        .transpose()
}

// ---- cross references ----

/// Checks what needs the whole schema: `bind` against the field type,
/// `required_if` targets and cycles, and rule fields.
fn check_references(schema: &FormSchema) -> Result<(), SchemaError> {
    for (s, section) in schema.sections.iter().enumerate() {
        for (f, field) in section.fields.iter().enumerate() {
            let path = format!("sections[{s}].fields[{f}]");
            if let Some(bind) = &field.bind {
                check_bind(bind, &field.kind)
                    .map_err(|why| SchemaError::new(format!("{path}.bind"), K::InvalidBind(why)))?;
            }
            if let Some(cond) = &field.required_if {
                check_required_if(schema, field, cond, &path)?;
            }
        }
    }
    for (i, rule) in schema.rules.iter().enumerate() {
        check_rule(schema, rule, &format!("rules[{i}]"))?;
    }
    Ok(())
}

fn check_required_if(
    schema: &FormSchema,
    field: &Field,
    cond: &RequiredIf,
    path: &str,
) -> Result<(), SchemaError> {
    let field_path = format!("{path}.required_if.field");
    let target = schema
        .field(&cond.field)
        .ok_or_else(|| SchemaError::new(&field_path, K::UnknownField))?;
    if !target.kind.accepts_kind(&cond.equals) {
        return Err(SchemaError::new(
            format!("{path}.required_if.equals"),
            K::InvalidRequiredIf("equals can never match a value of the referenced field's type"),
        ));
    }
    if let FieldKind::Enum { options } = &target.kind
        && !options.iter().any(|o| cond.equals == o.value.as_str())
    {
        return Err(SchemaError::new(
            format!("{path}.required_if.equals"),
            K::InvalidRequiredIf("equals is not an option of the referenced enum field"),
        ));
    }
    // Each field has at most one required_if, so the chain from a field either
    // ends or enters a cycle within as many steps as there are fields.
    let mut current = cond.field.as_str();
    for _ in 0..schema.index.len() {
        if current == field.id {
            return Err(SchemaError::new(field_path, K::CyclicRequiredIf));
        }
        match schema.field(current).and_then(|f| f.required_if.as_ref()) {
            Some(next) => current = &next.field,
            None => break,
        }
    }
    Ok(())
}

fn check_rule(schema: &FormSchema, rule: &Rule, path: &str) -> Result<(), SchemaError> {
    let (field, other, other_key) = match rule {
        Rule::DateAfter { field, after, .. } => (field, after, "after"),
        Rule::NotEqual { field, other, .. } => (field, other, "other"),
    };
    let a = schema
        .field(field)
        .ok_or_else(|| SchemaError::new(format!("{path}.field"), K::UnknownField))?;
    let b = schema
        .field(other)
        .ok_or_else(|| SchemaError::new(format!("{path}.{other_key}"), K::UnknownField))?;
    if field == other {
        return Err(SchemaError::new(
            format!("{path}.{other_key}"),
            K::InvalidRule("a rule must compare two different fields"),
        ));
    }
    match rule {
        Rule::DateAfter { .. } => {
            for (f, key) in [(a, "field"), (b, other_key)] {
                if !matches!(f.kind, FieldKind::Date { .. }) {
                    return Err(SchemaError::new(
                        format!("{path}.{key}"),
                        K::InvalidRule("date_after compares two date fields"),
                    ));
                }
            }
        }
        Rule::NotEqual { .. } => {
            if a.kind.type_name() != b.kind.type_name() {
                return Err(SchemaError::new(
                    format!("{path}.{other_key}"),
                    K::InvalidRule("not_equal compares two fields of the same type"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks a bind key's syntax and that the values it names fit the field type,
/// because a prefilled value is read-only: a mismatch could never be fixed by
/// the citizen.
fn check_bind(key: &str, kind: &FieldKind) -> Result<(), &'static str> {
    let fits = match key {
        "credential.name" | "credential.region" => matches!(kind, FieldKind::Text { .. }),
        "credential.id_number" => matches!(kind, FieldKind::IdNumber),
        "credential.birth_date" => matches!(kind, FieldKind::Date { .. }),
        "credential.sex" => match kind {
            FieldKind::Enum { options } => ["male", "female"]
                .iter()
                .all(|v| options.iter().any(|o| o.value == *v)),
            _ => false,
        },
        _ => {
            let mut parts = key.split('.');
            let (Some("licence"), Some(type_code), Some(meta), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err("expected credential.<claim> or licence.<type code>.<field>");
            };
            if !is_licence_type_code(type_code) {
                return Err("the licence type code must be 18 credit-code characters and 3 digits");
            }
            if !is_meta_name(meta) {
                return Err("the licence field must be a lowercase name of up to 32 characters");
            }
            matches!(
                kind,
                FieldKind::Text { .. }
                    | FieldKind::Number { .. }
                    | FieldKind::Date { .. }
                    | FieldKind::Enum { .. }
            )
        }
    };
    if fits {
        Ok(())
    } else {
        Err("the bound value cannot fill a field of this type")
    }
}

// ---- syntax predicates ----

/// A matter's standard code: 1-64 characters of `A-Z`, `0-9`, `-`.
pub fn is_matter_code(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// `[a-z][a-z0-9_]{0,63}`: ids become JSON keys and problem paths, so they are
/// kept to one unambiguous spelling.
fn is_id(s: &str) -> bool {
    name_of_at_most(s, 64)
}

fn is_meta_name(s: &str) -> bool {
    name_of_at_most(s, 32)
}

fn name_of_at_most(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// A GB/T 36904 licence type code: the authority's 18-character credit code
/// (character set only; see `identity::LicenceId`) and a 3-digit sequence.
pub fn is_licence_type_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 21
        && b[..18].iter().all(|&c| USCC_CHARS.as_bytes().contains(&c))
        && b[18..].iter().all(u8::is_ascii_digit)
}

// ---- path-tracking JSON object access ----

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A JSON object whose keys were checked against an allow-list, with its path
/// so that every accessor can report where a problem is.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: &str, allowed: &[&[&str]]) -> Result<Self, SchemaError> {
        let map = v.as_object().ok_or_else(|| {
            SchemaError::new(
                path,
                K::WrongJsonType {
                    expected: "an object",
                },
            )
        })?;
        if let Some(key) = map
            .keys()
            .find(|k| !allowed.iter().any(|set| set.contains(&k.as_str())))
        {
            return Err(SchemaError::new(join(path, key), K::UnknownKey));
        }
        Ok(Self {
            map,
            path: path.to_owned(),
        })
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn opt(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn req(&self, key: &str) -> Result<&'a Value, SchemaError> {
        self.opt(key)
            .ok_or_else(|| SchemaError::new(self.at(key), K::MissingKey))
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, SchemaError> {
        self.opt(key)
            .map(|v| {
                read(v).ok_or_else(|| SchemaError::new(self.at(key), K::WrongJsonType { expected }))
            })
            .transpose()
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, SchemaError> {
        self.typed(key, "a string", Value::as_str)
    }

    fn req_str(&self, key: &str) -> Result<&'a str, SchemaError> {
        self.opt_str(key)?
            .ok_or_else(|| SchemaError::new(self.at(key), K::MissingKey))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, SchemaError> {
        self.typed(key, "true or false", Value::as_bool)
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>, SchemaError> {
        self.typed(key, "an integer from 0 to 4294967295", |v| {
            v.as_u64().and_then(|n| u32::try_from(n).ok())
        })
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, SchemaError> {
        // serde_json numbers are always finite, so no NaN can reach a bound.
        self.typed(key, "a number", Value::as_f64)
    }

    fn opt_array(&self, key: &str) -> Result<Option<&'a [Value]>, SchemaError> {
        self.typed(key, "an array", |v| v.as_array().map(Vec::as_slice))
    }

    fn req_array(&self, key: &str) -> Result<&'a [Value], SchemaError> {
        self.opt_array(key)?
            .ok_or_else(|| SchemaError::new(self.at(key), K::MissingKey))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn base() -> Value {
        json!({
            "matter_code": "TEST-001",
            "version": 1,
            "title": {"zh": "测试", "en": "Test"},
            "sections": [
                {"id": "main", "title": {"zh": "主要", "en": "Main"}, "fields": [
                    {"id": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"},
                     "required": true, "bind": "credential.name"},
                    {"id": "method", "type": "enum", "label": {"zh": "方式", "en": "Method"},
                     "options": [
                        {"value": "mail", "label": {"zh": "邮寄", "en": "Mail"}},
                        {"value": "pickup", "label": {"zh": "自取", "en": "Pick-up"}}]},
                    {"id": "start", "type": "date", "label": {"zh": "开始", "en": "Start"}},
                    {"id": "end", "type": "date", "label": {"zh": "结束", "en": "End"},
                     "max": "today"}
                ]},
                {"id": "extra", "title": {"zh": "其他", "en": "Other"}, "fields": [
                    {"id": "address", "type": "address", "label": {"zh": "地址", "en": "Address"},
                     "required_if": {"field": "method", "equals": "mail"}},
                    {"id": "phone", "type": "phone", "label": {"zh": "电话", "en": "Phone"}},
                    {"id": "phone2", "type": "phone", "label": {"zh": "电话2", "en": "Phone 2"}}
                ]}
            ],
            "rules": [
                {"kind": "date_after", "field": "end", "after": "start"},
                {"kind": "not_equal", "field": "phone2", "other": "phone"}
            ]
        })
    }

    fn load_value(v: &Value) -> Result<FormSchema, SchemaError> {
        load(&v.to_string())
    }

    /// Applies `edit` to the base schema and returns the error's code and path.
    fn error_of(edit: impl FnOnce(&mut Value)) -> (&'static str, String) {
        let mut v = base();
        edit(&mut v);
        let e = load_value(&v).unwrap_err();
        (e.code(), e.path().to_owned())
    }

    #[test]
    fn base_loads() {
        let s = load_value(&base()).unwrap();
        assert_eq!(s.matter_code(), "TEST-001");
        assert_eq!(s.fields().count(), 7);
        assert_eq!(s.field_path("phone").as_deref(), Some("extra.phone"));
        assert_eq!(s.rules().len(), 2);
        assert!(matches!(
            s.field("end").unwrap().kind(),
            FieldKind::Date {
                max: Some(DateBound::Today),
                ..
            }
        ));
        assert_eq!(s.field("name").unwrap().bind(), Some("credential.name"));
    }

    #[test]
    fn syntax_error() {
        let e = load("{").unwrap_err();
        assert_eq!((e.code(), e.path()), ("YW-1501", ""));
        let e = load("[]").unwrap_err();
        assert_eq!((e.code(), e.path()), ("YW-1502", ""));
    }

    #[test]
    fn top_level_errors() {
        assert_eq!(
            error_of(|v| v["extra"] = json!(1)),
            ("YW-1503", "extra".into())
        );
        assert_eq!(
            error_of(|v| v["matter_code"] = json!("abc")),
            ("YW-1505", "matter_code".into())
        );
        assert_eq!(
            error_of(|v| v["matter_code"] = json!("A".repeat(65))),
            ("YW-1505", "matter_code".into())
        );
        assert_eq!(
            error_of(|v| v["version"] = json!(0)),
            ("YW-1506", "version".into())
        );
        assert_eq!(
            error_of(|v| v["version"] = json!("1")),
            ("YW-1506", "version".into())
        );
        assert_eq!(
            error_of(|v| {
                v.as_object_mut().unwrap().remove("title");
            }),
            ("YW-1504", "title".into())
        );
        assert_eq!(
            error_of(|v| v["title"]["en"] = json!(" ")),
            ("YW-1517", "title.en".into())
        );
        assert_eq!(
            error_of(|v| v["sections"] = json!([])),
            ("YW-1519", "sections".into())
        );
        assert_eq!(
            error_of(|v| v["sections"] = json!({})),
            ("YW-1502", "sections".into())
        );
    }

    #[test]
    fn section_and_field_errors() {
        assert_eq!(
            error_of(|v| v["sections"][1]["id"] = json!("main")),
            ("YW-1508", "sections[1].id".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][1]["id"] = json!("name")),
            ("YW-1508", "sections[1].fields[1].id".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["id"] = json!("Name")),
            ("YW-1507", "sections[0].fields[0].id".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"] = json!([])),
            ("YW-1519", "sections[0].fields".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["type"] = json!("textarea")),
            ("YW-1509", "sections[0].fields[0].type".into())
        );
        assert_eq!(
            error_of(|v| {
                v["sections"][0]["fields"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("type");
            }),
            ("YW-1504", "sections[0].fields[0].type".into())
        );
        // A key of another type is rejected like an unknown key.
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["options"] = json!([])),
            ("YW-1503", "sections[0].fields[0].options".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["required"] = json!("yes")),
            ("YW-1502", "sections[0].fields[0].required".into())
        );
    }

    #[test]
    fn type_specific_errors() {
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["pattern"] = json!("[a-")),
            ("YW-1512", "sections[0].fields[0].pattern".into())
        );
        // regex-lite has no Unicode classes: schemas must use explicit ranges.
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["pattern"] = json!("\\p{Han}+")),
            ("YW-1512", "sections[0].fields[0].pattern".into())
        );
        assert_eq!(
            error_of(|v| {
                v["sections"][0]["fields"][0]["min_length"] = json!(5);
                v["sections"][0]["fields"][0]["max_length"] = json!(4);
            }),
            ("YW-1513", "sections[0].fields[0].min_length".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][0]["max_length"] = json!(-1)),
            ("YW-1502", "sections[0].fields[0].max_length".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][1]["options"] = json!([])),
            ("YW-1514", "sections[0].fields[1].options".into())
        );
        assert_eq!(
            error_of(|v| {
                v["sections"][0]["fields"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("options");
            }),
            ("YW-1514", "sections[0].fields[1].options".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][1]["options"][1]["value"] = json!("mail")),
            ("YW-1508", "sections[0].fields[1].options[1].value".into())
        );
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][2]["min"] = json!("2024-02-30")),
            ("YW-1518", "sections[0].fields[2].min".into())
        );
        assert_eq!(
            error_of(|v| {
                v["sections"][0]["fields"][2]["min"] = json!("2024-02-02");
                v["sections"][0]["fields"][2]["max"] = json!("2024-02-01");
            }),
            ("YW-1513", "sections[0].fields[2].min".into())
        );
        assert_eq!(
            error_of(|v| {
                v["sections"][1]["fields"][0] = json!({"id": "n", "type": "number",
                    "label": {"zh": "数", "en": "N"}, "min": 3, "max": 2});
            }),
            ("YW-1513", "sections[1].fields[0].min".into())
        );
        assert_eq!(
            error_of(|v| {
                v["sections"][1]["fields"][0] = json!({"id": "l", "type": "licence_ref",
                    "label": {"zh": "证", "en": "L"}, "licence_type": "1110000000001333"});
            }),
            ("YW-1521", "sections[1].fields[0].licence_type".into())
        );
    }

    #[test]
    fn bind_errors() {
        for bad in [
            "credential.nickname",
            "licence",
            "licence.11100000000013338W011",
            "licence.11100000000013338W01.number",
            "licence.11100000000013338WO11.number",
            "licence.11100000000013338W011.Number",
            "licence.11100000000013338W011.number.x",
            "wallet.name",
        ] {
            assert_eq!(
                error_of(|v| v["sections"][0]["fields"][0]["bind"] = json!(bad)),
                ("YW-1515", "sections[0].fields[0].bind".into()),
                "{bad}"
            );
        }
        // Well formed but cannot fill the type: a phone field bound to a name.
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][1]["bind"] = json!("credential.name")),
            ("YW-1515", "sections[1].fields[1].bind".into())
        );
        // credential.sex needs an enum with male and female.
        assert_eq!(
            error_of(|v| v["sections"][0]["fields"][1]["bind"] = json!("credential.sex")),
            ("YW-1515", "sections[0].fields[1].bind".into())
        );
        let mut v = base();
        v["sections"][0]["fields"][0]["bind"] = json!("licence.11100000000013338W011.holder");
        load_value(&v).unwrap();
    }

    #[test]
    fn required_if_errors() {
        let p = "sections[1].fields[0].required_if";
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][0]["required_if"]["field"] = json!("nope")),
            ("YW-1510", format!("{p}.field"))
        );
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][0]["required_if"]["equals"] = json!("post")),
            ("YW-1520", format!("{p}.equals"))
        );
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][0]["required_if"]["equals"] = json!(1)),
            ("YW-1520", format!("{p}.equals"))
        );
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][0]["required_if"]["equals"] = json!(null)),
            ("YW-1520", format!("{p}.equals"))
        );
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][0]["required"] = json!(true)),
            ("YW-1520", p.to_owned())
        );
        assert_eq!(
            error_of(|v| v["sections"][1]["fields"][0]["required_if"]["else"] = json!(1)),
            ("YW-1503", format!("{p}.else"))
        );
    }

    #[test]
    fn cyclic_required_if() {
        // Self reference.
        assert_eq!(
            error_of(|v| {
                v["sections"][1]["fields"][1]["required_if"] =
                    json!({"field": "phone", "equals": "13800138000"});
            }),
            ("YW-1511", "sections[1].fields[1].required_if.field".into())
        );
        // phone → phone2 → start → phone: reported at the first member in document order.
        assert_eq!(
            error_of(|v| {
                v["sections"][0]["fields"][2]["required_if"] =
                    json!({"field": "phone", "equals": "13800138000"});
                v["sections"][1]["fields"][1]["required_if"] =
                    json!({"field": "phone2", "equals": "13800138000"});
                v["sections"][1]["fields"][2]["required_if"] =
                    json!({"field": "start", "equals": "2024-01-01"});
            }),
            ("YW-1511", "sections[0].fields[2].required_if.field".into())
        );
        // A chain without a cycle is fine.
        let mut v = base();
        v["sections"][1]["fields"][1]["required_if"] =
            json!({"field": "address", "equals": {"region": "110105", "detail": "x"}});
        load_value(&v).unwrap();
    }

    #[test]
    fn rule_errors() {
        assert_eq!(
            error_of(|v| v["rules"][0]["kind"] = json!("before")),
            ("YW-1516", "rules[0].kind".into())
        );
        assert_eq!(
            error_of(|v| v["rules"][0]["after"] = json!("nope")),
            ("YW-1510", "rules[0].after".into())
        );
        assert_eq!(
            error_of(|v| v["rules"][1]["field"] = json!("nope")),
            ("YW-1510", "rules[1].field".into())
        );
        assert_eq!(
            error_of(|v| v["rules"][0]["after"] = json!("name")),
            ("YW-1516", "rules[0].after".into())
        );
        assert_eq!(
            error_of(|v| v["rules"][0]["after"] = json!("end")),
            ("YW-1516", "rules[0].after".into())
        );
        assert_eq!(
            error_of(|v| v["rules"][1]["other"] = json!("name")),
            ("YW-1516", "rules[1].other".into())
        );
        // `other` belongs to not_equal, not date_after.
        assert_eq!(
            error_of(|v| v["rules"][0]["other"] = json!("start")),
            ("YW-1503", "rules[0].other".into())
        );
        assert_eq!(
            error_of(|v| v["rules"][0]["message"] = json!({"zh": "须晚于"})),
            ("YW-1504", "rules[0].message.en".into())
        );
    }

    #[test]
    fn licence_type_codes() {
        assert!(is_licence_type_code("11100000000013338W011"));
        assert!(!is_licence_type_code("11100000000013338W01A"));
        assert!(!is_licence_type_code("11100000000013338I011"));
        assert!(!is_licence_type_code("11100000000013338W0111"));
    }
}
