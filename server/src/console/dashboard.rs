//! The dashboard: pushes sent, delivered, failed and opened per provider and
//! per category, pushes and events over time, recommendations made and
//! taken up per matter, events received per department — as SVG charts
//! drawn here (no script, no chart library), each with its numbers in a
//! table beside it. A department user sees only the events its own service
//! client posted, and nothing of pushes or recommendations.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use maud::{Markup, html};
use serde::Deserialize;
use sqlx::Row;

use super::session::Session;
use super::{ConsoleError, Page, Role, allow, page};
use crate::AppState;
use crate::error::ApiError;
use crate::push::now_ms;
use crate::push::providers::{Category, ProviderKind};

/// The time ranges offered: (query value, label, length, bucket).
const RANGES: [(&str, &str, i64, i64); 3] = [
    ("24h", "最近 24 小时", 24 * HOUR, HOUR),
    ("7d", "最近 7 天", 7 * DAY, DAY),
    ("30d", "最近 30 天", 30 * DAY, DAY),
];
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Push outcomes in display order, with their colours (a palette that stays
/// distinct for colour-blind readers).
const PUSH_SERIES: [(&str, &str, &str); 5] = [
    ("delivered", "已送达", "#1b7837"),
    ("queued", "排队中", "#999999"),
    ("sent", "已发送", "#2166ac"),
    ("failed", "失败", "#b2182b"),
    ("suppressed", "已抑制", "#e08214"),
];
const OPENED: (&str, &str, &str) = ("opened", "已打开", "#762a83");

#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    range: Option<String>,
    /// The pushes-over-time chart: one provider, one category (else all).
    provider: Option<String>,
    category: Option<String>,
}

/// Counts by (row label, series).
type Table = BTreeMap<String, BTreeMap<String, i64>>;

async fn grouped(
    state: &AppState,
    sql: &'static str,
    since: i64,
    department: Option<&str>,
) -> Result<Table, ApiError> {
    let mut query = sqlx::query(sql).bind(since);
    if sql.contains("$2") {
        query = query.bind(department);
    }
    let rows = query.fetch_all(state.db().pool()).await?;
    let mut table = Table::new();
    for row in rows {
        let label: String = row.try_get("label")?;
        let series: String = row.try_get("series")?;
        let n: i64 = row.try_get("n")?;
        *table.entry(label).or_default().entry(series).or_default() += n;
    }
    Ok(table)
}

/// Bucketed counts: the bucket number (as text, for [`Table`]) by series.
/// `filters` are bound from `$3` (`NULL`: no filter).
async fn over_time(
    state: &AppState,
    sql: &'static str,
    since: i64,
    bucket: i64,
    filters: &[Option<&str>],
) -> Result<Table, ApiError> {
    let mut query = sqlx::query(sql).bind(since).bind(bucket);
    for filter in filters {
        query = query.bind(*filter);
    }
    let mut table = Table::new();
    for row in query.fetch_all(state.db().pool()).await? {
        let b: i64 = row.try_get("b")?;
        let series: String = row.try_get("series")?;
        let n: i64 = row.try_get("n")?;
        *table
            .entry(format!("{b:05}"))
            .or_default()
            .entry(series)
            .or_default() += n;
    }
    Ok(table)
}

/// `GET /console?range=24h|7d|30d`
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Dashboard)?;
    let Query(query) = query.unwrap_or_default();
    let (range, range_label, length, bucket) = RANGES
        .into_iter()
        .find(|r| Some(r.0) == query.range.as_deref())
        .unwrap_or(RANGES[1]);
    let now = now_ms();
    let since = (now - length) / bucket * bucket + bucket;
    let buckets = length / bucket;
    let department = match session.user.role {
        Role::Department => Some(session.user.department.clone().unwrap_or_default()),
        _ => None,
    };
    let only_events = department.is_some();
    // Only known values filter (anything else is "all").
    let provider = ProviderKind::ALL
        .iter()
        .map(|p| p.as_str())
        .find(|p| Some(*p) == query.provider.as_deref());
    let category = Category::ALL
        .iter()
        .map(|c| c.as_str())
        .find(|c| Some(*c) == query.category.as_deref());

    let events = grouped(
        &state,
        "SELECT source AS label, event_type AS series, COUNT(*) AS n FROM events \
         WHERE received_ms >= $1 AND ($2 IS NULL OR source = $2) GROUP BY source, event_type",
        since,
        department.as_deref(),
    )
    .await?;
    let events_time = over_time(
        &state,
        "SELECT (received_ms - $1) / $2 AS b, 'events' AS series, COUNT(*) AS n FROM events \
         WHERE received_ms >= $1 AND ($3 IS NULL OR source = $3) GROUP BY (received_ms - $1) / $2",
        since,
        bucket,
        &[department.as_deref()],
    )
    .await?;
    let event_types: Vec<String> = {
        let mut types: Vec<String> = events.values().flat_map(|s| s.keys().cloned()).collect();
        types.sort();
        types.dedup();
        types
    };
    let event_series: Vec<(String, String, &str)> = event_types
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(t, c)| (t.clone(), t.clone(), *c))
        .collect();

    let mut sections = Vec::new();
    if !only_events {
        let mut by_provider = grouped(
            &state,
            "SELECT provider AS label, status AS series, COUNT(*) AS n FROM push_outbox \
             WHERE created_ms >= $1 GROUP BY provider, status",
            since,
            None,
        )
        .await?;
        merge(
            &mut by_provider,
            grouped(
                &state,
                "SELECT o.provider AS label, 'opened' AS series, COUNT(DISTINCT i.id) AS n \
                 FROM inbox i JOIN push_outbox o ON o.notification_id = i.notification_id \
                 JOIN push_devices d ON d.device_id = o.device_id AND d.network_id = i.network_id \
                 WHERE i.opened_ms >= $1 GROUP BY o.provider",
                since,
                None,
            )
            .await?,
        );
        let mut by_category = grouped(
            &state,
            "SELECT n.category AS label, o.status AS series, COUNT(*) AS n FROM push_outbox o \
             JOIN notifications n ON n.id = o.notification_id \
             WHERE o.created_ms >= $1 GROUP BY n.category, o.status",
            since,
            None,
        )
        .await?;
        merge(
            &mut by_category,
            grouped(
                &state,
                "SELECT category AS label, 'opened' AS series, COUNT(*) AS n FROM inbox \
                 WHERE opened_ms >= $1 GROUP BY category",
                since,
                None,
            )
            .await?,
        );
        let pushes_time = over_time(
            &state,
            "SELECT (o.created_ms - $1) / $2 AS b, o.status AS series, COUNT(*) AS n \
             FROM push_outbox o JOIN notifications n ON n.id = o.notification_id \
             WHERE o.created_ms >= $1 AND ($3 IS NULL OR o.provider = $3) \
               AND ($4 IS NULL OR n.category = $4) \
             GROUP BY (o.created_ms - $1) / $2, o.status",
            since,
            bucket,
            &[provider, category],
        )
        .await?;
        let recommendations = grouped(
            &state,
            "SELECT COALESCE(m.name_zh, r.matter_code) AS label, 'made' AS series, COUNT(*) AS n \
             FROM recommendations r LEFT JOIN matters m ON m.code = r.matter_code \
             WHERE r.created_ms >= $1 GROUP BY COALESCE(m.name_zh, r.matter_code) \
             UNION ALL \
             SELECT COALESCE(m.name_zh, r.matter_code) AS label, 'applied' AS series, COUNT(*) AS n \
             FROM recommendations r LEFT JOIN matters m ON m.code = r.matter_code \
             WHERE r.created_ms >= $1 AND EXISTS (SELECT 1 FROM applications a \
               WHERE a.network_id = r.network_id AND a.matter_code = r.matter_code \
                 AND a.submitted_ms >= r.created_ms) GROUP BY COALESCE(m.name_zh, r.matter_code)",
            since,
            None,
        )
        .await?;
        let push_series = series_of(PUSH_SERIES.iter().chain([&OPENED]));
        let push_only = series_of(PUSH_SERIES.iter());
        sections.push(chart(
            "pushes-provider",
            "推送 · 按通道",
            &by_provider,
            &push_series,
        ));
        sections.push(chart(
            "pushes-category",
            "推送 · 按类别",
            &by_category,
            &push_series,
        ));
        let pushes_title = format!(
            "推送 · 随时间（通道：{}；类别：{}）",
            provider.unwrap_or("全部"),
            category.unwrap_or("全部")
        );
        sections.push(timeline(
            "pushes-time",
            &pushes_title,
            &pushes_time,
            &push_only,
            buckets,
            since,
            bucket,
        ));
        sections.push(chart(
            "recommendations",
            "主动推荐 · 按事项（推荐数 / 推荐后申办数）",
            &recommendations,
            &series_of(
                [
                    &("made", "推荐", "#2166ac"),
                    &("applied", "推荐后申办", "#1b7837"),
                ]
                .into_iter(),
            ),
        ));
    }
    sections.push(chart(
        "events-department",
        if only_events {
            "本部门推送的事件 · 按类型"
        } else {
            "事件 · 按部门"
        },
        &events,
        &event_series,
    ));
    sections.push(timeline(
        "events-time",
        "事件 · 随时间",
        &events_time,
        &[("events".to_owned(), "事件".to_owned(), "#2166ac")],
        buckets,
        since,
        bucket,
    ));

    Ok(page(
        "概览",
        Some(&session),
        html! {
            form.filters method="get" action="/console" {
                label for="range" { "时间范围" }
                select id="range" name="range" data-autosubmit {
                    @for (value, label, _, _) in RANGES {
                        option value=(value) selected[value == range] { (label) }
                    }
                }
                @if !only_events {
                    label for="provider" { "推送通道" }
                    select id="provider" name="provider" data-autosubmit {
                        option value="" { "全部" }
                        @for p in ProviderKind::ALL {
                            option value=(p.as_str()) selected[Some(p.as_str()) == provider] { (p.as_str()) }
                        }
                    }
                    label for="category" { "推送类别" }
                    select id="category" name="category" data-autosubmit {
                        option value="" { "全部" }
                        @for c in Category::ALL {
                            option value=(c.as_str()) selected[Some(c.as_str()) == category] { (c.as_str()) }
                        }
                    }
                }
                button type="submit" { "查看" }
            }
            p.meta { (range_label) "，自 " (super::audit_page::china_minute(since)) " 起。" }
            @for section in sections { (section) }
        },
    ))
}

const PALETTE: [&str; 6] = [
    "#2166ac", "#1b7837", "#e08214", "#762a83", "#b2182b", "#4d4d4d",
];

fn series_of<'a>(
    series: impl Iterator<Item = &'a (&'a str, &'a str, &'a str)>,
) -> Vec<(String, String, &'a str)> {
    series
        .map(|(key, label, colour)| ((*key).to_owned(), (*label).to_owned(), *colour))
        .collect()
}

fn merge(into: &mut Table, from: Table) {
    for (label, series) in from {
        let row = into.entry(label).or_default();
        for (s, n) in series {
            *row.entry(s).or_default() += n;
        }
    }
}

const WIDTH: f64 = 640.0;
const ROW_HEIGHT: f64 = 28.0;

/// Grouped horizontal bars: one group per row label, one bar per series
/// that has any count, with the numbers as a table (screen readers and
/// copy-paste).
fn chart(id: &str, title: &str, table: &Table, series: &[(String, String, &str)]) -> Markup {
    let series: Vec<&(String, String, &str)> = series
        .iter()
        .filter(|(key, _, _)| table.values().any(|s| s.get(key).is_some_and(|n| *n > 0)))
        .collect();
    let max = table
        .values()
        .flat_map(|s| s.values())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let row_height = ROW_HEIGHT.max(8.0 * series.len() as f64 + 8.0);
    let bar = (row_height - 6.0) / series.len().max(1) as f64;
    let height = row_height * table.len().max(1) as f64 + 4.0;
    // Room for the longest label (a CJK character is about 12 px at this size).
    let longest = table.keys().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_width = (longest.min(24) as f64 * 12.0 + 12.0).clamp(60.0, 300.0);
    let scale = (WIDTH - label_width - 50.0) / max;
    let plot = html! {
                (legend(series.iter().copied()))
                svg.plot role="img" aria-labelledby={ (id) "-title" } viewBox={ "0 0 " (WIDTH) " " (height) }
                    xmlns="http://www.w3.org/2000/svg" {
                    @for (row, (label, counts)) in table.iter().enumerate() {
                        @let y = row as f64 * row_height + 2.0;
                        text x="0" y=(y + row_height / 2.0 + 4.0) font-size="12" {
                            (label.chars().take(24).collect::<String>())
                        }
                        @for (i, (key, name, colour)) in series.iter().enumerate() {
                            @let n = counts.get(key).copied().unwrap_or(0);
                            @let w = n as f64 * scale;
                            @let by = y + 3.0 + i as f64 * bar;
                            rect x=(label_width) y=(by) width=(w) height=(bar - 1.0) fill=(colour) {
                                title { (label) " · " (name) "：" (n) }
                            }
                            @if n > 0 {
                                text x=(label_width + w + 4.0) y=(by + bar - 2.0) font-size="10" { (n) }
                            }
                        }
                    }
                }
                (numbers(table, &series, |label| label.to_owned()))
    };
    frame(id, title, table.is_empty(), plot)
}

/// Vertical bars per time bucket, stacked by series.
fn timeline(
    id: &str,
    title: &str,
    table: &Table,
    series: &[(String, String, &str)],
    buckets: i64,
    since: i64,
    bucket: i64,
) -> Markup {
    let totals: Vec<i64> = (0..buckets)
        .map(|b| {
            table
                .get(&format!("{b:05}"))
                .map_or(0, |s| s.values().sum())
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let height = 160.0;
    let plot = height - 20.0;
    let step = (WIDTH - 40.0) / buckets.max(1) as f64;
    let label = |b: i64| {
        let at = since + b * bucket;
        if bucket == HOUR {
            super::audit_page::china_minute(at)[11..13].to_owned() + "时"
        } else {
            super::audit_page::china_minute(at)[5..10].to_owned()
        }
    };
    // Stacked: each series' bar starts where the previous one ended.
    let mut rects = Vec::new();
    for b in 0..buckets {
        let mut top = plot;
        for (key, name, colour) in series {
            let n = table
                .get(&format!("{b:05}"))
                .and_then(|s| s.get(key))
                .copied()
                .unwrap_or(0);
            if n > 0 {
                let h = n as f64 / max * (plot - 14.0);
                top -= h;
                let x = 40.0 + b as f64 * step;
                rects.push((format!("{} · {name}：{n}", label(b)), x, top, h, *colour));
            }
        }
    }
    let plot = html! {
                (legend(series.iter()))
                svg.plot role="img" aria-labelledby={ (id) "-title" } viewBox={ "0 0 " (WIDTH) " " (height) }
                    xmlns="http://www.w3.org/2000/svg" {
                    text x="0" y="10" font-size="10" { (max as i64) }
                    line x1="36" y1=(plot) x2=(WIDTH) y2=(plot) stroke="#666666" {}
                    @for (title, x, y, h, colour) in &rects {
                        rect x=(x) y=(y) width=(step * 0.8) height=(h) fill=(colour) { title { (title) } }
                    }
                    @for b in 0..buckets {
                        @if buckets <= 12 || b % (buckets / 6).max(1) == 0 {
                            text x=(40.0 + b as f64 * step) y=(height - 4.0) font-size="10" { (label(b)) }
                        }
                    }
                }
                (numbers(table, &series.iter().collect::<Vec<_>>(), |key| {
                    key.parse::<i64>().map(label).unwrap_or_else(|_| key.to_owned())
                }))
    };
    frame(id, title, table.is_empty(), plot)
}

/// A chart's section: its heading, then the plot, or a line saying there is no data.
fn frame(id: &str, title: &str, empty: bool, plot: Markup) -> Markup {
    html! {
        section.chart id=(id) aria-labelledby={ (id) "-title" } {
            h2 id={ (id) "-title" } { (title) }
            @if empty {
                p.empty { "此时间范围内没有数据。" }
            } @else {
                (plot)
            }
        }
    }
}

fn legend<'a>(series: impl Iterator<Item = &'a (String, String, &'a str)>) -> Markup {
    html! {
        ul.legend aria-hidden="true" {
            @for (_, name, colour) in series {
                li {
                    svg width="12" height="12" viewBox="0 0 12 12" { rect width="12" height="12" fill=(colour) {} }
                    " " (name)
                }
            }
        }
    }
}

fn numbers(
    table: &Table,
    series: &[&(String, String, &str)],
    row_label: impl Fn(&str) -> String,
) -> Markup {
    html! {
        details {
            summary { "数据表" }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "" } @for (_, name, _) in series { th scope="col" { (name) } } } }
                    tbody {
                        @for (label, counts) in table {
                            tr {
                                th scope="row" { (row_label(label)) }
                                @for (key, _, _) in series {
                                    td { (counts.get(key).copied().unwrap_or(0)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
