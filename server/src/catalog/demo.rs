//! The demo catalog: 24 real-world matters across the life events, three of
//! them with the example forms of `core/forms/`. Added at start (unless
//! `seed_demo_catalog = false`) and by `yiwang dev seed-catalog`; a matter
//! whose code exists is left as it is, so an admin's edits and retirements
//! stay. The codes are illustrative: right shape, not the official ones.

use serde_json::Value;

use super::{MatterDocument, Written, insert_new};
use crate::db::Db;
use crate::error::ApiError;

/// The catalog's JSON: matter documents, where `form_file` names one of
/// the forms below instead of holding the form.
pub const DEMO_MATTERS: &str = include_str!("demo.json");

const FORMS: &[(&str, &str)] = &[
    ("birth.json", include_str!("../../../core/forms/birth.json")),
    (
        "senior-card.json",
        include_str!("../../../core/forms/senior-card.json"),
    ),
    (
        "driving-licence-renewal.json",
        include_str!("../../../core/forms/driving-licence-renewal.json"),
    ),
    (
        "marriage-household.json",
        include_str!("../../../core/forms/marriage-household.json"),
    ),
];

/// The demo matters as documents.
pub fn demo_documents() -> Result<Vec<MatterDocument>, ApiError> {
    let entries: Vec<Value> = serde_json::from_str(DEMO_MATTERS).map_err(ApiError::internal)?;
    entries
        .into_iter()
        .map(|mut entry| {
            if let Some(object) = entry.as_object_mut()
                && let Some(Value::String(file)) = object.remove("form_file")
            {
                let (_, text) = FORMS
                    .iter()
                    .find(|(name, _)| *name == file)
                    .ok_or_else(|| ApiError::internal(format!("demo form {file} missing")))?;
                let form: Value = serde_json::from_str(text).map_err(ApiError::internal)?;
                object.insert("form".to_owned(), form);
            }
            serde_json::from_value(entry).map_err(ApiError::internal)
        })
        .collect()
}

/// Adds the demo matters whose codes are free; returns how many it added.
pub async fn seed_demo(db: &Db) -> Result<usize, ApiError> {
    let now = crate::push::now_ms();
    let mut added = 0;
    for doc in demo_documents()? {
        if insert_new(db, &doc, now).await? != Written::Exists {
            added += 1;
        }
    }
    Ok(added)
}
