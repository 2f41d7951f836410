//! Message templates: versioned, in zh-CN and en, with `{name}` placeholders
//! filled from a send's parameters when the inbox is read. A new version
//! never changes messages already sent (they keep the version they used).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::now_ms;
use super::providers::Category;
use crate::AppState;
use crate::admin::require_admin;
use crate::audit;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_version))
}

/// One language's text.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub title: String,
    pub body: String,
}

/// A template version as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub id: String,
    pub version: i64,
    pub category: Category,
    pub zh: Text,
    pub en: Text,
}

impl Template {
    /// Every `{name}` in either language.
    pub fn placeholders(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for text in [&self.zh.title, &self.zh.body, &self.en.title, &self.en.body] {
            names.extend(placeholders(text));
        }
        names
    }

    /// The text in `locale` (`en…` → English, anything else Chinese) with
    /// the parameters filled in.
    pub fn render(&self, locale: &str, params: &BTreeMap<String, String>) -> Text {
        let text = if locale.starts_with("en") {
            &self.en
        } else {
            &self.zh
        };
        Text {
            title: fill(&text.title, params),
            body: fill(&text.body, params),
        }
    }
}

/// The names of the `{name}` placeholders of `text` (a-z, 0-9, `_`).
fn placeholders(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                names.push(after[..close].to_owned());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

fn is_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn fill(text: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                match params.get(&after[..close]) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a send's parameters against the template: every placeholder
/// given, nothing else, values of 1-500 characters without control characters.
pub fn check_params(
    template: &Template,
    params: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let wanted = template.placeholders();
    let given: BTreeSet<String> = params.keys().cloned().collect();
    if let Some(missing) = wanted.difference(&given).next() {
        return Err(ApiError::unprocessable(
            "YW-4612",
            format!("params: `{missing}` is missing for this template"),
        ));
    }
    if let Some(extra) = given.difference(&wanted).next() {
        return Err(ApiError::unprocessable(
            "YW-4612",
            format!("params: the template has no `{}`", truncate(extra)),
        ));
    }
    for (name, value) in params {
        if value.is_empty() || value.chars().count() > 500 || value.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "YW-4613",
                format!("params.{name}: 1-500 characters, no control characters"),
            ));
        }
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

/// The template `id` at `version` (or its latest).
pub async fn load(
    pool: &sqlx::AnyPool,
    id: &str,
    version: Option<i64>,
) -> Result<Option<Template>, ApiError> {
    let row = match version {
        Some(v) => {
            sqlx::query(
                "SELECT template_id, version, category, title_zh, body_zh, title_en, body_en \
                 FROM notification_templates WHERE template_id = $1 AND version = $2",
            )
            .bind(id)
            .bind(v)
            .fetch_optional(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT template_id, version, category, title_zh, body_zh, title_en, body_en \
                 FROM notification_templates WHERE template_id = $1 ORDER BY version DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }
    };
    row.map(|row| from_row(&row)).transpose()
}

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Template, ApiError> {
    let category: String = row.try_get("category")?;
    Ok(Template {
        id: row.try_get("template_id")?,
        version: row.try_get("version")?,
        category: Category::parse(&category)
            .ok_or_else(|| ApiError::internal("stored template has an unknown category"))?,
        zh: Text {
            title: row.try_get("title_zh")?,
            body: row.try_get("body_zh")?,
        },
        en: Text {
            title: row.try_get("title_en")?,
            body: row.try_get("body_en")?,
        },
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Lower-case dotted name, e.g. `licence.issued`.
    pub template_id: String,
    pub category: String,
    pub zh: Text,
    pub en: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateCreated {
    pub template_id: String,
    /// 1 for a new template, else the previous version + 1.
    pub version: i64,
    pub placeholders: Vec<String>,
}

/// `POST /v1/admin/notification-templates` → 201: a new template, or a new
/// version of an existing one.
#[utoipa::path(post, path = "/v1/admin/notification-templates", tag = "admin", security(("admin" = [])),
    request_body = TemplateRequest, responses(
    (status = 201, description = "The version created", body = TemplateCreated),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 403, description = "YW-4030 admin API disabled", body = ErrorBody),
    (status = 422, description = "YW-4609 bad template id or text, YW-4610 unknown category, YW-4611 category differs from earlier versions", body = ErrorBody)))]
async fn create_version(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<TemplateRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let Json(request) = body?;
    let id_ok = (3..=64).contains(&request.template_id.len())
        && request
            .template_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_'));
    if !id_ok {
        return Err(ApiError::unprocessable(
            "YW-4609",
            "template_id: 3-64 characters of a-z 0-9 . _",
        ));
    }
    let category = Category::parse(&request.category).ok_or_else(|| {
        ApiError::unprocessable(
            "YW-4610",
            "category: service, reminder, application_status, security or campaign",
        )
    })?;
    for (field, text, max) in [
        ("zh.title", &request.zh.title, 50),
        ("zh.body", &request.zh.body, 1000),
        ("en.title", &request.en.title, 100),
        ("en.body", &request.en.body, 2000),
    ] {
        if text.trim().is_empty() || text.chars().count() > max {
            return Err(ApiError::unprocessable(
                "YW-4609",
                format!("{field}: 1-{max} characters"),
            ));
        }
    }
    let template = Template {
        id: request.template_id,
        version: 0,
        category,
        zh: request.zh,
        en: request.en,
    };
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    let previous = sqlx::query(
        "SELECT version, category FROM notification_templates WHERE template_id = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(&template.id)
    .fetch_optional(&mut **tx)
    .await?;
    let version = match previous {
        Some(row) => {
            let category: String = row.try_get("category")?;
            if category != template.category.as_str() {
                return Err(ApiError::unprocessable(
                    "YW-4611",
                    format!("category: earlier versions of this template are {category}"),
                ));
            }
            row.try_get::<i64, _>("version")? + 1
        }
        None => 1,
    };
    sqlx::query(
        "INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, \
         title_en, body_en, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&template.id)
    .bind(version)
    .bind(template.category.as_str())
    .bind(&template.zh.title)
    .bind(&template.zh.body)
    .bind(&template.en.title)
    .bind(&template.en.body)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    write.tx.commit().await?;
    audit::record(state.db().pool(), "admin", "template.created", None).await?;
    let body = TemplateCreated {
        template_id: template.id.clone(),
        version,
        placeholders: template.placeholders().into_iter().collect(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn placeholders_are_filled_and_other_braces_kept() {
        let text = "您的{licence}将于{date}到期 {not a name} {";
        assert_eq!(placeholders(text), vec!["licence", "date"]);
        assert_eq!(
            fill(
                text,
                &params(&[("licence", "驾驶证"), ("date", "2027-01-01")])
            ),
            "您的驾驶证将于2027-01-01到期 {not a name} {"
        );
        // A value is not itself expanded.
        assert_eq!(fill("{a}", &params(&[("a", "{a}")])), "{a}");
    }

    #[test]
    fn params_must_match_the_template() {
        let template = Template {
            id: "t".into(),
            version: 1,
            category: Category::Service,
            zh: Text {
                title: "{a}".into(),
                body: "{b}".into(),
            },
            en: Text {
                title: "{a}".into(),
                body: "x".into(),
            },
        };
        assert!(check_params(&template, &params(&[("a", "1"), ("b", "2")])).is_ok());
        let missing = check_params(&template, &params(&[("a", "1")])).unwrap_err();
        assert_eq!(missing.code, "YW-4612");
        let extra =
            check_params(&template, &params(&[("a", "1"), ("b", "2"), ("c", "3")])).unwrap_err();
        assert_eq!(extra.code, "YW-4612");
        let control = check_params(&template, &params(&[("a", "1\n"), ("b", "2")])).unwrap_err();
        assert_eq!(control.code, "YW-4613");
    }
}
