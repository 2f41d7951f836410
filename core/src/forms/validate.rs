//! Validation of draft values against a schema: every problem at once, one per
//! field at most (the first failing check), then cross-field rules.
//!
//! Messages name the field by its label and the constraint (bounds, lengths)
//! but never the value: values are personal data and messages end up in logs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};
use time::Date;

use super::date::{format_date, parse_date};
use super::schema::{DateBound, Field, FieldKind, FormSchema, Label, RequiredIf, Rule};
use crate::identity::{IdNumber, LicenceId, RegionCode, Uscc};

/// Largest attachment accepted, in bytes (20 MiB).
pub const ATTACHMENT_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// Media types an attachment may have.
pub const ATTACHMENT_MEDIA_TYPES: [&str; 3] = ["image/jpeg", "image/png", "application/pdf"];
/// Maximum characters of an address's `detail`.
pub const ADDRESS_DETAIL_MAX: usize = 120;
/// Maximum characters of a licence reference's reason for use (用证事由).
pub const REASON_MAX: usize = 200;

pub(super) const REQUIRED: &str = "YW-1601";
pub(super) const REQUIRED_IF: &str = "YW-1602";
pub(super) const WRONG_TYPE: &str = "YW-1603";
pub(super) const TOO_SHORT: &str = "YW-1604";
pub(super) const TOO_LONG: &str = "YW-1605";
pub(super) const PATTERN: &str = "YW-1606";
pub(super) const OUT_OF_RANGE: &str = "YW-1607";
pub(super) const NOT_INTEGER: &str = "YW-1608";
pub(super) const INVALID_DATE: &str = "YW-1609";
pub(super) const DATE_OUT_OF_RANGE: &str = "YW-1610";
pub(super) const NOT_AN_OPTION: &str = "YW-1611";
pub(super) const INVALID_ID_NUMBER: &str = "YW-1612";
pub(super) const INVALID_USCC: &str = "YW-1613";
pub(super) const INVALID_PHONE: &str = "YW-1614";
pub(super) const INVALID_ADDRESS: &str = "YW-1615";
pub(super) const INVALID_LICENCE: &str = "YW-1616";
pub(super) const INVALID_REASON: &str = "YW-1617";
pub(super) const INVALID_ATTACHMENT: &str = "YW-1618";
pub(super) const DATE_NOT_AFTER: &str = "YW-1619";
pub(super) const VALUES_EQUAL: &str = "YW-1620";
pub(super) const UNKNOWN_FIELD: &str = "YW-1621";
pub(super) const OTHER_FORM: &str = "YW-1622";
pub(super) const LISTS_DIFFER: &str = "YW-1623";

/// One thing the citizen must fix before submitting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `section_id.field_id` (just the key for a value the schema does not
    /// know; empty for the draft as a whole).
    pub path: String,
    /// Stable code, `YW-16xx`.
    pub code: &'static str,
    /// Message in Simplified Chinese (never contains the value).
    pub message_zh: String,
    /// Message in English (never contains the value).
    pub message_en: String,
}

/// Validates `values` (a draft made for `matter_code` / `version`).
pub(super) fn validate(
    schema: &FormSchema,
    matter_code: &str,
    version: u32,
    values: &BTreeMap<String, Value>,
    today: Date,
) -> Vec<Problem> {
    if !schema.matches(matter_code, version) {
        // Field checks against another form's schema would only be noise.
        return vec![Problem {
            path: String::new(),
            code: OTHER_FORM,
            message_zh: "草稿与表单版本不符，请重新填写".into(),
            message_en: "This draft belongs to another form or form version; please start again"
                .into(),
        }];
    }
    let mut problems = Vec::new();
    // Rules only run between fields that passed their own checks, so a field
    // never shows a rule message on top of "invalid date".
    let mut failed = BTreeSet::new();
    for (section, field) in schema.fields() {
        let failure = match present(values.get(field.id())) {
            Some(value) => check_value(field, value, today),
            None => check_missing(schema, field, values),
        };
        if let Some(f) = failure {
            failed.insert(field.id());
            problems.push(f.at(format!("{}.{}", section.id(), field.id())));
        }
    }
    for rule in schema.rules() {
        if let Some(p) = check_rule(schema, rule, values, &failed) {
            problems.push(p);
        }
    }
    for key in values.keys().filter(|k| schema.field(k).is_none()) {
        problems.push(Problem {
            path: key.clone(),
            code: UNKNOWN_FIELD,
            message_zh: "表单中没有此项，请删除后再提交".into(),
            message_en: "This item is not part of the form; remove it before submitting".into(),
        });
    }
    problems
}

/// The value unless it is blank: null, a whitespace-only string, or an empty
/// object or array all count as "not filled in".
pub(super) fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    })
}

/// A field's problem before its path is known.
struct Failure {
    code: &'static str,
    zh: String,
    en: String,
}

impl Failure {
    fn at(self, path: String) -> Problem {
        Problem {
            path,
            code: self.code,
            message_zh: self.zh,
            message_en: self.en,
        }
    }
}

/// Builds a failure from the field label and message tails:
/// `「出生日期」` + zh, `Date of birth` + en.
fn fail(code: &'static str, label: &Label, zh: impl AsRef<str>, en: impl AsRef<str>) -> Failure {
    Failure {
        code,
        zh: format!("「{}」{}", label.zh, zh.as_ref()),
        en: format!("{}: {}", label.en, en.as_ref()),
    }
}

fn check_missing(
    schema: &FormSchema,
    field: &Field,
    values: &BTreeMap<String, Value>,
) -> Option<Failure> {
    let l = field.label();
    if field.required() {
        return Some(fail(REQUIRED, l, "为必填项", "required"));
    }
    let RequiredIf {
        field: other,
        equals,
    } = field.required_if()?;
    if present(values.get(other)) != Some(equals) {
        return None;
    }
    let other = schema.field(other).map(Field::label)?;
    Some(fail(
        REQUIRED_IF,
        l,
        format!("根据「{}」的选择，此项为必填项", other.zh),
        format!("required because of your answer to \"{}\"", other.en),
    ))
}

fn check_value(field: &Field, value: &Value, today: Date) -> Option<Failure> {
    let l = field.label();
    if !field.kind().accepts_kind(value) {
        return Some(wrong_type(l));
    }
    match field.kind() {
        FieldKind::Text {
            min_length,
            max_length,
            pattern,
        } => {
            let s = value.as_str()?;
            let n = s.chars().count();
            if n < *min_length as usize {
                return Some(fail(
                    TOO_SHORT,
                    l,
                    format!("至少{min_length}个字"),
                    format!("at least {min_length} characters"),
                ));
            }
            if n > *max_length as usize {
                return Some(fail(
                    TOO_LONG,
                    l,
                    format!("最多{max_length}个字"),
                    format!("at most {max_length} characters"),
                ));
            }
            if pattern.as_ref().is_some_and(|p| !p.is_match(s)) {
                return Some(fail(PATTERN, l, "格式不正确", "wrong format"));
            }
            None
        }
        FieldKind::Number { min, max, integer } => {
            let n = value.as_f64()?;
            if *integer && !is_integral(value) {
                return Some(fail(NOT_INTEGER, l, "须为整数", "must be a whole number"));
            }
            if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) {
                let range = number_range(*min, *max);
                return Some(fail(
                    OUT_OF_RANGE,
                    l,
                    format!("须在{range}范围内"),
                    format!("must be in the range {range}"),
                ));
            }
            None
        }
        FieldKind::Date { min, max } => check_date(l, value.as_str()?, *min, *max, today),
        FieldKind::Enum { options } => {
            let s = value.as_str()?;
            (!options.iter().any(|o| o.value == s)).then(|| {
                fail(
                    NOT_AN_OPTION,
                    l,
                    "请从选项中选择",
                    "choose one of the options",
                )
            })
        }
        FieldKind::IdNumber => IdNumber::parse(value.as_str()?).is_err().then(|| {
            fail(
                INVALID_ID_NUMBER,
                l,
                "不是有效的居民身份证号码",
                "not a valid citizen ID number",
            )
        }),
        FieldKind::Uscc => Uscc::parse(value.as_str()?).is_err().then(|| {
            fail(
                INVALID_USCC,
                l,
                "不是有效的统一社会信用代码",
                "not a valid unified social credit code",
            )
        }),
        FieldKind::Phone => (!is_mainland_mobile(value.as_str()?)).then(|| {
            fail(
                INVALID_PHONE,
                l,
                "请填写11位手机号码",
                "enter an 11-digit mainland mobile number",
            )
        }),
        FieldKind::Address => check_address(l, value.as_object()?),
        FieldKind::LicenceRef { licence_type } => {
            check_licence_ref(l, value.as_object()?, licence_type.as_deref())
        }
        FieldKind::Attachment => check_attachment(l, value.as_object()?),
    }
}

fn wrong_type(l: &Label) -> Failure {
    fail(WRONG_TYPE, l, "填写内容的类型不正确", "wrong kind of value")
}

fn check_date(
    l: &Label,
    s: &str,
    min: Option<DateBound>,
    max: Option<DateBound>,
    today: Date,
) -> Option<Failure> {
    let Some(d) = parse_date(s) else {
        return Some(fail(
            INVALID_DATE,
            l,
            "不是有效日期（格式：YYYY-MM-DD）",
            "not a valid date (YYYY-MM-DD)",
        ));
    };
    if let Some(lo) = min
        && d < lo.resolve(today)
    {
        let (zh, en) = match lo {
            DateBound::Today => (
                "不能早于今天".to_owned(),
                "must not be before today".to_owned(),
            ),
            DateBound::Date(x) => (
                format!("不能早于{}", format_date(x)),
                format!("must not be before {}", format_date(x)),
            ),
        };
        return Some(fail(DATE_OUT_OF_RANGE, l, zh, en));
    }
    if let Some(hi) = max
        && d > hi.resolve(today)
    {
        let (zh, en) = match hi {
            DateBound::Today => (
                "不能晚于今天".to_owned(),
                "must not be after today".to_owned(),
            ),
            DateBound::Date(x) => (
                format!("不能晚于{}", format_date(x)),
                format!("must not be after {}", format_date(x)),
            ),
        };
        return Some(fail(DATE_OUT_OF_RANGE, l, zh, en));
    }
    None
}

fn check_address(l: &Label, obj: &Map<String, Value>) -> Option<Failure> {
    if !only_keys(obj, &["region", "detail"]) {
        return Some(wrong_type(l));
    }
    let region_ok = obj
        .get("region")
        .and_then(Value::as_str)
        .is_some_and(|r| RegionCode::parse(r).is_ok());
    if !region_ok {
        return Some(fail(
            INVALID_ADDRESS,
            l,
            "请选择有效的行政区划",
            "choose a valid administrative region",
        ));
    }
    let detail_ok = obj
        .get("detail")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.trim().is_empty() && d.chars().count() <= ADDRESS_DETAIL_MAX);
    (!detail_ok).then(|| {
        fail(
            INVALID_ADDRESS,
            l,
            format!("详细地址须为1至{ADDRESS_DETAIL_MAX}个字"),
            format!("the street address must have 1 to {ADDRESS_DETAIL_MAX} characters"),
        )
    })
}

fn check_licence_ref(
    l: &Label,
    obj: &Map<String, Value>,
    licence_type: Option<&str>,
) -> Option<Failure> {
    if !only_keys(obj, &["licence_id", "reason"]) {
        return Some(wrong_type(l));
    }
    let licence = obj
        .get("licence_id")
        .and_then(Value::as_str)
        .and_then(|s| LicenceId::parse(s).ok());
    let Some(licence) = licence else {
        return Some(fail(
            INVALID_LICENCE,
            l,
            "不是有效的电子证照标识",
            "not a valid electronic licence identifier",
        ));
    };
    if licence_type.is_some_and(|t| licence.type_code() != t) {
        return Some(fail(
            INVALID_LICENCE,
            l,
            "所选证照类型不符",
            "this is not the kind of licence required",
        ));
    }
    let reason_ok = obj
        .get("reason")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.trim().is_empty() && r.chars().count() <= REASON_MAX);
    (!reason_ok).then(|| {
        fail(
            INVALID_REASON,
            l,
            format!("请填写用证事由（1至{REASON_MAX}个字）"),
            format!("enter the reason for use (1 to {REASON_MAX} characters)"),
        )
    })
}

fn check_attachment(l: &Label, obj: &Map<String, Value>) -> Option<Failure> {
    if !only_keys(obj, &["sha256", "media_type", "size"]) {
        return Some(wrong_type(l));
    }
    let hash_ok = obj
        .get("sha256")
        .and_then(Value::as_str)
        .is_some_and(is_sha256_hex);
    let media_ok = obj
        .get("media_type")
        .and_then(Value::as_str)
        .is_some_and(|m| ATTACHMENT_MEDIA_TYPES.contains(&m));
    let size_ok = obj
        .get("size")
        .and_then(Value::as_u64)
        .is_some_and(|s| (1..=ATTACHMENT_MAX_BYTES).contains(&s));
    (!(hash_ok && media_ok && size_ok)).then(|| {
        fail(
            INVALID_ATTACHMENT,
            l,
            "附件无效（须为JPEG、PNG或PDF，不超过20MB）",
            "invalid attachment (JPEG, PNG or PDF, at most 20 MB)",
        )
    })
}

fn check_rule(
    schema: &FormSchema,
    rule: &Rule,
    values: &BTreeMap<String, Value>,
    failed: &BTreeSet<&str>,
) -> Option<Problem> {
    let (a, b, message) = match rule {
        Rule::DateAfter {
            field,
            after,
            message,
        } => (field, after, message),
        Rule::NotEqual {
            field,
            other,
            message,
        } => (field, other, message),
    };
    if failed.contains(a.as_str()) || failed.contains(b.as_str()) {
        return None;
    }
    let va = present(values.get(a))?;
    let vb = present(values.get(b))?;
    let (la, lb) = (schema.field(a)?.label(), schema.field(b)?.label());
    let failure = match rule {
        Rule::DateAfter { .. } => {
            let (da, db) = (parse_date(va.as_str()?)?, parse_date(vb.as_str()?)?);
            (da <= db).then(|| Failure {
                code: DATE_NOT_AFTER,
                zh: format!("「{}」须晚于「{}」", la.zh, lb.zh),
                en: format!("{} must be after {}", la.en, lb.en),
            })
        }
        Rule::NotEqual { .. } => (va == vb).then(|| Failure {
            code: VALUES_EQUAL,
            zh: format!("「{}」不能与「{}」相同", la.zh, lb.zh),
            en: format!("{} must differ from {}", la.en, lb.en),
        }),
    }?;
    let failure = match message {
        Some(m) => Failure {
            zh: m.zh.clone(),
            en: m.en.clone(),
            ..failure
        },
        None => failure,
    };
    Some(failure.at(schema.field_path(a)?))
}

/// Mainland mobile number: `1`, then `3`-`9`, then 9 digits.
fn is_mainland_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// 64 lowercase hex digits: one canonical spelling so that the same file
/// always has the same reference.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a JSON number is integral (`3` and `3.0` are, `3.5` is not).
fn is_integral(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> bool {
    obj.keys().all(|k| allowed.contains(&k.as_str()))
}

/// `[0, 150]`, `≥ 0`, `≤ 150`: the bounds as the message shows them.
fn number_range(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("[{lo}, {hi}]"),
        (Some(lo), None) => format!("≥ {lo}"),
        (None, Some(hi)) => format!("≤ {hi}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;
    use crate::identity::Uscc;

    const TODAY: Date = date!(2025 - 06 - 15);

    fn schema() -> FormSchema {
        FormSchema::from_json(
            &json!({
                "matter_code": "T-1", "version": 2,
                "title": {"zh": "测试", "en": "Test"},
                "sections": [{"id": "s", "title": {"zh": "节", "en": "S"}, "fields": [
                    {"id": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"},
                     "required": true, "min_length": 2, "max_length": 4,
                     "pattern": "[\u{4e00}-\u{9fff}]+"},
                    {"id": "age", "type": "number", "label": {"zh": "年龄", "en": "Age"},
                     "min": 0, "max": 150, "integer": true},
                    {"id": "start", "type": "date", "label": {"zh": "开始", "en": "Start"},
                     "min": "2020-01-01", "max": "today"},
                    {"id": "end", "type": "date", "label": {"zh": "结束", "en": "End"}},
                    {"id": "how", "type": "enum", "label": {"zh": "方式", "en": "How"},
                     "options": [{"value": "mail", "label": {"zh": "邮寄", "en": "Mail"}},
                                 {"value": "pickup", "label": {"zh": "自取", "en": "Pick-up"}}]},
                    {"id": "idn", "type": "id_number", "label": {"zh": "身份证", "en": "ID"}},
                    {"id": "org", "type": "uscc", "label": {"zh": "单位", "en": "Org"}},
                    {"id": "phone", "type": "phone", "label": {"zh": "手机", "en": "Mobile"}},
                    {"id": "phone2", "type": "phone", "label": {"zh": "备用", "en": "Backup"}},
                    {"id": "addr", "type": "address", "label": {"zh": "地址", "en": "Address"},
                     "required_if": {"field": "how", "equals": "mail"}},
                    {"id": "lic", "type": "licence_ref", "label": {"zh": "证照", "en": "Licence"},
                     "licence_type": "11100000000013338W011"},
                    {"id": "file", "type": "attachment", "label": {"zh": "附件", "en": "File"}}
                ]}],
                "rules": [
                    {"kind": "date_after", "field": "end", "after": "start"},
                    {"kind": "not_equal", "field": "phone2", "other": "phone",
                     "message": {"zh": "备用号码不能与手机相同", "en": "Use a different backup number"}}
                ]
            })
            .to_string(),
        )
        .unwrap()
    }

    fn licence(type_code: &str) -> String {
        let issuer = Uscc::parse("91350100M000100Y43").unwrap();
        LicenceId::new(type_code, &issuer, "2024FJ000123", 1)
            .unwrap()
            .as_str()
            .to_owned()
    }

    fn valid() -> BTreeMap<String, Value> {
        let v = json!({
            "name": "张三", "age": 30, "start": "2024-01-01", "end": "2024-02-01",
            "how": "mail", "idn": "11010519491231002X", "org": "91350100M000100Y43",
            "phone": "13800138000", "phone2": "13900139000",
            "addr": {"region": "110105", "detail": "朝阳路1号"},
            "lic": {"licence_id": licence("11100000000013338W011"), "reason": "换证"},
            "file": {"sha256": "ab".repeat(32), "media_type": "image/png", "size": 1024}
        });
        serde_json::from_value(v).unwrap()
    }

    fn codes(values: &BTreeMap<String, Value>) -> Vec<(String, &'static str)> {
        validate(&schema(), "T-1", 2, values, TODAY)
            .into_iter()
            .map(|p| (p.path, p.code))
            .collect()
    }

    fn with(key: &str, value: Value) -> BTreeMap<String, Value> {
        let mut v = valid();
        v.insert(key.into(), value);
        v
    }

    fn code_of(key: &str, value: Value) -> Vec<(String, &'static str)> {
        codes(&with(key, value))
    }

    fn one(path: &str, code: &'static str) -> Vec<(String, &'static str)> {
        vec![(path.to_owned(), code)]
    }

    #[test]
    fn valid_values_have_no_problems() {
        assert_eq!(codes(&valid()), vec![]);
    }

    #[test]
    fn required_and_required_if() {
        let mut v = valid();
        v.remove("name");
        v.remove("addr");
        assert_eq!(
            codes(&v),
            vec![("s.name".into(), REQUIRED), ("s.addr".into(), REQUIRED_IF)]
        );
        // Blank counts as missing.
        assert_eq!(code_of("name", json!("  ")), one("s.name", REQUIRED));
        assert_eq!(code_of("addr", json!({})), one("s.addr", REQUIRED_IF));
        assert_eq!(code_of("name", Value::Null), one("s.name", REQUIRED));
        // Condition false: no problem.
        let mut v = with("how", json!("pickup"));
        v.remove("addr");
        assert_eq!(codes(&v), vec![]);
    }

    #[test]
    fn text_checks() {
        assert_eq!(code_of("name", json!(1)), one("s.name", WRONG_TYPE));
        assert_eq!(code_of("name", json!("张")), one("s.name", TOO_SHORT));
        assert_eq!(
            code_of("name", json!("张三李四王")),
            one("s.name", TOO_LONG)
        );
        assert_eq!(code_of("name", json!("Zh")), one("s.name", PATTERN));
    }

    #[test]
    fn number_checks() {
        assert_eq!(code_of("age", json!(-1)), one("s.age", OUT_OF_RANGE));
        assert_eq!(code_of("age", json!(151)), one("s.age", OUT_OF_RANGE));
        assert_eq!(code_of("age", json!(30.5)), one("s.age", NOT_INTEGER));
        assert_eq!(codes(&with("age", json!(30.0))), vec![]);
        assert_eq!(code_of("age", json!("30")), one("s.age", WRONG_TYPE));
    }

    #[test]
    fn date_checks() {
        assert_eq!(
            code_of("start", json!("2024-02-30")),
            one("s.start", INVALID_DATE)
        );
        assert_eq!(
            code_of("start", json!("2019-12-31")),
            one("s.start", DATE_OUT_OF_RANGE)
        );
        assert_eq!(
            code_of("start", json!("2025-06-16")),
            one("s.start", DATE_OUT_OF_RANGE)
        );
        // Today itself is allowed by "max": "today" (and end is then not after start).
        assert_eq!(
            code_of("start", json!("2025-06-15")),
            one("s.end", DATE_NOT_AFTER)
        );
    }

    #[test]
    fn identity_checks() {
        assert_eq!(code_of("how", json!("post")), one("s.how", NOT_AN_OPTION));
        assert_eq!(
            code_of("idn", json!("110105194912310021")),
            one("s.idn", INVALID_ID_NUMBER)
        );
        assert_eq!(
            code_of("org", json!("91350100M000100Y44")),
            one("s.org", INVALID_USCC)
        );
        for bad in [
            "12800138000",
            "1380013800",
            "138001380001",
            "+8613800138000",
            "1380013800a",
        ] {
            assert_eq!(
                code_of("phone", json!(bad)),
                one("s.phone", INVALID_PHONE),
                "{bad}"
            );
        }
    }

    #[test]
    fn object_checks() {
        let addr = |v: Value| code_of("addr", v);
        assert_eq!(addr(json!("北京")), one("s.addr", WRONG_TYPE));
        assert_eq!(
            addr(json!({"region": "110105", "detail": "x", "zip": "1"})),
            one("s.addr", WRONG_TYPE)
        );
        assert_eq!(
            addr(json!({"region": "990105", "detail": "x"})),
            one("s.addr", INVALID_ADDRESS)
        );
        assert_eq!(
            addr(json!({"region": "110105"})),
            one("s.addr", INVALID_ADDRESS)
        );
        assert_eq!(
            addr(json!({"region": "110105", "detail": "路".repeat(121)})),
            one("s.addr", INVALID_ADDRESS)
        );

        let lic = |v: Value| code_of("lic", v);
        assert_eq!(
            lic(json!({"licence_id": "1.2.3", "reason": "x"})),
            one("s.lic", INVALID_LICENCE)
        );
        assert_eq!(
            lic(json!({"licence_id": licence("11100000000013338W012"), "reason": "x"})),
            one("s.lic", INVALID_LICENCE)
        );
        let id = licence("11100000000013338W011");
        assert_eq!(lic(json!({"licence_id": id})), one("s.lic", INVALID_REASON));
        assert_eq!(
            lic(json!({"licence_id": id, "reason": " "})),
            one("s.lic", INVALID_REASON)
        );
        assert_eq!(
            lic(json!({"licence_id": id, "reason": "由".repeat(201)})),
            one("s.lic", INVALID_REASON)
        );
        assert_eq!(
            codes(&with(
                "lic",
                json!({"licence_id": id, "reason": "由".repeat(200)})
            )),
            vec![]
        );

        let file = |v: Value| code_of("file", v);
        let hash = "ab".repeat(32);
        for bad in [
            json!({"sha256": "AB".repeat(32), "media_type": "image/png", "size": 1}),
            json!({"sha256": "ab".repeat(31), "media_type": "image/png", "size": 1}),
            json!({"sha256": hash, "media_type": "image/gif", "size": 1}),
            json!({"sha256": hash, "media_type": "image/png", "size": 0}),
            json!({"sha256": hash, "media_type": "image/png", "size": ATTACHMENT_MAX_BYTES + 1}),
            json!({"sha256": hash, "media_type": "image/png"}),
        ] {
            assert_eq!(file(bad), one("s.file", INVALID_ATTACHMENT));
        }
        assert_eq!(
            codes(&with(
                "file",
                json!({"sha256": hash, "media_type": "application/pdf", "size": ATTACHMENT_MAX_BYTES})
            )),
            vec![]
        );
    }

    #[test]
    fn rules_use_custom_message_and_skip_failed_fields() {
        let problems = validate(
            &schema(),
            "T-1",
            2,
            &with("phone2", json!("13800138000")),
            TODAY,
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, VALUES_EQUAL);
        assert_eq!(problems[0].path, "s.phone2");
        assert_eq!(problems[0].message_zh, "备用号码不能与手机相同");
        // The end date is invalid: only that, not also the rule.
        assert_eq!(
            code_of("end", json!("2024-13-01")),
            one("s.end", INVALID_DATE)
        );
        assert_eq!(
            code_of("end", json!("2023-12-31")),
            one("s.end", DATE_NOT_AFTER)
        );
    }

    #[test]
    fn unknown_values_and_other_forms() {
        assert_eq!(
            code_of("nickname", json!("x")),
            one("nickname", UNKNOWN_FIELD)
        );
        let p = validate(&schema(), "T-1", 1, &valid(), TODAY);
        assert_eq!((p.len(), p[0].code), (1, OTHER_FORM));
    }

    #[test]
    fn messages_never_contain_values() {
        let mut v = BTreeMap::new();
        let secrets = [
            ("name", json!("Secretname")),
            ("age", json!(987654)),
            ("start", json!("2019-07-07")),
            ("how", json!("secretopt")),
            ("idn", json!("110105194912310021")),
            ("org", json!("91350100M000100Y44")),
            ("phone", json!("12312345678")),
            (
                "addr",
                json!({"region": "110105", "detail": "秘".repeat(130)}),
            ),
            (
                "lic",
                json!({"licence_id": "1.2.156.3005.2.SECRET", "reason": "x"}),
            ),
            (
                "file",
                json!({"sha256": "f".repeat(63), "media_type": "x", "size": 1}),
            ),
        ];
        for (k, val) in &secrets {
            v.insert((*k).to_owned(), val.clone());
        }
        let problems = validate(&schema(), "T-1", 2, &v, TODAY);
        assert_eq!(problems.len(), secrets.len());
        for p in &problems {
            let text = format!("{} {}", p.message_zh, p.message_en);
            for needle in [
                "Secretname",
                "987654",
                "2019-07-07",
                "secretopt",
                "110105194912310021",
                "91350100M000100Y44",
                "12312345678",
                "秘秘",
                "SECRET",
                "fffff",
            ] {
                assert!(!text.contains(needle), "{text}");
            }
        }
    }

    #[test]
    fn mobile_numbers() {
        assert!(is_mainland_mobile("13800138000"));
        assert!(is_mainland_mobile("19912345678"));
        assert!(!is_mainland_mobile("12012345678"));
        assert!(!is_mainland_mobile("１３800138000"));
    }
}
