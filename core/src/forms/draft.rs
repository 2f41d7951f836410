//! Drafts (表单草稿): values being filled in, prefilled government data,
//! autosaved revisions, validation, sync merge and the submission payload.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use time::Date;

use super::PrefillSource;
use super::merge::{Conflict, merge};
use super::schema::{FieldKind, FormSchema};
use super::validate::{LISTS_DIFFER, Problem, present, validate};
use crate::crypto::random_bytes;

/// A citizen's application form in progress.
///
/// `Debug` shows the id, matter code and revision count only: values are
/// personal data.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    id: String,
    matter_code: String,
    schema_version: u32,
    values: BTreeMap<String, Value>,
    /// Fields prefilled from government data: shown as-is and read-only.
    government: BTreeSet<String>,
    revisions: Vec<Revision>,
    created_at: i64,
    /// Time of the latest revision (or creation): expiry counts from here, so
    /// a draft the citizen keeps working on does not expire under them.
    updated_at: i64,
    /// The server's version of this draft that this device last synced
    /// (`PUT`/`GET /v1/drafts/{id}`); 0: never synced. Drafts stored before
    /// sync existed load with 0.
    #[serde(default)]
    synced_version: u32,
}

/// A saved snapshot of a draft's values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// 1, 2, 3, … in order of saving.
    pub number: u32,
    /// When it was saved (Unix seconds).
    pub at: i64,
    /// All values at that moment.
    pub values: BTreeMap<String, Value>,
}

/// Why a draft operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DraftError {
    /// The schema has no field with this id.
    #[error("the form has no field \"{0}\"")]
    UnknownField(String),
    /// The field holds government data and cannot be edited.
    #[error("field \"{0}\" holds government data and is read-only")]
    ReadOnly(String),
    /// The value is not of the JSON kind the field type stores.
    #[error("field \"{field}\" takes {expected}")]
    WrongKind {
        /// The field id.
        field: String,
        /// "a string", "a number" or "an object".
        expected: &'static str,
    },
    /// The draft was made for another matter or schema version.
    #[error("the draft belongs to another form or form version")]
    SchemaMismatch,
    /// No revision has this number.
    #[error("no revision {0}")]
    UnknownRevision(u32),
    /// The system random number generator failed (draft id).
    #[error("the system random number generator failed")]
    Randomness,
}

impl DraftError {
    /// Stable error code (`YW-1551`..`YW-1556`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownField(_) => "YW-1551",
            Self::ReadOnly(_) => "YW-1552",
            Self::WrongKind { .. } => "YW-1553",
            Self::SchemaMismatch => "YW-1554",
            Self::UnknownRevision(_) => "YW-1555",
            Self::Randomness => "YW-1556",
        }
    }
}

/// The validated payload sent to the server when the citizen submits.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The draft id (the server's idempotency key for resubmissions).
    pub draft_id: String,
    /// The matter's standard code.
    pub matter_code: String,
    /// The schema version the values follow.
    pub schema_version: u32,
    /// Every filled-in value (blank values are left out).
    pub values: BTreeMap<String, Value>,
    /// The e-licences presented, one per `licence_ref` field, in form order.
    pub licence_refs: Vec<LicenceRefEntry>,
    /// The files to fetch by hash, one per `attachment` field, in form order.
    pub attachments: Vec<AttachmentEntry>,
}

/// A presented e-licence, extracted from a `licence_ref` field.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceRefEntry {
    /// The field id.
    pub field: String,
    /// The GB/T 36904 licence identifier.
    pub licence_id: String,
    /// The reason for use (用证事由).
    pub reason: String,
}

/// An attachment reference, extracted from an `attachment` field.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentEntry {
    /// The field id.
    pub field: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
}

impl Submission {
    /// The receiving side's check (the server, against the same schema):
    /// every problem of the values, as [`Draft::validate`] reports them; and,
    /// when the values are valid, that `licence_refs` and `attachments` are
    /// exactly those the values hold (YW-1623, path `licence_refs` or
    /// `attachments`), so nothing can be presented that the form does not show.
    pub fn check(&self, schema: &FormSchema, today: Date) -> Vec<Problem> {
        let mut problems = validate(
            schema,
            &self.matter_code,
            self.schema_version,
            &self.values,
            today,
        );
        if !problems.is_empty() {
            return problems;
        }
        let (_, licence_refs, attachments) = extract(schema, &self.values);
        if licence_refs != self.licence_refs {
            problems.push(mismatch("licence_refs"));
        }
        if attachments != self.attachments {
            problems.push(mismatch("attachments"));
        }
        problems
    }
}

fn mismatch(path: &str) -> Problem {
    Problem {
        path: path.to_owned(),
        code: LISTS_DIFFER,
        message_zh: format!("{path} 与表单中的值不一致"),
        message_en: format!("{path} does not repeat the form's values"),
    }
}

/// The non-blank values in form order, with the licence references and
/// attachments among them.
fn extract(
    schema: &FormSchema,
    all: &BTreeMap<String, Value>,
) -> (
    BTreeMap<String, Value>,
    Vec<LicenceRefEntry>,
    Vec<AttachmentEntry>,
) {
    let mut values = BTreeMap::new();
    let mut licence_refs = Vec::new();
    let mut attachments = Vec::new();
    for (_, field) in schema.fields() {
        let Some(value) = present(all.get(field.id())) else {
            continue;
        };
        let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default();
        match field.kind() {
            FieldKind::LicenceRef { .. } => licence_refs.push(LicenceRefEntry {
                field: field.id().to_owned(),
                licence_id: text("licence_id").to_owned(),
                reason: text("reason").to_owned(),
            }),
            FieldKind::Attachment => attachments.push(AttachmentEntry {
                field: field.id().to_owned(),
                sha256: text("sha256").to_owned(),
            }),
            _ => {}
        }
        values.insert(field.id().to_owned(), value.clone());
    }
    (values, licence_refs, attachments)
}

impl Draft {
    /// Unsubmitted drafts are deleted 30 days after their last save.
    pub const DEFAULT_TTL_SECS: i64 = 30 * 24 * 3600;
    /// Remind the citizen 3 days before a draft expires.
    pub const DEFAULT_REMIND_BEFORE_SECS: i64 = 3 * 24 * 3600;

    /// An empty draft for `schema`, with a random 32-hex-digit id.
    pub fn new(schema: &FormSchema, now: i64) -> Result<Draft, DraftError> {
        let mut bytes = [0u8; 16];
        random_bytes(&mut bytes).map_err(|_| DraftError::Randomness)?;
        let id = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Draft {
            id,
            matter_code: schema.matter_code().to_owned(),
            schema_version: schema.version(),
            values: BTreeMap::new(),
            government: BTreeSet::new(),
            revisions: Vec::new(),
            created_at: now,
            updated_at: now,
            synced_version: 0,
        })
    }

    /// A draft pulled from the server onto this device (`GET
    /// /v1/drafts/{id}`): its values, its government fields (read-only here
    /// too; only those with a value), saved as the first revision, synced at
    /// `version`. The id is the server's (the same draft on every device).
    pub fn from_remote(
        id: impl Into<String>,
        matter_code: impl Into<String>,
        schema_version: u32,
        values: BTreeMap<String, Value>,
        government: impl IntoIterator<Item = String>,
        version: u32,
        now: i64,
    ) -> Draft {
        let government = government
            .into_iter()
            .filter(|f| values.contains_key(f))
            .collect();
        let mut draft = Draft {
            id: id.into(),
            matter_code: matter_code.into(),
            schema_version,
            values,
            government,
            revisions: Vec::new(),
            created_at: now,
            updated_at: now,
            synced_version: version,
        };
        draft.save(now);
        draft
    }

    /// Fills every bound field the source has a value for, overwriting what
    /// the citizen typed, and marks it as government data (read-only). A value
    /// of the wrong JSON kind for the field is ignored: it would be read-only
    /// and impossible to correct. Returns the ids filled, in form order.
    pub fn prefill(&mut self, schema: &FormSchema, source: &dyn PrefillSource) -> Vec<String> {
        if !self.belongs_to(schema) {
            return Vec::new();
        }
        let mut filled = Vec::new();
        for (_, field) in schema.fields() {
            let Some(key) = field.bind() else { continue };
            let Some(value) = source.value(key) else {
                continue;
            };
            if present(Some(&value)).is_none() || !field.kind().accepts_kind(&value) {
                continue;
            }
            self.values.insert(field.id().to_owned(), value);
            self.government.insert(field.id().to_owned());
            filled.push(field.id().to_owned());
        }
        filled
    }

    /// Sets a field. Only the JSON kind is checked (string, number or
    /// object): a draft may be incomplete, so the rest waits for
    /// [`Draft::validate`]. Use [`Draft::clear`] to empty a field.
    pub fn set(
        &mut self,
        schema: &FormSchema,
        field: &str,
        value: Value,
    ) -> Result<(), DraftError> {
        let kind = self.editable(schema, field)?;
        if !kind.accepts_kind(&value) {
            return Err(DraftError::WrongKind {
                field: field.to_owned(),
                expected: expected_kind(kind),
            });
        }
        self.values.insert(field.to_owned(), value);
        Ok(())
    }

    /// Empties a field.
    pub fn clear(&mut self, schema: &FormSchema, field: &str) -> Result<(), DraftError> {
        self.editable(schema, field)?;
        self.values.remove(field);
        Ok(())
    }

    /// Autosave: appends a revision if the values changed since the latest one
    /// (the first save always does). Returns the latest revision number.
    pub fn save(&mut self, now: i64) -> u32 {
        if let Some(last) = self.revisions.last()
            && last.values == self.values
        {
            return last.number;
        }
        let number = self.current_revision() + 1;
        self.revisions.push(Revision {
            number,
            at: now,
            values: self.values.clone(),
        });
        self.updated_at = now;
        number
    }

    /// The saved revisions, oldest first.
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }

    /// The latest revision number (0 before the first save).
    pub fn current_revision(&self) -> u32 {
        self.revisions.last().map_or(0, |r| r.number)
    }

    /// Restores revision `revision` as a new revision; history is never
    /// rewritten. Unsaved edits are saved first so the undo can itself be
    /// undone. Government fields keep their current values: undo reverts the
    /// citizen's edits, not government data.
    pub fn undo_to(&mut self, revision: u32, now: i64) -> Result<(), DraftError> {
        let mut values = self
            .revisions
            .iter()
            .find(|r| r.number == revision)
            .ok_or(DraftError::UnknownRevision(revision))?
            .values
            .clone();
        self.save(now);
        for field in &self.government {
            match self.values.get(field) {
                Some(v) => values.insert(field.clone(), v.clone()),
                None => values.remove(field),
            };
        }
        self.values = values;
        self.save(now);
        Ok(())
    }

    /// Every problem at once, in form order, then rule violations, then
    /// values the form does not know.
    pub fn validate(&self, schema: &FormSchema, today: Date) -> Vec<Problem> {
        validate(
            schema,
            &self.matter_code,
            self.schema_version,
            &self.values,
            today,
        )
    }

    /// Whether the draft has gone `ttl_secs` without a save.
    pub fn is_expired(&self, now: i64, ttl_secs: i64) -> bool {
        now >= self.updated_at.saturating_add(ttl_secs)
    }

    /// Whether the draft expires within `remind_before_secs` but has not yet.
    pub fn expiry_reminder_due(&self, now: i64, ttl_secs: i64, remind_before_secs: i64) -> bool {
        let expires = self.updated_at.saturating_add(ttl_secs);
        !self.is_expired(now, ttl_secs) && now >= expires.saturating_sub(remind_before_secs)
    }

    /// The payload to submit, or every problem if the draft is not valid.
    pub fn submission(&self, schema: &FormSchema, today: Date) -> Result<Submission, Vec<Problem>> {
        let problems = self.validate(schema, today);
        if !problems.is_empty() {
            return Err(problems);
        }
        let (values, licence_refs, attachments) = extract(schema, &self.values);
        Ok(Submission {
            draft_id: self.id.clone(),
            matter_code: self.matter_code.clone(),
            schema_version: self.schema_version,
            values,
            licence_refs,
            attachments,
        })
    }

    /// Merges another device's values (see [`merge`](super::merge())) made
    /// from `base` (the values both devices last agreed on), saves a revision
    /// and returns the conflicts, for which this device's value was kept.
    pub fn merge_remote(
        &mut self,
        base: &BTreeMap<String, Value>,
        remote: &BTreeMap<String, Value>,
        now: i64,
    ) -> Vec<Conflict> {
        let merged = merge(base, &self.values, remote);
        self.values = merged.values;
        // A government field the other device cleared has no data left to protect.
        let values = &self.values;
        self.government.retain(|f| values.contains_key(f));
        self.save(now);
        merged.conflicts
    }

    /// Takes the server's values and government fields as they are (the
    /// server merged this device's upload with another device's changes,
    /// `"merged": true`), saves a revision if they differ, and records
    /// `version` as synced.
    pub fn adopt_remote(
        &mut self,
        values: BTreeMap<String, Value>,
        government: impl IntoIterator<Item = String>,
        version: u32,
        now: i64,
    ) {
        self.government = government
            .into_iter()
            .filter(|f| values.contains_key(f))
            .collect();
        self.values = values;
        self.save(now);
        self.synced_version = version;
    }

    /// Merges the server's `version` of this draft (its `values` and
    /// `government` fields) made from `base` (the values at the version this
    /// device last synced; empty when unknown, so that every field both
    /// sides set differently is a conflict) with [`Draft::merge_remote`]:
    /// the local value is kept for each conflict. The government fields
    /// become the union of both sides', for fields that still have a value.
    /// Records `version` as synced, so that the next sync, after the citizen
    /// resolved the conflicts, is accepted as the next version.
    pub fn merge_remote_version(
        &mut self,
        base: &BTreeMap<String, Value>,
        values: &BTreeMap<String, Value>,
        government: impl IntoIterator<Item = String>,
        version: u32,
        now: i64,
    ) -> Vec<Conflict> {
        let conflicts = self.merge_remote(base, values, now);
        let merged = &self.values;
        self.government
            .extend(government.into_iter().filter(|f| merged.contains_key(f)));
        self.synced_version = version;
        conflicts
    }

    /// The server's version of this draft this device last synced (0: never
    /// synced): sent as `If-Match` (0: `If-None-Match: *`).
    pub fn synced_version(&self) -> u32 {
        self.synced_version
    }

    /// Records that the server stores this draft's current values as
    /// `version` (a sync the server took as it was).
    pub fn set_synced_version(&mut self, version: u32) {
        self.synced_version = version;
    }

    /// The draft id (32 lowercase hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The matter code of the form.
    pub fn matter_code(&self) -> &str {
        &self.matter_code
    }

    /// The schema version the draft was made with.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// The current values (including unsaved edits).
    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// One field's current value.
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.values.get(field)
    }

    /// Whether a field holds government data (read-only).
    pub fn is_government(&self, field: &str) -> bool {
        self.government.contains(field)
    }

    /// The fields holding government data.
    pub fn government_fields(&self) -> &BTreeSet<String> {
        &self.government
    }

    /// Creation time (Unix seconds).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// Time of the latest revision, or creation (Unix seconds).
    pub fn updated_at(&self) -> i64 {
        self.updated_at
    }

    fn belongs_to(&self, schema: &FormSchema) -> bool {
        schema.matches(&self.matter_code, self.schema_version)
    }

    /// The field's type, if the citizen may edit it.
    fn editable<'s>(
        &self,
        schema: &'s FormSchema,
        field: &str,
    ) -> Result<&'s FieldKind, DraftError> {
        if !self.belongs_to(schema) {
            return Err(DraftError::SchemaMismatch);
        }
        let kind = schema
            .field(field)
            .ok_or_else(|| DraftError::UnknownField(field.to_owned()))?
            .kind();
        if self.government.contains(field) {
            return Err(DraftError::ReadOnly(field.to_owned()));
        }
        Ok(kind)
    }
}

fn expected_kind(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Number { .. } => "a number",
        FieldKind::Address | FieldKind::LicenceRef { .. } | FieldKind::Attachment => "an object",
        _ => "a string",
    }
}

// Values are personal data: the Debug impls below show no values.

impl fmt::Debug for Draft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Draft")
            .field("id", &self.id)
            .field("matter_code", &self.matter_code)
            .field("revisions", &self.revisions.len())
            .field("synced_version", &self.synced_version)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revision")
            .field("number", &self.number)
            .field("at", &self.at)
            .field("fields", &self.values.len())
            .finish()
    }
}

impl fmt::Debug for Submission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submission")
            .field("draft_id", &self.draft_id)
            .field("matter_code", &self.matter_code)
            .field("schema_version", &self.schema_version)
            .field("fields", &self.values.len())
            .field("licence_refs", &self.licence_refs)
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl fmt::Debug for LicenceRefEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LicenceRefEntry")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AttachmentEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachmentEntry")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    const T0: i64 = 1_750_000_000;
    const DAY: i64 = 24 * 3600;

    fn schema() -> FormSchema {
        FormSchema::from_json(
            &json!({
                "matter_code": "T-2", "version": 1,
                "title": {"zh": "测试", "en": "Test"},
                "sections": [{"id": "a", "title": {"zh": "甲", "en": "A"}, "fields": [
                    {"id": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"},
                     "required": true, "bind": "credential.name"},
                    {"id": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}},
                    {"id": "count", "type": "number", "label": {"zh": "数量", "en": "Count"}},
                    {"id": "addr", "type": "address", "label": {"zh": "地址", "en": "Address"}}
                ]}]
            })
            .to_string(),
        )
        .unwrap()
    }

    fn source() -> BTreeMap<String, Value> {
        BTreeMap::from([("credential.name".to_owned(), json!("张三"))])
    }

    #[test]
    fn ids_are_random_hex() {
        let s = schema();
        let a = Draft::new(&s, T0).unwrap();
        let b = Draft::new(&s, T0).unwrap();
        assert_eq!(a.id().len(), 32);
        assert!(
            a.id()
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn set_checks_field_kind_and_read_only() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        assert_eq!(d.prefill(&s, &source()), ["name"]);
        assert!(d.is_government("name"));
        assert_eq!(
            d.set(&s, "name", json!("李四")).unwrap_err().code(),
            "YW-1552"
        );
        assert_eq!(d.clear(&s, "name").unwrap_err().code(), "YW-1552");
        assert_eq!(d.set(&s, "nope", json!("x")).unwrap_err().code(), "YW-1551");
        let e = d.set(&s, "count", json!("3")).unwrap_err();
        assert_eq!(e.code(), "YW-1553");
        assert!(e.to_string().contains("a number"));
        assert_eq!(d.set(&s, "addr", json!("x")).unwrap_err().code(), "YW-1553");
        assert_eq!(
            d.set(&s, "note", Value::Null).unwrap_err().code(),
            "YW-1553"
        );
        // Incomplete objects are fine in a draft.
        d.set(&s, "addr", json!({"region": "1101"})).unwrap();
        d.set(&s, "count", json!(3)).unwrap();
        d.clear(&s, "count").unwrap();
        assert_eq!(d.value("count"), None);
    }

    #[test]
    fn prefill_skips_wrong_kinds_and_blanks() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        let wrong = BTreeMap::from([("credential.name".to_owned(), json!(42))]);
        assert!(d.prefill(&s, &wrong).is_empty());
        let blank = BTreeMap::from([("credential.name".to_owned(), json!(""))]);
        assert!(d.prefill(&s, &blank).is_empty());
        assert!(!d.is_government("name"));
        d.set(&s, "name", json!("王五")).unwrap();
    }

    #[test]
    fn other_schema_is_refused() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        let other = FormSchema::from_json(
            &json!({
                "matter_code": "T-2", "version": 2,
                "title": {"zh": "测试", "en": "Test"},
                "sections": [{"id": "a", "title": {"zh": "甲", "en": "A"}, "fields": [
                    {"id": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}}]}]
            })
            .to_string(),
        )
        .unwrap();
        assert_eq!(
            d.set(&other, "note", json!("x")).unwrap_err().code(),
            "YW-1554"
        );
        assert!(d.prefill(&other, &source()).is_empty());
        assert_eq!(d.validate(&other, date!(2025 - 01 - 01))[0].code, "YW-1622");
    }

    #[test]
    fn save_and_undo() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        assert_eq!(d.current_revision(), 0);
        d.set(&s, "note", json!("a")).unwrap();
        assert_eq!(d.save(T0 + 1), 1);
        assert_eq!(d.save(T0 + 2), 1);
        assert_eq!(d.updated_at(), T0 + 1);
        d.set(&s, "note", json!("b")).unwrap();
        assert_eq!(d.save(T0 + 3), 2);
        // Unsaved edit, then undo: the edit is kept as revision 3, the undo is 4.
        d.set(&s, "note", json!("c")).unwrap();
        d.undo_to(1, T0 + 4).unwrap();
        let numbers: Vec<_> = d.revisions().iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
        assert_eq!(d.revisions()[2].values["note"], json!("c"));
        assert_eq!(d.value("note"), Some(&json!("a")));
        assert_eq!(d.undo_to(9, T0 + 5).unwrap_err().code(), "YW-1555");
    }

    #[test]
    fn undo_keeps_government_values() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.set(&s, "note", json!("a")).unwrap();
        d.save(T0);
        d.prefill(&s, &source());
        d.save(T0 + 1);
        d.undo_to(1, T0 + 2).unwrap();
        assert_eq!(d.value("name"), Some(&json!("张三")));
        assert_eq!(
            d.current_revision(),
            2,
            "nothing to undo but government data"
        );
    }

    #[test]
    fn merge_remote_saves_and_reports_conflicts() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.set(&s, "note", json!("base")).unwrap();
        d.save(T0);
        let base = d.values().clone();
        d.set(&s, "note", json!("local")).unwrap();
        let remote = BTreeMap::from([
            ("note".to_owned(), json!("remote")),
            ("count".to_owned(), json!(7)),
        ]);
        let conflicts = d.merge_remote(&base, &remote, T0 + 10);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, "note");
        assert_eq!(d.value("note"), Some(&json!("local")));
        assert_eq!(d.value("count"), Some(&json!(7)));
        assert_eq!(d.current_revision(), 2);
        assert_eq!(d.updated_at(), T0 + 10);
    }

    #[test]
    fn from_remote_is_a_synced_first_revision_with_read_only_government_data() {
        let s = schema();
        let values = BTreeMap::from([
            ("name".to_owned(), json!("张三")),
            ("note".to_owned(), json!("from phone A")),
        ]);
        // `count` is listed as government data but has no value: not kept.
        let government = ["name".to_owned(), "count".to_owned()];
        let id = "0123456789abcdef0123456789abcdef";
        let mut d = Draft::from_remote(id, "T-2", 1, values.clone(), government, 3, T0);
        assert_eq!(
            (d.id(), d.matter_code(), d.schema_version()),
            (id, "T-2", 1)
        );
        assert_eq!(d.values(), &values);
        assert_eq!(d.synced_version(), 3);
        assert_eq!(d.current_revision(), 1);
        assert_eq!((d.created_at(), d.updated_at()), (T0, T0));
        assert!(d.is_government("name") && !d.is_government("count"));
        assert_eq!(
            d.set(&s, "name", json!("李四")).unwrap_err().code(),
            "YW-1552"
        );
        d.set(&s, "count", json!(2)).unwrap();
        assert!(!format!("{d:?}").contains("张三"));
        // Stored in the wallet and read back: the synced version is kept.
        let back: Draft = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.synced_version(), 3);
    }

    #[test]
    fn a_draft_stored_before_sync_loads_as_never_synced() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.set(&s, "note", json!("a")).unwrap();
        d.save(T0);
        let mut stored = serde_json::to_value(&d).unwrap();
        stored
            .as_object_mut()
            .unwrap()
            .remove("synced_version")
            .unwrap();
        let old: Draft = serde_json::from_value(stored).unwrap();
        assert_eq!(old.synced_version(), 0);
        assert_eq!(old, d);
        d.set_synced_version(5);
        assert_eq!(d.synced_version(), 5);
    }

    #[test]
    fn adopt_remote_takes_the_servers_values() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.set(&s, "note", json!("mine")).unwrap();
        d.save(T0);
        let values = BTreeMap::from([
            ("note".to_owned(), json!("mine")),
            ("name".to_owned(), json!("张三")),
        ]);
        d.adopt_remote(values.clone(), ["name".to_owned()], 4, T0 + 5);
        assert_eq!(d.values(), &values);
        assert!(d.is_government("name"));
        assert_eq!(d.synced_version(), 4);
        assert_eq!(d.current_revision(), 2);
        assert_eq!(d.updated_at(), T0 + 5);
        // The same values again: no new revision.
        d.adopt_remote(values, ["name".to_owned()], 5, T0 + 6);
        assert_eq!((d.current_revision(), d.synced_version()), (2, 5));
    }

    #[test]
    fn merge_remote_version_unions_government_fields_and_records_the_version() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.set(&s, "note", json!("base")).unwrap();
        d.save(T0);
        d.set_synced_version(2);
        let base = d.values().clone();
        d.set(&s, "note", json!("local")).unwrap();
        let remote = BTreeMap::from([
            ("note".to_owned(), json!("remote")),
            ("name".to_owned(), json!("张三")),
        ]);
        // `addr` is government data on the server but has no value there.
        let government = ["name".to_owned(), "addr".to_owned()];
        let conflicts = d.merge_remote_version(&base, &remote, government, 3, T0 + 1);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, "note");
        assert_eq!(d.value("note"), Some(&json!("local")));
        assert_eq!(d.value("name"), Some(&json!("张三")));
        assert!(d.is_government("name") && !d.is_government("addr"));
        assert_eq!(d.synced_version(), 3);
        // An empty base: every field both sides set differently conflicts.
        let conflicts = d.merge_remote_version(
            &BTreeMap::new(),
            &BTreeMap::from([("note".to_owned(), json!("other"))]),
            [],
            7,
            T0 + 2,
        );
        let fields: Vec<_> = conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["note"]);
        assert_eq!(d.value("name"), Some(&json!("张三")), "kept: only local");
        assert_eq!(d.synced_version(), 7);
    }

    #[test]
    fn expiry() {
        let s = schema();
        let d = Draft::new(&s, T0).unwrap();
        let ttl = Draft::DEFAULT_TTL_SECS;
        let remind = Draft::DEFAULT_REMIND_BEFORE_SECS;
        assert!(!d.is_expired(T0 + 29 * DAY, ttl));
        assert!(d.is_expired(T0 + 30 * DAY, ttl));
        assert!(!d.expiry_reminder_due(T0 + 26 * DAY, ttl, remind));
        assert!(d.expiry_reminder_due(T0 + 27 * DAY, ttl, remind));
        assert!(!d.expiry_reminder_due(T0 + 30 * DAY, ttl, remind));
        assert!(!d.is_expired(T0 + 400 * DAY, i64::MAX), "no overflow");
    }

    #[test]
    fn submission_leaves_out_blank_values() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.prefill(&s, &source());
        d.set(&s, "note", json!(" ")).unwrap();
        let sub = d.submission(&s, date!(2025 - 01 - 01)).unwrap();
        assert_eq!(sub.values.keys().collect::<Vec<_>>(), ["name"]);
        assert!(sub.licence_refs.is_empty());
    }

    #[test]
    fn debug_hides_values() {
        let s = schema();
        let mut d = Draft::new(&s, T0).unwrap();
        d.prefill(&s, &source());
        d.save(T0);
        let text = format!("{d:?} {:?}", d.revisions());
        assert!(!text.contains("张三"), "{text}");
        assert!(text.contains(d.id()));
        let sub = d.submission(&s, date!(2025 - 01 - 01)).unwrap();
        assert!(!format!("{sub:?}").contains("张三"));
    }
}
