//! The service catalog and its rules: list and search matters, view and
//! edit a matter (the next version of its document), and the rule set —
//! a dry run of the edited set against a sample event and a sample profile
//! shows which recommendations it would make and why the other rules would
//! not, and only a set that went through a dry run unchanged is published.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::Row;
use yiwang_core::crypto::Suite;

use super::session::Session;
use super::{ConsoleError, Page, allow, check_csrf, page};
use crate::AppState;
use crate::catalog::MatterDocument;
use crate::error::ApiError;
use crate::recommend::rules::{Citizen, NoHistory, RuleSet};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

/// `GET /console/catalog?q=`
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Catalog)?;
    let Query(query) = query.unwrap_or_default();
    let words: String = query.q.trim().chars().take(64).collect();
    let pattern = format!("%{}%", words.to_lowercase());
    let rows = sqlx::query(
        "SELECT code, version, name_zh, department_code, life_event, delivery, retired_ms \
         FROM matters WHERE search_text LIKE $1 OR code LIKE $2 ORDER BY code LIMIT 200",
    )
    .bind(&pattern)
    .bind(words.to_uppercase() + "%")
    .fetch_all(state.db().pool())
    .await?;
    Ok(page(
        "服务事项",
        Some(&session),
        html! {
            form.filters method="get" action="/console/catalog" role="search" {
                div { label for="q" { "搜索事项" }
                      input id="q" name="q" value=(words) placeholder="出生、养老、驾驶证…"; }
                button type="submit" { "搜索" }
                a href="/console/rules" { "规则与试运行 →" }
            }
            div.table-wrap {
                table {
                    caption { (rows.len()) " 个事项" }
                    thead { tr { th scope="col" { "事项" } th scope="col" { "编码" } th scope="col" { "部门" }
                                 th scope="col" { "人生事件" } th scope="col" { "办理方式" } th scope="col" { "版本" } } }
                    tbody {
                        @for row in &rows {
                            @let code: String = row.try_get("code")?;
                            @let retired = row.try_get::<Option<i64>, _>("retired_ms")?.is_some();
                            tr {
                                td { a href={ "/console/catalog/" (code) } { (row.try_get::<String, _>("name_zh")?) }
                                     @if retired { " （已停用）" } }
                                td { code { (code) } }
                                td { (row.try_get::<String, _>("department_code")?) }
                                td { (row.try_get::<String, _>("life_event")?) }
                                td { (delivery_zh(&row.try_get::<String, _>("delivery")?)) }
                                td { (row.try_get::<i64, _>("version")?) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn delivery_zh(delivery: &str) -> &'static str {
    match delivery {
        "online" => "网上办",
        "window" => "窗口办",
        "automatic" => "免申即领",
        _ => "其他",
    }
}

/// The current document of matter `code`, pretty-printed.
async fn document(state: &AppState, code: &str) -> Result<Option<(i64, String)>, ApiError> {
    let row = sqlx::query(
        "SELECT v.version, v.document FROM matters m \
         JOIN matter_versions v ON v.code = m.code AND v.version = m.version WHERE m.code = $1",
    )
    .bind(code)
    .fetch_optional(state.db().pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let text: String = row.try_get("document")?;
    let value: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
    let pretty = serde_json::to_string_pretty(&value).map_err(ApiError::internal)?;
    Ok(Some((row.try_get("version")?, pretty)))
}

/// `GET /console/catalog/{code}`
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Catalog)?;
    let (version, text) = document(&state, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("YW-4048", "没有这个事项。"))?;
    Ok(matter_page(&state, &session, &code, version, &text, None).await?)
}

#[derive(Debug, Deserialize)]
pub struct MatterForm {
    csrf: String,
    document: String,
}

/// `POST /console/catalog/{code}`: the edited document as the next version
/// (its form's `version` set to that version).
pub async fn save(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(code): Path<String>,
    form: Result<Form<MatterForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    allow(&session, Page::Catalog)?;
    let Form(form) = form.map_err(super::form_refused)?;
    check_csrf(&session, &headers, &form.csrf)?;
    let (current, _) = document(&state, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("YW-4048", "没有这个事项。"))?;
    let result = match serde_json::from_str::<MatterDocument>(&form.document) {
        Err(e) => Err(ApiError::unprocessable(
            "YW-4701",
            format!("事项文档不是有效的 JSON：{e}"),
        )),
        Ok(mut doc) => {
            if let Some(form) = doc.form.as_mut().and_then(Value::as_object_mut) {
                form.insert("version".into(), Value::from(current + 1));
            }
            crate::catalog::update(&state, &code, &doc, &session.user.actor()).await
        }
    };
    let (status, notice, version, text) = match result {
        Ok(written) => {
            let (version, text) = document(&state, &code).await?.unwrap_or_default();
            (
                StatusCode::OK,
                Notice::Saved(format!("已保存为第 {} 版。", written.version)),
                version,
                text,
            )
        }
        Err(e) if e.status.is_client_error() => (
            e.status,
            Notice::Error(e.code, e.message),
            current,
            form.document,
        ),
        Err(e) => return Err(e.into()),
    };
    let body = matter_page(&state, &session, &code, version, &text, Some(notice)).await?;
    Ok((status, body).into_response())
}

enum Notice {
    Saved(String),
    Error(&'static str, String),
}

fn notice(notice: &Notice) -> Markup {
    match notice {
        Notice::Saved(text) => {
            html! { div.result.accepted role="status" data-result="accepted" { p { (text) } } }
        }
        Notice::Error(code, text) => html! {
            div.result.refused role="alert" data-result="refused" {
                p.reason { (text) }
                p.meta { "错误码 " code data-field="code" { (code) } }
            }
        },
    }
}

async fn matter_page(
    state: &AppState,
    session: &Session,
    code: &str,
    version: i64,
    text: &str,
    outcome: Option<Notice>,
) -> Result<Html<String>, ApiError> {
    let rules = match crate::recommend::current_document(state.db()).await? {
        Some((_, doc)) => crate::recommend::check(state, &doc).await.ok(),
        None => None,
    };
    let rules: Vec<_> = rules
        .iter()
        .flat_map(|set| set.rules())
        .filter(|r| r.matter == code)
        .map(|r| {
            (
                r.id.clone(),
                r.action.as_str(),
                r.priority,
                r.reason.zh.clone(),
            )
        })
        .collect();
    Ok(page(
        &format!("事项 {code}"),
        Some(session),
        html! {
            @if let Some(outcome) = &outcome { (notice(outcome)) }
            p { a href="/console/catalog" { "← 全部事项" } }
            section.chart {
                h2 { "推荐规则" }
                @if rules.is_empty() {
                    p.empty { "没有规则推荐这个事项。" }
                } @else {
                    ul {
                        @for (id, action, priority, reason) in &rules {
                            li { code { (id) } " · " (action) " · 优先级 " (priority) " · " (reason) }
                        }
                    }
                }
                p { a href="/console/rules" { "编辑规则并试运行 →" } }
            }
            form.card.wide method="post" action={ "/console/catalog/" (code) } {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="document" { "事项文档（当前第 " (version) " 版；保存即为第 " (version + 1) " 版，表单版本号自动更新）" }
                textarea id="document" name="document" rows="24" spellcheck="false" { (text) }
                button type="submit" { "保存为新版本" }
            }
        },
    ))
}

// ---- rules ----

#[derive(Debug, Default, Deserialize)]
pub struct RulesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rules: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    event_data: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    licences: String,
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    opted_out: String,
    /// The digest of the rule set the last dry run checked.
    #[serde(default)]
    checked: String,
}

fn digest(text: &str) -> String {
    hex::encode(Suite::Intl.hash(text.as_bytes()))
}

/// `GET /console/rules`: the rule set in force, ready to edit and dry-run.
pub async fn rules(
    State(state): State<AppState>,
    session: Session,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Catalog)?;
    let (version, text) = crate::recommend::current_document(state.db())
        .await?
        .unwrap_or((0, r#"{"rules": []}"#.to_owned()));
    let pretty = serde_json::from_str::<Value>(&text)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or(text);
    let form = RulesForm {
        rules: pretty,
        event_type: "birth_registered".into(),
        event_data: r#"{"child_birth_date": "2026-11-01", "child_sex": "female"}"#.into(),
        birth_date: "1990-03-07".into(),
        region: "110101".into(),
        consent: Some("on".into()),
        ..RulesForm::default()
    };
    Ok(rules_page(&session, version, &form, None))
}

/// What a dry run or a publication came to.
enum RulesOutcome {
    Invalid(&'static str, String),
    DryRun(Vec<DryRunRow>),
    Published(i64, usize),
}

struct DryRunRow {
    rule: String,
    matter: String,
    action: &'static str,
    priority: u8,
    reason_zh: String,
    reason_en: String,
    refusal: Option<&'static str>,
}

/// `POST /console/rules/dry-run`
pub async fn dry_run(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<RulesForm>, FormRejection>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Catalog)?;
    let Form(mut form) = form.map_err(super::form_refused)?;
    check_csrf(&session, &headers, &form.csrf)?;
    let version = rule_set_version(&state).await?;
    let outcome = match run(&state, &form).await {
        Ok(rows) => {
            form.checked = digest(&form.rules);
            RulesOutcome::DryRun(rows)
        }
        Err(e) if e.status.is_client_error() => {
            form.checked.clear();
            RulesOutcome::Invalid(e.code, e.message)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(rules_page(&session, version, &form, Some(outcome)))
}

/// `POST /console/rules/publish`: only the set the last dry run checked.
pub async fn publish(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<RulesForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    allow(&session, Page::Catalog)?;
    let Form(mut form) = form.map_err(super::form_refused)?;
    check_csrf(&session, &headers, &form.csrf)?;
    let (status, outcome) = if form.checked.is_empty() || form.checked != digest(&form.rules) {
        (
            StatusCode::CONFLICT,
            RulesOutcome::Invalid(
                "YW-4914",
                "规则集在试运行之后改动过（或尚未试运行）：请先试运行，确认结果后再发布。".into(),
            ),
        )
    } else {
        match crate::recommend::publish(&state, &form.rules, &session.user.actor()).await {
            Ok(written) => (
                StatusCode::OK,
                RulesOutcome::Published(written.version, written.rules),
            ),
            Err(e) if e.status.is_client_error() => {
                (e.status, RulesOutcome::Invalid(e.code, e.message))
            }
            Err(e) => return Err(e.into()),
        }
    };
    form.checked.clear();
    let version = rule_set_version(&state).await?;
    Ok((status, rules_page(&session, version, &form, Some(outcome))).into_response())
}

async fn rule_set_version(state: &AppState) -> Result<i64, ApiError> {
    Ok(crate::recommend::current_document(state.db())
        .await?
        .map_or(0, |(v, _)| v))
}

fn sample_error(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("YW-4915", message)
}

/// Checks the edited set and runs the sample event through it.
async fn run(state: &AppState, form: &RulesForm) -> Result<Vec<DryRunRow>, ApiError> {
    let set: RuleSet = crate::recommend::check(state, &form.rules).await?;
    let fields = crate::events::EVENT_TYPES
        .iter()
        .find(|(name, _)| *name == form.event_type)
        .map(|(_, fields)| *fields)
        .ok_or_else(|| sample_error("示例事件：未知的事件类型。"))?;
    let data: Map<String, Value> = serde_json::from_str(&form.event_data)
        .map_err(|_| sample_error("示例事件数据必须是一个 JSON 对象。"))?;
    crate::events::check_data(&form.event_type, fields, &data, &|key| key.to_owned())
        .map_err(|message| sample_error(format!("示例事件数据：{message}")))?;
    let birth_date = match form.birth_date.trim() {
        "" => None,
        text => Some(
            jiff::civil::Date::strptime("%Y-%m-%d", text)
                .map(|d| {
                    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
                })
                .map_err(|_| sample_error("示例画像：出生日期格式为 YYYY-MM-DD。"))?,
        ),
    };
    let region = form.region.trim();
    if !region.is_empty() && (region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit())) {
        return Err(sample_error("示例画像：地区代码为 6 位数字。"));
    }
    let list = |text: &str| -> Vec<String> {
        text.split([',', '，', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let licences = list(&form.licences);
    let opted_out = list(&form.opted_out);
    let citizen = Citizen {
        birth_date,
        region_code: (!region.is_empty()).then_some(region),
        licences: &licences,
        consent: form.consent.is_some(),
        opted_out: &opted_out,
    };
    let names: HashMap<String, String> = sqlx::query("SELECT code, name_zh FROM matters")
        .fetch_all(state.db().pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("name_zh")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let explained = set.explain_event(
        &form.event_type,
        &data,
        &citizen,
        &NoHistory,
        crate::push::now_ms(),
        crate::push::send::today_in_china(),
    );
    Ok(explained
        .into_iter()
        .map(|(rule, refusal)| DryRunRow {
            rule: rule.id.clone(),
            matter: names
                .get(&rule.matter)
                .cloned()
                .unwrap_or_else(|| rule.matter.clone()),
            action: rule.action.as_str(),
            priority: rule.priority,
            reason_zh: rule.reason.zh.clone(),
            reason_en: rule.reason.en.clone(),
            refusal: refusal.map(|r| r.zh()),
        })
        .collect())
}

fn rules_page(
    session: &Session,
    version: i64,
    form: &RulesForm,
    outcome: Option<RulesOutcome>,
) -> Html<String> {
    let event_types = crate::events::EVENT_TYPES.iter().map(|(name, _)| *name);
    page(
        "推荐规则",
        Some(session),
        html! {
            @match &outcome {
                Some(RulesOutcome::Invalid(code, message)) => {
                    div.result.refused role="alert" data-result="refused" {
                        h2 { "未通过" }
                        p.reason { (message) }
                        p.meta { "错误码 " code data-field="code" { (code) } }
                    }
                }
                Some(RulesOutcome::Published(version, count)) => {
                    div.result.accepted role="status" data-result="published" {
                        h2 { "已发布" }
                        p { "规则集第 " (version) " 版已生效（" (count) " 条规则）。" }
                    }
                }
                Some(RulesOutcome::DryRun(rows)) => {
                    section.chart id="dry-run" aria-labelledby="dry-run-title" {
                        h2 id="dry-run-title" { "试运行结果" }
                        @let fired = rows.iter().filter(|r| r.refusal.is_none()).count();
                        p data-fired=(fired) { "该事件会产生 " strong { (fired) } " 条推荐；共 " (rows.len()) " 条规则由此事件触发。" }
                        div.table-wrap {
                            table {
                                thead { tr { th scope="col" { "规则" } th scope="col" { "事项" } th scope="col" { "结果" }
                                             th scope="col" { "推荐理由 / 原因" } } }
                                tbody {
                                    @for row in rows {
                                        tr data-rule=(row.rule) {
                                            td { code { (row.rule) } }
                                            td { (row.matter) }
                                            @match row.refusal {
                                                None => {
                                                    td.fires { (if row.action == "grant" { "免申即领" } else { "会推荐" }) " · 优先级 " (row.priority) }
                                                    td { (row.reason_zh) br; span.meta { (row.reason_en) } }
                                                }
                                                Some(why) => {
                                                    td.skips { "不推荐" }
                                                    td { (why) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                None => {}
            }
            form.card.wide method="post" action="/console/rules/dry-run" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="checked" value=(form.checked);
                label for="rules" { "规则集（当前生效第 " (version) " 版）" }
                textarea id="rules" name="rules" rows="20" spellcheck="false" { (form.rules) }
                fieldset {
                    legend { "示例事件" }
                    label for="event_type" { "事件类型" }
                    select id="event_type" name="event_type" {
                        @for name in event_types {
                            option value=(name) selected[name == form.event_type] { (name) }
                        }
                    }
                    label for="event_data" { "事件数据（JSON）" }
                    textarea id="event_data" name="event_data" rows="3" spellcheck="false" { (form.event_data) }
                }
                fieldset {
                    legend { "示例群众画像" }
                    label for="birth_date" { "出生日期" }
                    input id="birth_date" name="birth_date" value=(form.birth_date) placeholder="YYYY-MM-DD";
                    label for="region" { "地区代码" }
                    input id="region" name="region" value=(form.region) inputmode="numeric";
                    label for="licences" { "持有证照类型（逗号分隔）" }
                    input id="licences" name="licences" value=(form.licences);
                    label for="opted_out" { "已关闭推荐的人生事件（逗号分隔）" }
                    input id="opted_out" name="opted_out" value=(form.opted_out);
                    label.check {
                        input type="checkbox" name="consent" checked[form.consent.is_some()];
                        " 已同意画像匹配"
                    }
                }
                div.buttons {
                    button type="submit" { "试运行" }
                    button.secondary type="submit" formaction="/console/rules/publish"
                        disabled[form.checked.is_empty()] { "发布" }
                }
                p.hint { "发布前须先试运行；试运行后改动规则集需重新试运行。" }
            }
        },
    )
}
