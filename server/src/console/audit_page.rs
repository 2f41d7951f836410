//! The audit log page: filter by actor, citizen (网号), action and time
//! (dates in China time), newest first, 100 per page. Reading it is itself
//! audited, as through the API.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use super::session::Session;
use super::{ConsoleError, Page, allow, page};
use crate::AppState;
use crate::audit;
use crate::error::ApiError;

const PAGE_SIZE: i64 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
    /// `YYYY-MM-DD`, from the start of that day (China time).
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, to the end of that day.
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Unix seconds at the start of `date` in China time.
fn day_start(date: &str) -> Result<Option<i64>, ApiError> {
    let Some(date) = non_empty(date) else {
        return Ok(None);
    };
    let bad = || ApiError::unprocessable("YW-4006", "dates are YYYY-MM-DD");
    let parsed: jiff::civil::Date = date.parse().map_err(|_| bad())?;
    let zoned = parsed.to_zoned(china()).map_err(|_| bad())?;
    Ok(Some(zoned.timestamp().as_second()))
}

/// China Standard Time (UTC+8, no daylight saving).
pub(super) fn china() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}

/// `YYYY-MM-DD HH:MM` in China time, of Unix milliseconds.
pub(super) fn china_minute(unix_ms: i64) -> String {
    let text = china_time(unix_ms.div_euclid(1000));
    text[..text.len().min(16)].to_owned()
}

/// `YYYY-MM-DD HH:MM:SS` in China time.
fn china_time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(china())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| unix.to_string())
}

/// `GET /console/audit`
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Audit)?;
    let Query(query) = query
        .map_err(|_| ApiError::unprocessable("YW-4006", "bad query: before is a whole number"))?;
    let filter = audit::Filter {
        actor: non_empty(&query.actor),
        action: non_empty(&query.action),
        subject: non_empty(&query.subject),
        since: day_start(&query.from)?,
        until: day_start(&query.to)?.map(|t| t + 86_399),
        before: query.before,
        limit: PAGE_SIZE,
    };
    let entries = audit::query(state.db(), &filter).await?;
    audit::record(
        state.db().pool(),
        &session.user.actor(),
        "audit.read",
        filter.subject.as_deref(),
    )
    .await?;
    let next = (entries.len() as i64 == PAGE_SIZE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let next_link = next.map(|before| {
        let params = [
            ("actor", query.actor.as_str()),
            ("action", query.action.as_str()),
            ("subject", query.subject.as_str()),
            ("from", query.from.as_str()),
            ("to", query.to.as_str()),
        ];
        let mut link = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            link.append_pair(k, v);
        }
        link.append_pair("before", &before.to_string());
        format!("/console/audit?{}", link.finish())
    });
    Ok(page(
        "审计日志",
        Some(&session),
        html! {
            form.filters method="get" action="/console/audit" role="search" {
                div { label for="actor" { "操作者" }
                      input id="actor" name="actor" value=(query.actor) placeholder="console:alice、admin、citizen"; }
                div { label for="subject" { "群众（网号）" }
                      input id="subject" name="subject" value=(query.subject); }
                div { label for="action" { "操作" }
                      input id="action" name="action" value=(query.action) placeholder="window.verify.accepted"; }
                div { label for="from" { "起始日期" }
                      input id="from" name="from" type="date" value=(query.from); }
                div { label for="to" { "截止日期" }
                      input id="to" name="to" type="date" value=(query.to); }
                button type="submit" { "筛选" }
            }
            div.table-wrap {
                table {
                    caption { "本页 " (entries.len()) " 条（每页至多 " (PAGE_SIZE) " 条，最新在前）" }
                    thead { tr { th scope="col" { "时间" } th scope="col" { "操作者" }
                                 th scope="col" { "操作" } th scope="col" { "群众（网号）" }
                                 th scope="col" { "请求" } } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td { (china_time(e.at)) }
                                td { (e.actor) }
                                td { code { (e.action) } }
                                td { (e.subject.as_deref().unwrap_or("—")) }
                                td { code { (e.request_id) } }
                            }
                        }
                    }
                }
            }
            @if let Some(link) = next_link {
                p { a href=(link) { "更早的记录 →" } }
            }
        },
    ))
}
