use std::sync::{Arc, Mutex, MutexGuard};

use yiwang_core::forms;

use crate::YiwangError;

/// A matter's form schema (docs/formats.md, "Form schema format").
#[derive(Debug, uniffi::Object)]
pub struct FormSchema {
    pub(crate) inner: forms::FormSchema,
}

#[uniffi::export]
impl FormSchema {
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, YiwangError> {
        Ok(Arc::new(Self {
            inner: forms::FormSchema::from_json(&json)?,
        }))
    }

    pub fn matter_code(&self) -> String {
        self.inner.matter_code().to_owned()
    }

    pub fn version(&self) -> u32 {
        self.inner.version()
    }

    /// Every field id, in form order.
    pub fn field_ids(&self) -> Vec<String> {
        self.inner
            .fields()
            .map(|(_, f)| f.id().to_owned())
            .collect()
    }
}

/// One validation problem: where, which rule (stable code), and what to tell
/// the citizen in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Problem {
    pub path: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

/// A field both devices changed differently since the last sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Conflict {
    pub field: String,
    /// JSON values; `None` is "not filled in".
    pub base: Option<String>,
    pub local: Option<String>,
    pub remote: Option<String>,
}

/// The outcome of [`Draft::submission`]: the payload, or the problems.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SubmissionResult {
    /// The JSON the server expects, when the draft is valid.
    pub payload: Option<String>,
    pub problems: Vec<Problem>,
}

/// A citizen's form in progress. Thread-safe; values are JSON text.
#[derive(Debug, uniffi::Object)]
pub struct Draft {
    pub(crate) inner: Mutex<forms::Draft>,
}

impl Draft {
    pub(crate) fn lock(&self) -> MutexGuard<'_, forms::Draft> {
        // Every mutation is a single call into the draft; a poisoned lock holds a whole draft.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn wrap(draft: forms::Draft) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(draft),
        })
    }
}

fn json(text: &str) -> Result<serde_json::Value, YiwangError> {
    serde_json::from_str(text).map_err(|_| YiwangError::invalid("YW-1553", "the value is not JSON"))
}

/// `YYYY-MM-DD` from the app.
pub(crate) fn parse_date(date: &str) -> Result<time::Date, YiwangError> {
    let mut parts = date.splitn(3, '-').map(str::parse::<u32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return Err(YiwangError::invalid(
            "YW-1609",
            "expected a date YYYY-MM-DD",
        ));
    };
    let month = time::Month::try_from(m as u8)
        .map_err(|_| YiwangError::invalid("YW-1609", "invalid month"))?;
    time::Date::from_calendar_date(y as i32, month, d as u8)
        .map_err(|_| YiwangError::invalid("YW-1609", "invalid date"))
}

/// The core's conflicts as the bindings' records (values as JSON text).
pub(crate) fn conflicts(list: Vec<forms::Conflict>) -> Vec<Conflict> {
    list.into_iter()
        .map(|c| Conflict {
            field: c.field,
            base: c.base.map(|v| v.to_string()),
            local: c.local.map(|v| v.to_string()),
            remote: c.remote.map(|v| v.to_string()),
        })
        .collect()
}

/// The validated payload of `draft` for `schema` on `today` (`YYYY-MM-DD`),
/// or, when the draft is not valid, `InvalidInput` with the first problem's
/// code and every problem's path and code in the detail (as
/// `Draft.submission` and `Draft.validate` report them; no values).
pub(crate) fn submission_of(
    draft: &Draft,
    schema: &FormSchema,
    today: &str,
) -> Result<forms::Submission, YiwangError> {
    let today = parse_date(today)?;
    draft
        .lock()
        .submission(&schema.inner, today)
        .map_err(|list| {
            let code = list.first().map_or("YW-1601", |p| p.code);
            let listed: Vec<String> = list
                .iter()
                .map(|p| format!("{} {}", p.path, p.code))
                .collect();
            YiwangError::invalid(
                code,
                format!(
                    "the form is not ready to submit ({} problems: {})",
                    list.len(),
                    listed.join(", ")
                ),
            )
        })
}

fn problems(list: Vec<forms::Problem>) -> Vec<Problem> {
    list.into_iter()
        .map(|p| Problem {
            path: p.path,
            code: p.code.to_owned(),
            message_zh: p.message_zh,
            message_en: p.message_en,
        })
        .collect()
}

#[uniffi::export]
impl Draft {
    /// A new, empty draft of `schema`.
    #[uniffi::constructor]
    pub fn new(schema: Arc<FormSchema>, now: i64) -> Result<Arc<Self>, YiwangError> {
        Ok(Self::wrap(forms::Draft::new(&schema.inner, now)?))
    }

    /// A draft from its JSON (as synced or stored).
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, YiwangError> {
        let draft = serde_json::from_str(&json)
            .map_err(|_| YiwangError::invalid("YW-1553", "not a draft"))?;
        Ok(Self::wrap(draft))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&*self.lock()).unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.lock().id().to_owned()
    }

    pub fn matter_code(&self) -> String {
        self.lock().matter_code().to_owned()
    }

    /// The server's version of this draft this device last synced (0: never
    /// synced; `ApiClient.sync_draft` keeps it).
    pub fn synced_version(&self) -> u32 {
        self.lock().synced_version()
    }

    /// Prefills bound fields from `values_json` (a JSON object of prefill
    /// keys, e.g. from `Wallet.prefillValues`); returns the field ids filled.
    pub fn prefill(
        &self,
        schema: Arc<FormSchema>,
        values_json: String,
    ) -> Result<Vec<String>, YiwangError> {
        let values: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&values_json).map_err(|_| {
                YiwangError::invalid("YW-1553", "prefill values must be a JSON object")
            })?;
        Ok(self.lock().prefill(&schema.inner, &values))
    }

    /// Sets a field to a JSON value (`"\"张三\""`, `"42"`, `"{…}"`).
    pub fn set(
        &self,
        schema: Arc<FormSchema>,
        field: String,
        value_json: String,
    ) -> Result<(), YiwangError> {
        Ok(self.lock().set(&schema.inner, &field, json(&value_json)?)?)
    }

    pub fn clear(&self, schema: Arc<FormSchema>, field: String) -> Result<(), YiwangError> {
        Ok(self.lock().clear(&schema.inner, &field)?)
    }

    /// A field's JSON value.
    pub fn value(&self, field: String) -> Option<String> {
        self.lock().value(&field).map(|v| v.to_string())
    }

    /// Whether the field holds government data (prefilled, read-only).
    pub fn is_government(&self, field: String) -> bool {
        self.lock().is_government(&field)
    }

    /// Autosave: records a revision if anything changed; returns the current revision.
    pub fn save(&self, now: i64) -> u32 {
        self.lock().save(now)
    }

    pub fn revision_count(&self) -> u32 {
        self.lock().revisions().len() as u32
    }

    pub fn undo_to(&self, revision: u32, now: i64) -> Result<(), YiwangError> {
        Ok(self.lock().undo_to(revision, now)?)
    }

    /// Every problem at once; `today` is `YYYY-MM-DD`.
    pub fn validate(
        &self,
        schema: Arc<FormSchema>,
        today_date: String,
    ) -> Result<Vec<Problem>, YiwangError> {
        Ok(problems(
            self.lock()
                .validate(&schema.inner, parse_date(&today_date)?),
        ))
    }

    pub fn submission(
        &self,
        schema: Arc<FormSchema>,
        today_date: String,
    ) -> Result<SubmissionResult, YiwangError> {
        Ok(
            match self
                .lock()
                .submission(&schema.inner, parse_date(&today_date)?)
            {
                Ok(submission) => SubmissionResult {
                    payload: Some(serde_json::to_string(&submission).unwrap_or_default()),
                    problems: Vec::new(),
                },
                Err(list) => SubmissionResult {
                    payload: None,
                    problems: problems(list),
                },
            },
        )
    }

    /// Merges the other device's values (`remote_json`) against the values both
    /// started from (`base_json`), field by field; returns the true conflicts.
    pub fn merge_remote(
        &self,
        base_json: String,
        remote_json: String,
        now: i64,
    ) -> Result<Vec<Conflict>, YiwangError> {
        let map = |text: &str| -> Result<
            std::collections::BTreeMap<String, serde_json::Value>,
            YiwangError,
        > {
            serde_json::from_str(text)
                .map_err(|_| YiwangError::invalid("YW-1553", "values must be a JSON object"))
        };
        let list = self
            .lock()
            .merge_remote(&map(&base_json)?, &map(&remote_json)?, now);
        Ok(conflicts(list))
    }
}
