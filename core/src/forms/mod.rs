//! Application forms (表单) and drafts (表单草稿): schemas per matter (事项),
//! drafts prefilled from government data, autosaved revisions, validation,
//! three-way merge for sync between devices, and the submission payload.
//! Pure logic: no storage and no I/O beyond parsing schema JSON from a string.
//!
//! # Form schema format
//!
//! One JSON document per matter and version. Unknown keys are rejected
//! everywhere (a misspelt `requried` must not silently make a field optional).
//!
//! ```json
//! {
//!   "matter_code": "11100000000013338W3110000000001",
//!   "version": 1,
//!   "title": {"zh": "新生儿出生一件事", "en": "Newborn: one-stop services"},
//!   "sections": [
//!     {"id": "child", "title": {"zh": "新生儿信息", "en": "Newborn"},
//!      "fields": [
//!        {"id": "child_name", "type": "text",
//!         "label": {"zh": "新生儿姓名", "en": "Name of the newborn"},
//!         "hint": {"zh": "…", "en": "…"},
//!         "required": true, "max_length": 16,
//!         "pattern": "[\\x{4e00}-\\x{9fff}·]{1,16}"},
//!        {"id": "mailing_address", "type": "address",
//!         "label": {"zh": "邮寄地址", "en": "Mailing address"},
//!         "required_if": {"field": "collect_method", "equals": "mail"}}
//!      ]}
//!   ],
//!   "rules": [
//!     {"kind": "date_after", "field": "end_date", "after": "start_date"},
//!     {"kind": "not_equal", "field": "emergency_phone", "other": "phone",
//!      "message": {"zh": "…", "en": "…"}}
//!   ]
//! }
//! ```
//!
//! ## Top level
//!
//! | key | required | value |
//! |---|---|---|
//! | `matter_code` | yes | the matter's standard code (同一事项、同一标准、同一编码): 1-64 characters from `A-Z`, `0-9`, `-` |
//! | `version` | yes | integer 1..=4294967295; a draft records the version it was made with and is only valid against it |
//! | `title` | yes | bilingual text |
//! | `sections` | yes | non-empty array of sections |
//! | `rules` | no | array of cross-field rules |
//!
//! *Bilingual text* is `{"zh": "…", "en": "…"}`, both non-blank strings.
//!
//! A **section** is `{"id", "title", "fields"}`: `id` is `[a-z][a-z0-9_]{0,63}`
//! and unique among sections; `fields` is a non-empty array.
//!
//! ## Fields
//!
//! Keys common to all types:
//!
//! | key | required | value |
//! |---|---|---|
//! | `id` | yes | `[a-z][a-z0-9_]{0,63}`, unique in the whole form (draft values are keyed by it) |
//! | `type` | yes | one of the types below |
//! | `label` | yes | bilingual text |
//! | `hint` | no | bilingual help text |
//! | `required` | no | `true` / `false` (default `false`) |
//! | `bind` | no | prefill source key (see *Bindings*) |
//! | `required_if` | no | `{"field": "<field id>", "equals": <JSON value>}`: required when that field's value equals `equals`. Not together with `required: true`; `equals` must not be `null`, must be of the referenced field's JSON kind, and one of its options if it is an `enum`; following `required_if` from field to field must not lead back to the start |
//!
//! Types, their extra keys (no other keys are allowed) and the value a draft
//! stores:
//!
//! | `type` | extra keys | value |
//! |---|---|---|
//! | `text` | `min_length`, `max_length` (characters; default max 2000), `pattern` | string |
//! | `number` | `min`, `max` (inclusive), `integer` (bool) | JSON number |
//! | `date` | `min`, `max`: `"YYYY-MM-DD"` or `"today"` (inclusive) | `"YYYY-MM-DD"`, a real calendar date |
//! | `enum` | `options`: non-empty array of `{"value": "<1-64 chars, unique>", "label": <bilingual>}` | one of the option values |
//! | `id_number` | — | citizen ID number string (GB 11643-1999, check character verified) |
//! | `uscc` | — | unified social credit code string (GB 32100-2015, strict) |
//! | `phone` | — | mainland mobile: `1`, `3`-`9`, 9 more digits |
//! | `address` | — | `{"region": "<6-digit GB/T 2260 code>", "detail": "<1-120 chars>"}` |
//! | `licence_ref` | `licence_type` (21-char licence type code the licence must have) | `{"licence_id": "<GB/T 36904 identifier>", "reason": "<用证事由, 1-200 chars>"}` |
//! | `attachment` | — | `{"sha256": "<64 lowercase hex>", "media_type": "image/jpeg" \| "image/png" \| "application/pdf", "size": <1..=20971520>}`; files are referenced by hash, never embedded |
//!
//! `pattern` is [regex-lite] syntax and must match the *whole* value (it is
//! compiled as `^(?:pattern)$`). regex-lite has no Unicode classes: write
//! `[\x{4e00}-\x{9fff}]` (or the literal characters) instead of `\p{Han}`.
//! A value is *blank* when it is `null`, a whitespace-only string or an empty
//! object; blank values count as not filled in and are not submitted.
//!
//! [regex-lite]: https://docs.rs/regex-lite
//!
//! ## Bindings (prefill)
//!
//! `bind` names a key of a [`PrefillSource`] (implemented by the wallet). A
//! prefilled field is government data: shown as-is and read-only (the Myinfo
//! principle: wrong data is corrected at the source, not in the form).
//!
//! | key | value | field types allowed |
//! |---|---|---|
//! | `credential.name` | string | `text` |
//! | `credential.id_number` | string | `id_number` |
//! | `credential.birth_date` | `"YYYY-MM-DD"` | `date` |
//! | `credential.sex` | `"male"` / `"female"` | `enum` with options `male` and `female` |
//! | `credential.region` | 6-digit region code string | `text` |
//! | `licence.<type code>.<field>` | a scalar from the licence's metadata | `text`, `number`, `date`, `enum` |
//!
//! `<type code>` is a 21-character licence type code (18 credit-code
//! characters and 3 digits, e.g. `11100000000013338W011`); `<field>` is
//! `[a-z][a-z0-9_]{0,31}`. A source value of the wrong JSON kind for the
//! field, or a blank one, is not prefilled.
//!
//! ## Rules
//!
//! Checked after each field's own checks, only when both fields are filled in
//! and passed them; the problem is reported on `field`. `message` (optional
//! bilingual text) replaces the generic message.
//!
//! | `kind` | keys | meaning |
//! |---|---|---|
//! | `date_after` | `field`, `after` (both `date` fields) | `field` is strictly later than `after` |
//! | `not_equal` | `field`, `other` (same type) | the two values differ |
//!
//! ## Loading errors (`SchemaError`, YW-15xx)
//!
//! [`FormSchema::from_json`] stops at the first error and reports its JSON
//! path, e.g. `sections[1].fields[3].required_if.field` (empty for the
//! document itself). Each value's own shape is checked in document order;
//! cross references (`bind` against the type, `required_if`, rules) after.
//!
//! | code | meaning |
//! |---|---|
//! | YW-1501 | not valid JSON |
//! | YW-1502 | a value has the wrong JSON type |
//! | YW-1503 | unknown key, or a key of another field type |
//! | YW-1504 | missing required key |
//! | YW-1505 | invalid matter code |
//! | YW-1506 | invalid version |
//! | YW-1507 | invalid section or field id |
//! | YW-1508 | duplicate section id, field id or option value |
//! | YW-1509 | unknown field type |
//! | YW-1510 | `required_if` or a rule refers to an unknown field |
//! | YW-1511 | cyclic `required_if` chain |
//! | YW-1512 | pattern does not compile |
//! | YW-1513 | invalid range: min > max, `max_length` 0, option value length |
//! | YW-1514 | `enum` without options |
//! | YW-1515 | malformed `bind` key, or one that cannot fill the field type |
//! | YW-1516 | invalid rule: unknown kind, wrong field types, a field compared with itself |
//! | YW-1517 | bilingual text with a blank `zh` or `en` |
//! | YW-1518 | date bound neither a real `YYYY-MM-DD` nor `"today"` |
//! | YW-1519 | no sections, or a section without fields |
//! | YW-1520 | `required_if` that can never apply or is combined with `required` |
//! | YW-1521 | invalid `licence_type` |
//!
//! ## Draft errors (`DraftError`, YW-155x)
//!
//! | code | meaning |
//! |---|---|
//! | YW-1551 | the form has no such field |
//! | YW-1552 | the field holds government data and is read-only |
//! | YW-1553 | the value is not of the field's JSON kind (string, number, object) |
//! | YW-1554 | the draft belongs to another matter or schema version |
//! | YW-1555 | no such revision |
//! | YW-1556 | the random number generator failed (new draft id) |
//!
//! ## Validation problems (`Problem`, YW-16xx)
//!
//! [`Draft::validate`] reports every problem at once: at most one per field
//! (the first failing check, in the order of this table), then rule
//! violations, then values the form does not know. `path` is
//! `section_id.field_id`. Messages (zh and en) name the field and the
//! constraint, never the value.
//!
//! | code | meaning |
//! |---|---|
//! | YW-1601 | required field not filled in |
//! | YW-1602 | field required by `required_if` not filled in |
//! | YW-1603 | wrong kind of value (or an object with unexpected keys) |
//! | YW-1604 | text too short |
//! | YW-1605 | text too long |
//! | YW-1606 | text does not match the pattern |
//! | YW-1607 | number out of range |
//! | YW-1608 | number not an integer |
//! | YW-1609 | not a real `YYYY-MM-DD` date |
//! | YW-1610 | date out of range |
//! | YW-1611 | not one of the options |
//! | YW-1612 | invalid citizen ID number |
//! | YW-1613 | invalid unified social credit code |
//! | YW-1614 | invalid mainland mobile number |
//! | YW-1615 | invalid address: region code or detail (1-120 chars) |
//! | YW-1616 | invalid licence identifier, or not of the required `licence_type` |
//! | YW-1617 | reason for use (用证事由) missing, blank or over 200 chars |
//! | YW-1618 | invalid attachment: hash, media type or size |
//! | YW-1619 | `date_after` violated |
//! | YW-1620 | `not_equal` violated |
//! | YW-1621 | a value for a field the form does not have (path is the key) |
//! | YW-1622 | the draft belongs to another matter or schema version (path empty; no other problems reported) |
//!
//! # Drafts
//!
//! A [`Draft`] keeps values as JSON, keyed by field id, plus the set of
//! government (prefilled, read-only) fields. [`Draft::set`] checks only the
//! JSON kind, because drafts are incomplete by nature. [`Draft::save`] appends
//! a revision (full snapshot) only when the values changed; [`Draft::undo_to`]
//! restores an old snapshot as a new revision. A draft expires
//! [`Draft::DEFAULT_TTL_SECS`] (30 days) after its last revision.
//! [`merge`] merges two devices' values field by field; conflicts keep the
//! local value and are returned for the citizen to resolve.
//!
//! # Submission payload
//!
//! ```json
//! {"draft_id": "<32 hex>", "matter_code": "…", "schema_version": 1,
//!  "values": {"<field id>": <value>, …},
//!  "licence_refs": [{"field": "…", "licence_id": "…", "reason": "…"}],
//!  "attachments": [{"field": "…", "sha256": "…"}]}
//! ```
//!
//! `values` holds every non-blank value (including the `licence_ref` and
//! `attachment` objects); `licence_refs` and `attachments` repeat them in form
//! order so the server can fetch licences and files without knowing the schema.

mod date;
mod draft;
mod load;
mod merge;
mod schema;
mod validate;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

pub use draft::{AttachmentEntry, Draft, DraftError, LicenceRefEntry, Revision, Submission};
pub use load::{is_licence_type_code, is_matter_code};
pub use merge::{Conflict, Merge, merge};
pub use schema::{
    DEFAULT_TEXT_MAX_LENGTH, DateBound, EnumOption, Field, FieldKind, FormSchema, Label, Pattern,
    RequiredIf, Rule, SchemaError, SchemaErrorKind, Section,
};
pub use validate::{
    ADDRESS_DETAIL_MAX, ATTACHMENT_MAX_BYTES, ATTACHMENT_MEDIA_TYPES, Problem, REASON_MAX,
};

/// Where prefill values come from (the wallet: the 网证 and e-licences). Keys
/// are the `bind` keys of the schema format; see the module documentation for
/// the value each key is expected to return.
pub trait PrefillSource {
    /// The value for `key`, or `None` if the source does not have it.
    fn value(&self, key: &str) -> Option<Value>;
}

/// A fixed map of values, for tests and for callers that gather the values
/// up front.
impl PrefillSource for BTreeMap<String, Value> {
    fn value(&self, key: &str) -> Option<Value> {
        self.get(key).cloned()
    }
}

impl PrefillSource for HashMap<String, Value> {
    fn value(&self, key: &str) -> Option<Value> {
        self.get(key).cloned()
    }
}
