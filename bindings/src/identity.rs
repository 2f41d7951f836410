use yiwang_core::identity::{self, IdNumber, Recognised, Sex};

use crate::YiwangError;

/// What a citizen ID number says (the full number is not returned).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IdNumberInfo {
    pub masked: String,
    /// `YYYY-MM-DD`
    pub birth_date: String,
    /// `male` or `female`
    pub sex: String,
    pub region_code: String,
    pub province: String,
}

/// The result of checking any identity number a user typed or scanned.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IdentityCheck {
    /// `id_number`, `uscc`, `licence_id` or `unknown`
    pub kind: String,
    pub valid: bool,
    pub masked: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Parses a citizen ID number (18 characters, or 15 upgraded).
#[uniffi::export]
pub fn parse_id_number(text: String) -> Result<IdNumberInfo, YiwangError> {
    let id = if text.chars().count() == 15 {
        IdNumber::from_legacy_15(&text)
    } else {
        IdNumber::parse(&text)
    }
    .map_err(|e| YiwangError::invalid(e.code(), e))?;
    let region = id.region();
    Ok(IdNumberInfo {
        masked: id.masked(),
        birth_date: id.birth_date().to_string(),
        sex: match id.sex() {
            Sex::Male => "male".into(),
            Sex::Female => "female".into(),
        },
        region_code: region.as_str().to_owned(),
        province: region.province_name_zh().to_owned(),
    })
}

/// Recognises a citizen ID number, USCC or licence identifier and checks it.
#[uniffi::export]
pub fn check_identity(text: String) -> IdentityCheck {
    fn report(kind: &str, outcome: Result<String, (&'static str, String)>) -> IdentityCheck {
        match outcome {
            Ok(masked) => IdentityCheck {
                kind: kind.into(),
                valid: true,
                masked: Some(masked),
                error_code: None,
                error_message: None,
            },
            Err((code, message)) => IdentityCheck {
                kind: kind.into(),
                valid: false,
                masked: None,
                error_code: Some(code.into()),
                error_message: Some(message),
            },
        }
    }
    match identity::recognise(&text) {
        Recognised::IdNumber(r) => report(
            "id_number",
            r.map(|v| v.masked()).map_err(|e| (e.code(), e.to_string())),
        ),
        Recognised::Uscc(r) => report(
            "uscc",
            r.map(|v| v.masked()).map_err(|e| (e.code(), e.to_string())),
        ),
        Recognised::LicenceId(r) => report(
            "licence_id",
            r.map(|v| v.masked()).map_err(|e| (e.code(), e.to_string())),
        ),
        _ => report(
            "unknown",
            Err((identity::UNRECOGNISED_CODE, "not an identity number".into())),
        ),
    }
}

/// `张三` → `张*`, for display.
#[uniffi::export]
pub fn mask_name(name: String) -> String {
    identity::mask_name(&name)
}

/// `13800138000` → `138****8000`, for display.
#[uniffi::export]
pub fn mask_phone(phone: String) -> String {
    identity::mask_phone(&phone)
}
