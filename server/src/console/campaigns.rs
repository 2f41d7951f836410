//! Campaigns: compose a message from a campaign template, choose a segment
//! (region prefix, ages), preview the text in zh and en and how many
//! citizens it reaches after the daily cap and opt-outs, schedule it, send
//! it (through the same path as `POST /v1/notifications`), and follow its
//! delivery.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use sqlx::Row;

use super::session::Session;
use super::{ConsoleError, Page, allow, check_csrf, page};
use crate::AppState;
use crate::auth::random_token;
use crate::clients::Sender;
use crate::error::ApiError;
use crate::push::send::{Recipient, Segment, SendRequest, preview_segment, send_as, validate};
use crate::push::templates;

/// The campaign templates: (id, latest version).
async fn campaign_templates(state: &AppState) -> Result<Vec<(String, i64)>, ApiError> {
    let rows = sqlx::query(
        "SELECT template_id, MAX(version) AS version FROM notification_templates \
         WHERE category = 'campaign' GROUP BY template_id ORDER BY template_id",
    )
    .fetch_all(state.db().pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("template_id")?, r.try_get("version")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

#[derive(Debug, Default, Deserialize)]
pub struct ComposeQuery {
    template: Option<String>,
}

/// The compose form's values: `template`, `region_prefix`, `age_min`,
/// `age_max`, `not_before` (`YYYY-MM-DDTHH:MM`, China time), `param.<name>`,
/// `csrf` and `idempotency` (one per composed campaign).
type Fields = HashMap<String, String>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map_or("", |v| v.trim())
}

/// `GET /console/campaigns`: recent campaigns and the compose form.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ComposeQuery>, QueryRejection>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Campaigns)?;
    let Query(query) = query.unwrap_or_default();
    let mut fields = Fields::new();
    if let Some(template) = query.template {
        fields.insert("template".into(), template);
    }
    Ok(compose(&state, &session, fields, None).await?)
}

/// What the compose page shows above the form.
enum Shown {
    Preview {
        zh: templates::Text,
        en: templates::Text,
        counts: crate::push::send::SegmentPreview,
    },
    Error(&'static str, String),
}

/// The request the form describes.
fn request(fields: &Fields, template: &templates::Template) -> Result<SendRequest, ApiError> {
    let age = |name: &str| -> Result<Option<u32>, ApiError> {
        match field(fields, name) {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| {
                ApiError::unprocessable("YW-4622", "年龄须为 0-150 的整数，且下限不大于上限。")
            }),
        }
    };
    let not_before = match field(fields, "not_before") {
        "" => None,
        text => {
            let at = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", text)
                .ok()
                .and_then(|t| t.to_zoned(super::audit_page::china()).ok())
                .ok_or_else(|| {
                    ApiError::unprocessable("YW-4618", "定时发送的时间格式为 YYYY-MM-DDTHH:MM。")
                })?;
            Some(at.timestamp().as_second())
        }
    };
    let params = template
        .placeholders()
        .into_iter()
        .map(|name| {
            let value = field(fields, &format!("param.{name}")).to_owned();
            (name, value)
        })
        .collect();
    let region = field(fields, "region_prefix");
    Ok(SendRequest {
        recipient: Recipient::Segment(Segment {
            region_prefix: (!region.is_empty()).then(|| region.to_owned()),
            age_min: age("age_min")?,
            age_max: age("age_max")?,
        }),
        template: template.id.clone(),
        template_version: Some(template.version),
        params,
        category: Some("campaign".into()),
        priority: None,
        ttl_secs: None,
        collapse_key: None,
        not_before,
        idempotency_key: match field(fields, "idempotency") {
            "" => None,
            key => Some(format!("console-{key}")),
        },
    })
}

/// A posted compose form: the role, the CSRF token, and its template.
async fn posted(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<(Fields, templates::Template), ConsoleError> {
    allow(session, Page::Campaigns)?;
    let Form(fields) = form.map_err(super::form_refused)?;
    check_csrf(session, headers, field(&fields, "csrf"))?;
    let template = load_template(state, field(&fields, "template")).await?;
    Ok((fields, template))
}

/// `POST /console/campaigns/preview`
pub async fn preview(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let (fields, template) = posted(&state, &session, &headers, form).await?;
    let shown = match previewed(&state, &fields, &template).await {
        Ok(shown) => shown,
        Err(e) if e.status.is_client_error() => Shown::Error(e.code, e.message),
        Err(e) => return Err(e.into()),
    };
    let status = match shown {
        Shown::Error(..) => StatusCode::UNPROCESSABLE_ENTITY,
        Shown::Preview { .. } => StatusCode::OK,
    };
    Ok((
        status,
        compose(&state, &session, fields, Some(shown)).await?,
    )
        .into_response())
}

async fn previewed(
    state: &AppState,
    fields: &Fields,
    template: &templates::Template,
) -> Result<Shown, ApiError> {
    let send = validate(state, &request(fields, template)?).await?;
    Ok(Shown::Preview {
        zh: send.template.render("zh-CN", &send.params),
        en: send.template.render("en", &send.params),
        counts: preview_segment(state, &send).await?,
    })
}

async fn load_template(state: &AppState, id: &str) -> Result<templates::Template, ApiError> {
    let template = templates::load(state.db().pool(), id, None)
        .await?
        .filter(|t| t.category.as_str() == "campaign")
        .ok_or_else(|| ApiError::not_found("YW-4047", "没有这个活动模板。"))?;
    Ok(template)
}

/// `POST /console/campaigns`: sends, then shows its delivery.
pub async fn send(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let (fields, template) = posted(&state, &session, &headers, form).await?;
    let sender = Sender {
        actor: session.user.actor(),
        client_id: None,
        scopes: Vec::new(),
    };
    let sent = match request(&fields, &template) {
        Ok(request) => send_as(&state, &sender, &request).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok((status, _)) => {
            Ok(Redirect::to(&format!("/console/campaigns/{}", status.id)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let shown = Shown::Error(e.code, e.message);
            let body = compose(&state, &session, fields, Some(shown)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn compose(
    state: &AppState,
    session: &Session,
    mut fields: Fields,
    shown: Option<Shown>,
) -> Result<Html<String>, ApiError> {
    let templates = campaign_templates(state).await?;
    let chosen = match field(&fields, "template") {
        "" => templates
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_default(),
        id => id.to_owned(),
    };
    let template = templates::load(state.db().pool(), &chosen, None).await?;
    fields
        .entry("idempotency".into())
        .or_insert(random_token(16)?);
    let recent = sqlx::query(
        "SELECT id, template_id, sender, recipients, created_ms, not_before_ms FROM notifications \
         WHERE category = 'campaign' ORDER BY created_ms DESC LIMIT 20",
    )
    .fetch_all(state.db().pool())
    .await?;
    let can_send = matches!(shown, Some(Shown::Preview { .. }));
    Ok(page(
        "推送活动",
        Some(session),
        html! {
            @match &shown {
                Some(Shown::Error(code, message)) => {
                    div.result.refused role="alert" data-result="refused" {
                        p.reason { (message) }
                        p.meta { "错误码 " code data-field="code" { (code) } }
                    }
                }
                Some(Shown::Preview { zh, en, counts }) => {
                    section.chart id="preview" aria-labelledby="preview-title" {
                        h2 id="preview-title" { "预览" }
                        div.previews {
                            div.phone lang="zh-CN" { strong { (zh.title) } p { (zh.body) } }
                            div.phone lang="en" { strong { (en.title) } p { (en.body) } }
                        }
                        dl.counts {
                            dt { "目标人群" } dd data-count="recipients" { (counts.recipients) }
                            dt { "将推送" } dd data-count="pushed" { (counts.pushed) " 人（" (counts.devices) " 台设备）" }
                            dt { "超出每日上限（仅收件箱）" } dd data-count="capped" { (counts.capped) }
                            dt { "已关闭活动推送（仅收件箱）" } dd data-count="opted_out" { (counts.opted_out) }
                            dt { "无推送设备（仅收件箱）" } dd data-count="no_device" { (counts.no_device) }
                        }
                    }
                }
                None => {}
            }
            form.card.wide method="post" action="/console/campaigns/preview" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="idempotency" value=(field(&fields, "idempotency"));
                label for="template" { "模板" }
                select id="template" name="template" data-autosubmit-get="/console/campaigns" {
                    @for (id, version) in &templates {
                        option value=(id) selected[*id == chosen] { (id) " （第 " (version) " 版）" }
                    }
                }
                @if let Some(template) = &template {
                    @for name in template.placeholders() {
                        @let id = format!("param-{name}");
                        label for=(id) { "参数 " code { (name) } }
                        textarea id=(id) name={ "param." (name) } rows="2" required { (field(&fields, &format!("param.{name}"))) }
                    }
                }
                fieldset {
                    legend { "目标人群" }
                    label for="region_prefix" { "地区代码前缀（2-6 位，空为全部）" }
                    input id="region_prefix" name="region_prefix" inputmode="numeric" value=(field(&fields, "region_prefix"));
                    label for="age_min" { "最小年龄" }
                    input id="age_min" name="age_min" inputmode="numeric" value=(field(&fields, "age_min"));
                    label for="age_max" { "最大年龄" }
                    input id="age_max" name="age_max" inputmode="numeric" value=(field(&fields, "age_max"));
                }
                label for="not_before" { "定时发送（北京时间，空为立即）" }
                input id="not_before" name="not_before" type="datetime-local" value=(field(&fields, "not_before"));
                div.buttons {
                    button type="submit" { "预览" }
                    button.secondary type="submit" formaction="/console/campaigns" disabled[!can_send] { "发送" }
                }
                p.hint { "发送前须先预览；预览显示各语言的文字和送达人数。" }
            }
            section.chart {
                h2 { "最近的活动" }
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "活动" } th scope="col" { "模板" } th scope="col" { "发起人" }
                                     th scope="col" { "人数" } th scope="col" { "创建时间" } } }
                        tbody {
                            @for row in &recent {
                                @let id: String = row.try_get("id")?;
                                tr {
                                    td { a href={ "/console/campaigns/" (id) } { code { (id) } } }
                                    td { (row.try_get::<String, _>("template_id")?) }
                                    td { (row.try_get::<String, _>("sender")?) }
                                    td { (row.try_get::<i64, _>("recipients")?) }
                                    td { (super::audit_page::china_minute(row.try_get("created_ms")?)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /console/campaigns/{id}`: delivery so far; the page reloads itself
/// every 3 s while pushes are queued.
pub async fn status(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Campaigns)?;
    let category: Option<String> =
        sqlx::query_scalar("SELECT category FROM notifications WHERE id = $1")
            .bind(&id)
            .fetch_optional(state.db().pool())
            .await?;
    if category.as_deref() != Some("campaign") {
        return Err(ApiError::not_found("YW-4043", "没有这个活动。").into());
    }
    let status = crate::push::send::load_status(&state, &id).await?;
    let pending = status.pushes.queued > 0;
    let body = page(
        "活动送达",
        Some(&session),
        html! {
            @if pending { meta http-equiv="refresh" content="3"; }
            p { a href="/console/campaigns" { "← 全部活动" } }
            section.chart id="delivery" aria-labelledby="delivery-title" data-status=(status.status) {
                h2 id="delivery-title" { code { (status.id) } " · " (status_zh(&status.status)) }
                dl.counts {
                    dt { "人数" } dd data-count="recipients" { (status.recipients) }
                    dt { "排队中" } dd data-count="queued" { (status.pushes.queued) }
                    dt { "已送达" } dd data-count="delivered" { (status.pushes.delivered) }
                    dt { "失败" } dd data-count="failed" { (status.pushes.failed) }
                    dt { "已抑制" } dd data-count="suppressed" { (status.pushes.suppressed) }
                    dt { "超出上限" } dd { (status.inbox.capped) }
                    dt { "已关闭推送" } dd { (status.inbox.opted_out) }
                    dt { "无设备" } dd { (status.inbox.no_device) }
                    dt { "已读" } dd { (status.inbox.read) }
                    dt { "已打开" } dd data-count="opened" { (status.inbox.opened) }
                }
                @if !status.failures.is_empty() {
                    h3 { "失败原因" }
                    ul { @for f in &status.failures { li { code { (f.reason) } " × " (f.count) } } }
                }
                @if pending { p.hint { "每 3 秒自动刷新。" } }
            }
        },
    );
    Ok(body)
}

fn status_zh(status: &str) -> &'static str {
    match status {
        "created" => "无需推送",
        "queued" => "排队中",
        "sent" => "发送中",
        "delivered" => "已送达",
        "failed" => "失败",
        "opened" => "已有打开",
        _ => "未知",
    }
}
