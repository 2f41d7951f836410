//! Sending: `POST /v1/notifications` for internal senders, and the status of
//! what they sent (`GET /v1/notifications/{id}`, or by idempotency key).
//!
//! One transaction stores the send, each recipient's inbox row and one
//! outbox row per device that is to be pushed. The daily cap and the
//! citizen's opted-out categories are applied here (the message still
//! reaches the inbox); quiet hours and provider windows when dispatching.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::crypto::Suite;

use super::now_ms;
use super::providers::{Category, Priority};
use super::templates::{self, check_params};
use crate::AppState;
use crate::audit;
use crate::clients::{self, Sender};
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(status_by_id))
        .routes(routes!(status_by_key))
}

/// Who a send goes to: one account, or a segment (a campaign).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Recipient {
    /// The citizen's 网号.
    Account(String),
    Segment(Segment),
}

/// Citizens by what their ID number said at enrolment. All criteria are
/// optional; an empty segment is everyone.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// 2-6 digits: a province (`33`), a city (`3301`) or a county (`330106`).
    #[serde(default)]
    pub region_prefix: Option<String>,
    /// Age in whole years today, inclusive.
    #[serde(default)]
    pub age_min: Option<u32>,
    #[serde(default)]
    pub age_max: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub recipient: Recipient,
    /// A template id; its latest version unless `template_version` is given.
    pub template: String,
    #[serde(default)]
    pub template_version: Option<i64>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Required, and must be the template's: `service`, `reminder`,
    /// `application_status`, `security` or `campaign`.
    #[serde(default)]
    pub category: Option<String>,
    /// `high` or `normal` (default).
    #[serde(default)]
    pub priority: Option<String>,
    /// How long the push may wait to be delivered; default 1 day, at most 15.
    #[serde(default)]
    pub ttl_secs: Option<u32>,
    /// Pushes with the same key replace each other on the device.
    #[serde(default)]
    pub collapse_key: Option<String>,
    /// Unix seconds: do not push before.
    #[serde(default)]
    pub not_before: Option<i64>,
    /// A repeat with the same key (per sender) returns the first result.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What a send has become.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationStatus {
    pub id: String,
    /// `created` (no push to make), `queued`, `sent` (tried, not yet
    /// accepted), `delivered` (every push accepted by its provider),
    /// `failed` (none accepted, nothing left to try), `opened`.
    pub status: String,
    pub category: String,
    pub template: String,
    pub template_version: i64,
    pub idempotency_key: Option<String>,
    pub created_ms: i64,
    /// Inbox rows made: recipients.
    pub recipients: i64,
    pub pushes: PushCounts,
    pub inbox: InboxCounts,
    /// Why pushes failed, with counts.
    pub failures: Vec<FailureCount>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct PushCounts {
    pub queued: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Dropped before sending: opted out since, or the device is gone.
    pub suppressed: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct InboxCounts {
    /// Not pushed: over the daily cap.
    pub capped: i64,
    /// Not pushed: the citizen turned the category off on every device.
    pub opted_out: i64,
    /// Not pushed: no registered device.
    pub no_device: i64,
    pub read: i64,
    pub opened: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureCount {
    pub reason: String,
    pub count: i64,
}

const MAX_TTL_SECS: u32 = 15 * 86_400;

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

/// A validated send.
#[derive(Clone)]
pub(crate) struct Send {
    recipient: Recipient,
    pub(crate) template: templates::Template,
    pub(crate) params: BTreeMap<String, String>,
    category: Category,
    priority: Priority,
    ttl_secs: u32,
    collapse_key: Option<String>,
    not_before_ms: i64,
}

pub(crate) async fn validate(state: &AppState, request: &SendRequest) -> Result<Send, ApiError> {
    let category = request.category.as_deref().ok_or_else(|| {
        bad(
            "YW-4610",
            "category is required: service, reminder, application_status, security or campaign",
        )
    })?;
    let category = Category::parse(category).ok_or_else(|| {
        bad(
            "YW-4610",
            "category: service, reminder, application_status, security or campaign",
        )
    })?;
    let template = templates::load(
        state.db().pool(),
        &request.template,
        request.template_version,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("YW-4047", "no such template (or version)"))?;
    if template.category != category {
        return Err(bad(
            "YW-4611",
            format!(
                "category: this template is for {}",
                template.category.as_str()
            ),
        ));
    }
    check_params(&template, &request.params)?;
    let priority = match request.priority.as_deref() {
        None | Some("normal") => Priority::Normal,
        Some("high") => Priority::High,
        Some(_) => return Err(bad("YW-4614", "priority: high or normal")),
    };
    let ttl_secs = request.ttl_secs.unwrap_or(86_400);
    if !(60..=MAX_TTL_SECS).contains(&ttl_secs) {
        return Err(bad(
            "YW-4615",
            format!("ttl_secs: 60-{MAX_TTL_SECS} (15 days)"),
        ));
    }
    if let Some(key) = &request.collapse_key {
        if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "YW-4616",
                "collapse_key: 1-64 printable ASCII characters",
            ));
        }
    }
    if let Some(key) = &request.idempotency_key {
        if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "YW-4617",
                "idempotency_key: 1-128 printable ASCII characters",
            ));
        }
    }
    let now = now_ms();
    let not_before_ms = match request.not_before {
        None => now,
        Some(secs) if (0..=4_102_444_800).contains(&secs) => (secs * 1000).max(now),
        Some(_) => return Err(bad("YW-4618", "not_before: Unix seconds")),
    };
    match &request.recipient {
        Recipient::Account(id) => {
            if id.is_empty() || id.len() > 64 {
                return Err(bad("YW-4619", "recipient.account: a 网号"));
            }
        }
        Recipient::Segment(segment) => {
            if category != Category::Campaign {
                return Err(bad(
                    "YW-4620",
                    "recipient.segment: segments are for the campaign category",
                ));
            }
            if let Some(prefix) = &segment.region_prefix {
                if !(2..=6).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(
                        "YW-4621",
                        "recipient.segment.region_prefix: 2-6 digits",
                    ));
                }
            }
            let (lo, hi) = (segment.age_min.unwrap_or(0), segment.age_max.unwrap_or(150));
            if lo > hi || hi > 150 {
                return Err(bad("YW-4622", "recipient.segment: age_min ≤ age_max ≤ 150"));
            }
        }
    }
    Ok(Send {
        recipient: request.recipient.clone(),
        template,
        params: request.params.clone(),
        category,
        priority,
        ttl_secs,
        collapse_key: request.collapse_key.clone(),
        not_before_ms,
    })
}

/// Birth dates (YYYYMMDD) of people aged `min..=max` on `today` (YYYYMMDD):
/// born after the first bound, on or before the second.
pub fn birth_bounds(today: i64, min: u32, max: u32) -> (i64, i64) {
    let (year, month_day) = (today / 10_000, today % 10_000);
    let latest = (year - i64::from(min)) * 10_000 + month_day;
    let after = (year - i64::from(max) - 1) * 10_000 + month_day;
    (after, latest)
}

/// Today's date in China as YYYYMMDD.
pub(crate) fn today_in_china() -> i64 {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC);
    let date = jiff::Timestamp::now().to_zoned(tz).date();
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// `POST /v1/notifications` → 202 with the notification's status.
#[utoipa::path(post, path = "/v1/notifications", tag = "push",
    security(("client" = []), ("admin" = [])),
    request_body = SendRequest, responses(
    (status = 202, description = "Accepted: in the inboxes and queued for pushing (or the first answer to this idempotency key)", body = NotificationStatus),
    (status = 401, description = "YW-4023 service client authentication", body = ErrorBody),
    (status = 403, description = "YW-4033 not allowed: notifications:send for an account, notifications:campaign for a segment", body = ErrorBody),
    (status = 404, description = "YW-4046 no such account, YW-4047 no such template", body = ErrorBody),
    (status = 422, description = "YW-4610..4622 bad field, YW-4220 idempotency key reused with another body", body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SendRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let scope = match &body {
        Ok(Json(SendRequest {
            recipient: Recipient::Segment(_),
            ..
        })) => "notifications:campaign",
        _ => "notifications:send",
    };
    let sender = clients::authenticate(&state, &headers, scope).await?;
    let Json(request) = body?;
    let (status, replayed) = send_as(&state, &sender, &request).await?;
    let mut response = (StatusCode::ACCEPTED, Json(status)).into_response();
    if replayed {
        response.headers_mut().insert(
            axum::http::HeaderName::from_static("idempotent-replayed"),
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// Validates and enqueues `request` from `sender` (the API and the
/// console): the status, and whether it is the first answer to its
/// idempotency key replayed.
pub(crate) async fn send_as(
    state: &AppState,
    sender: &Sender,
    request: &SendRequest,
) -> Result<(NotificationStatus, bool), ApiError> {
    let request_hash =
        hex::encode(Suite::Intl.hash(&serde_json::to_vec(request).map_err(ApiError::internal)?));
    if let Some(key) = &request.idempotency_key {
        if let Some(found) = by_key(state, sender, key).await? {
            return replay(state, found, &request_hash).await;
        }
    }
    let send = validate(state, request).await?;
    let id = crate::push::new_notification_id()?;
    let inserted = enqueue(
        state,
        sender,
        &id,
        &send,
        request.idempotency_key.as_deref(),
        &request_hash,
    )
    .await;
    match inserted {
        Ok(()) => {}
        // Two sends with one key raced: the loser answers with the winner's.
        Err(e) if request.idempotency_key.is_some() && e.status.is_server_error() => {
            let key = request.idempotency_key.as_deref().unwrap_or_default();
            match by_key(state, sender, key).await? {
                Some(found) => return replay(state, found, &request_hash).await,
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    state.push_wake().notify_waiters();
    Ok((load_status(state, &id).await?, false))
}

async fn replay(
    state: &AppState,
    (id, stored_hash): (String, String),
    request_hash: &str,
) -> Result<(NotificationStatus, bool), ApiError> {
    if stored_hash != request_hash {
        return Err(bad(
            "YW-4220",
            "idempotency_key was used for a different notification",
        ));
    }
    Ok((load_status(state, &id).await?, true))
}

async fn by_key(
    state: &AppState,
    sender: &Sender,
    key: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let row = sqlx::query(
        "SELECT id, request_hash FROM notifications WHERE sender = $1 AND idempotency_key = $2",
    )
    .bind(&sender.actor)
    .bind(key)
    .fetch_optional(state.db().pool())
    .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("request_hash")?)))
        .transpose()
}

/// Stores the send, the inbox rows and the outbox rows in one transaction.
impl Send {
    /// A service message to one account with the defaults of `POST
    /// /v1/notifications` (normal priority, TTL one day, now).
    pub(crate) fn to_account(
        network_id: &str,
        template: templates::Template,
        params: BTreeMap<String, String>,
    ) -> Self {
        Send {
            recipient: Recipient::Account(network_id.to_owned()),
            category: template.category,
            template,
            params,
            priority: Priority::Normal,
            ttl_secs: 86_400,
            collapse_key: None,
            not_before_ms: now_ms(),
        }
    }
}

async fn enqueue(
    state: &AppState,
    sender: &Sender,
    id: &str,
    send: &Send,
    idempotency_key: Option<&str>,
    request_hash: &str,
) -> Result<(), ApiError> {
    let mut write = state.db().begin_write().await?;
    match &send.recipient {
        Recipient::Account(network_id) => {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM accounts WHERE network_id = $1")
                    .bind(network_id)
                    .fetch_optional(&mut *write.tx)
                    .await?;
            if known.is_none() {
                return Err(ApiError::not_found("YW-4046", "no account with this 网号"));
            }
            let one = AccountSend {
                id: id.to_owned(),
                network_id: network_id.clone(),
                send: send.clone(),
                idempotency_key: idempotency_key.map(str::to_owned),
                request_hash: request_hash.to_owned(),
            };
            enqueue_accounts(&mut write.tx, &state.config().push, &sender.actor, &[one]).await?;
        }
        Recipient::Segment(_) => {
            enqueue_segment(
                &mut write.tx,
                &state.config().push,
                &sender.actor,
                id,
                send,
                idempotency_key,
                request_hash,
            )
            .await?;
        }
    }
    write.tx.commit().await?;
    Ok(())
}

/// Whether a recipient is pushed, decided in SQL: over the daily cap →
/// `capped`; no device → `no_device`; no device that takes the category →
/// `opted_out`; else `queued`. Its parameters, from `$first`: the time a day
/// ago (ms), the cap, the opt-out `LIKE` pattern of the category.
fn push_state(first: usize) -> String {
    let (day_ago, cap, pattern) = (first, first + 1, first + 2);
    format!(
        "CASE \
         WHEN (SELECT COUNT(*) FROM inbox c WHERE c.network_id = a.network_id AND c.created_ms > ${day_ago} \
               AND c.push = 'queued' AND c.category IN ('service', 'campaign')) >= ${cap} THEN 'capped' \
         WHEN NOT EXISTS (SELECT 1 FROM push_devices d WHERE d.network_id = a.network_id) THEN 'no_device' \
         WHEN NOT EXISTS (SELECT 1 FROM push_devices d WHERE d.network_id = a.network_id \
               AND d.opted_out NOT LIKE ${pattern}) THEN 'opted_out' \
         ELSE 'queued' END"
    )
}

/// The accounts of a segment (alias `a`): region prefix and birth-date bounds.
struct SegmentFilter {
    prefix: String,
    ages: bool,
    after: i64,
    latest: i64,
}

impl SegmentFilter {
    fn of(segment: &Segment) -> Self {
        let (after, latest) = birth_bounds(
            today_in_china(),
            segment.age_min.unwrap_or(0),
            segment.age_max.unwrap_or(150),
        );
        SegmentFilter {
            prefix: format!("{}%", segment.region_prefix.as_deref().unwrap_or("")),
            ages: segment.age_min.is_some() || segment.age_max.is_some(),
            after,
            latest,
        }
    }

    /// The condition, its four parameters from `$first` (bound by [`Self::bind`]).
    fn sql(&self, first: usize) -> String {
        let [a, b, c, d] = [first, first + 1, first + 2, first + 3];
        let ages = if self.ages {
            format!("AND a.birth_date > ${c} AND a.birth_date <= ${d}")
        } else {
            format!("AND ${c} <= ${d}")
        };
        format!("(${a} = '%' OR a.region_code LIKE ${b}) {ages}")
    }

    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        query
            .bind(&self.prefix)
            .bind(&self.prefix)
            .bind(self.after)
            .bind(self.latest)
    }
}

/// How many of a segment a campaign would reach, decided as sending would.
#[derive(Debug, Default)]
pub struct SegmentPreview {
    pub recipients: i64,
    pub pushed: i64,
    pub capped: i64,
    pub opted_out: i64,
    pub no_device: i64,
    /// Devices that would get a push.
    pub devices: i64,
}

/// [`SegmentPreview`] of a validated campaign send, as of now.
pub(crate) async fn preview_segment(
    state: &AppState,
    send: &Send,
) -> Result<SegmentPreview, ApiError> {
    let Recipient::Segment(segment) = &send.recipient else {
        return Err(ApiError::internal("a preview of an account send"));
    };
    let filter = SegmentFilter::of(segment);
    let cap = match send.category {
        Category::Service | Category::Campaign => i64::from(state.config().push.daily_cap),
        _ => i64::MAX,
    };
    let pattern = format!("%,{},%", send.category.as_str());
    let sql = format!(
        "SELECT s, COUNT(*) AS n FROM (SELECT {} AS s FROM accounts a WHERE {}) t GROUP BY s",
        push_state(1),
        filter.sql(4)
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now_ms() - 86_400_000)
        .bind(cap)
        .bind(&pattern);
    let mut preview = SegmentPreview::default();
    for row in filter.bind(query).fetch_all(state.db().pool()).await? {
        let n: i64 = row.try_get("n")?;
        preview.recipients += n;
        match row.try_get::<String, _>("s")?.as_str() {
            "queued" => preview.pushed += n,
            "capped" => preview.capped += n,
            "opted_out" => preview.opted_out += n,
            _ => preview.no_device += n,
        }
    }
    let devices_sql = format!(
        "SELECT COUNT(*) FROM push_devices d JOIN accounts a ON a.network_id = d.network_id \
         WHERE d.opted_out NOT LIKE $1 AND {} AND {} = 'queued'",
        filter.sql(2),
        push_state(6)
    );
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(devices_sql)).bind(&pattern);
    let query = query
        .bind(&filter.prefix)
        .bind(&filter.prefix)
        .bind(filter.after)
        .bind(filter.latest)
        .bind(now_ms() - 86_400_000)
        .bind(cap)
        .bind(&pattern);
    preview.devices = query.fetch_one(state.db().pool()).await?;
    Ok(preview)
}

/// Stores a send to a segment in `tx`, set-wise (a campaign may reach
/// millions): the notification, each recipient's inbox row with the cap
/// and opt-outs decided in SQL, an outbox row per device to push.
async fn enqueue_segment(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    settings: &crate::config::PushSettings,
    actor: &str,
    id: &str,
    send: &Send,
    idempotency_key: Option<&str>,
    request_hash: &str,
) -> Result<(), ApiError> {
    let now = now_ms();
    let retry_for_ms = i64::from(send.ttl_secs).min(settings.retry_max_age_secs as i64) * 1000;
    let expires_ms = send.not_before_ms + retry_for_ms;
    let capped = matches!(send.category, Category::Service | Category::Campaign);
    let cap = if capped {
        i64::from(settings.daily_cap)
    } else {
        i64::MAX
    };
    let day_ago = now - 86_400_000;
    let opted_out_pattern = format!("%,{},%", send.category.as_str());
    let recipient_text = serde_json::to_string(&send.recipient).map_err(ApiError::internal)?;
    let params = serde_json::to_string(&send.params).map_err(ApiError::internal)?;

    sqlx::query(
        "INSERT INTO notifications (id, sender, idempotency_key, request_hash, recipient, template_id, \
         template_version, params, category, priority, ttl_secs, collapse_key, not_before_ms, created_ms, recipients) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)",
    )
    .bind(id)
    .bind(actor)
    .bind(idempotency_key)
    .bind(request_hash)
    .bind(&recipient_text)
    .bind(&send.template.id)
    .bind(send.template.version)
    .bind(&params)
    .bind(send.category.as_str())
    .bind(match send.priority {
        Priority::High => "high",
        Priority::Normal => "normal",
    })
    .bind(i64::from(send.ttl_secs))
    .bind(send.collapse_key.as_deref())
    .bind(send.not_before_ms)
    .bind(now)
    .execute(&mut **tx)
    .await?;

    // Which citizens, and whether each is pushed: over the cap → capped; no
    // device that takes this category → opted_out or no_device.
    let push_state = push_state(4);
    let recipients = match &send.recipient {
        Recipient::Account(_) => {
            return Err(ApiError::internal("an account send on the segment path"));
        }
        Recipient::Segment(segment) => {
            let filter = SegmentFilter::of(segment);
            let sql = format!(
                "INSERT INTO inbox (notification_id, network_id, category, created_ms, push) \
                 SELECT $1, a.network_id, $2, $3, {push_state} FROM accounts a WHERE {}",
                filter.sql(7)
            );
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(send.category.as_str())
                .bind(now)
                .bind(day_ago)
                .bind(cap)
                .bind(&opted_out_pattern);
            let done = filter.bind(done).execute(&mut **tx).await?;
            done.rows_affected() as i64
        }
    };
    sqlx::query(
        "INSERT INTO push_outbox (notification_id, device_id, provider, status, attempts, due_ms, \
         expires_ms, created_ms) \
         SELECT $1, d.device_id, d.provider, 'queued', 0, $2, $3, $4 \
         FROM inbox i JOIN push_devices d ON d.network_id = i.network_id \
         WHERE i.notification_id = $1 AND i.push = 'queued' AND d.opted_out NOT LIKE $5",
    )
    .bind(id)
    .bind(send.not_before_ms)
    .bind(expires_ms)
    .bind(now)
    .bind(&opted_out_pattern)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE notifications SET recipients = $1 WHERE id = $2")
        .bind(recipients)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let subject = match &send.recipient {
        Recipient::Account(network_id) => Some(network_id.as_str()),
        Recipient::Segment(_) => None,
    };
    audit::record(&mut **tx, actor, "notification.sent", subject).await?;
    Ok(())
}

/// One notification to one account, for [`enqueue_accounts`].
pub(crate) struct AccountSend {
    pub id: String,
    pub network_id: String,
    pub send: Send,
    /// The sender's key (`POST /v1/notifications`), if any.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request, for replays under the key; empty otherwise.
    pub request_hash: String,
}

impl AccountSend {
    /// A server-made notice to `network_id` from `template` (its parameters
    /// checked), with a new id and no idempotency key.
    pub(crate) fn notice(
        network_id: &str,
        template: super::templates::Template,
        params: BTreeMap<String, String>,
    ) -> Result<Self, ApiError> {
        super::templates::check_params(&template, &params)?;
        Ok(Self {
            id: crate::push::new_notification_id()?,
            network_id: network_id.to_owned(),
            send: Send::to_account(network_id, template, params),
            idempotency_key: None,
            request_hash: String::new(),
        })
    }
}

/// Stores sends to single accounts in `tx` with a few statements per
/// [`crate::db::Backend::rows_per_statement`] rows (one from `POST /v1/notifications`, hundreds from the
/// recommendation matcher): the notification, the inbox row, an outbox row
/// per device to push. The daily cap and opt-outs are decided here per citizen,
/// counting the earlier sends of the same batch.
pub(crate) async fn enqueue_accounts(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    settings: &crate::config::PushSettings,
    actor: &str,
    sends: &[AccountSend],
) -> Result<(), ApiError> {
    use crate::db::Params;
    use std::collections::HashMap;
    if sends.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut citizens: Vec<&str> = sends.iter().map(|s| s.network_id.as_str()).collect();
    citizens.sort_unstable();
    citizens.dedup();
    // Pushes counted against the cap in the last 24 h, and each device's opt-outs.
    let mut counted: HashMap<String, i64> = HashMap::new();
    // Per citizen: (device id, provider, opted-out categories) of each device.
    let mut devices: HashMap<String, Vec<(String, String, String)>> = HashMap::new();
    let backend = crate::db::Backend::of(tx);
    for chunk in citizens.chunks(backend.rows_per_statement(1)) {
        let mut params = Params::new(backend);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT network_id, COUNT(*) AS n FROM inbox WHERE created_ms > {} AND push = 'queued' \
             AND category IN ('service', 'campaign') AND network_id IN ({}) GROUP BY network_id",
            params.one(),
            params.list(chunk.len())
        )))
        .bind(now - 86_400_000);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            counted.insert(row.try_get("network_id")?, row.try_get("n")?);
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT network_id, device_id, provider, opted_out FROM push_devices \
             WHERE network_id IN ({})",
            Params::new(backend).list(chunk.len())
        )));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            devices
                .entry(row.try_get("network_id")?)
                .or_default()
                .push((
                    row.try_get("device_id")?,
                    row.try_get("provider")?,
                    row.try_get("opted_out")?,
                ));
        }
    }
    let cap = i64::from(settings.daily_cap);
    let mut states = Vec::with_capacity(sends.len());
    for s in sends {
        let category = s.send.category.as_str();
        let capped = matches!(s.send.category, Category::Service | Category::Campaign);
        let count = counted.entry(s.network_id.clone()).or_default();
        let state = if capped && *count >= cap {
            "capped"
        } else {
            match devices.get(&s.network_id) {
                None => "no_device",
                Some(list)
                    if list
                        .iter()
                        .all(|(_, _, o)| o.contains(&format!(",{category},"))) =>
                {
                    "opted_out"
                }
                Some(_) => "queued",
            }
        };
        if capped && state == "queued" {
            *count += 1;
        }
        states.push(state);
    }
    let max_age = settings.retry_max_age_secs as i64;
    // The notifications insert binds 15 values a row, the most of the four.
    let rows = backend.rows_per_statement(15);
    for (chunk, chunk_states) in sends.chunks(rows).zip(states.chunks(rows)) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO notifications (id, sender, idempotency_key, request_hash, recipient, \
             template_id, template_version, params, category, priority, ttl_secs, collapse_key, \
             not_before_ms, created_ms, recipients) VALUES {}",
            Params::new(backend).rows(chunk.len(), 15)
        )));
        for s in chunk {
            let send = &s.send;
            query = query
                .bind(s.id.as_str())
                .bind(actor)
                .bind(s.idempotency_key.clone())
                .bind(s.request_hash.as_str())
                .bind(serde_json::to_string(&send.recipient).map_err(ApiError::internal)?)
                .bind(send.template.id.as_str())
                .bind(send.template.version)
                .bind(serde_json::to_string(&send.params).map_err(ApiError::internal)?)
                .bind(send.category.as_str())
                .bind(match send.priority {
                    Priority::High => "high",
                    Priority::Normal => "normal",
                })
                .bind(i64::from(send.ttl_secs))
                .bind(send.collapse_key.clone())
                .bind(send.not_before_ms)
                .bind(now)
                .bind(1_i64);
        }
        query.execute(&mut **tx).await?;

        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO inbox (notification_id, network_id, category, created_ms, push) VALUES {}",
            Params::new(backend).rows(chunk.len(), 5)
        )));
        for (s, state) in chunk.iter().zip(chunk_states) {
            query = query
                .bind(s.id.as_str())
                .bind(s.network_id.as_str())
                .bind(s.send.category.as_str())
                .bind(now)
                .bind(*state);
        }
        query.execute(&mut **tx).await?;

        // One outbox row per device that takes the category, from the
        // devices read above (a join back through the new inbox rows made
        // PostgreSQL scan the inbox while its statistics lagged behind).
        let mut outbox: Vec<(&str, &str, &str, i64, i64)> = Vec::new();
        for (s, state) in chunk.iter().zip(chunk_states) {
            if *state != "queued" {
                continue;
            }
            let category = format!(",{},", s.send.category.as_str());
            let due = s.send.not_before_ms;
            let expires = due + 1000 * i64::from(s.send.ttl_secs).min(max_age);
            for (device, provider, opted_out) in devices.get(&s.network_id).into_iter().flatten() {
                if !opted_out.contains(&category) {
                    outbox.push((s.id.as_str(), device, provider, due, expires));
                }
            }
        }
        for rows in outbox.chunks(backend.rows_per_statement(6)) {
            let mut params = Params::new(backend);
            let values: Vec<String> = (0..rows.len())
                .map(|_| format!("({}, 'queued', 0)", params.list(6)))
                .collect();
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO push_outbox (created_ms, notification_id, device_id, provider, \
                 due_ms, expires_ms, status, attempts) VALUES {}",
                values.join(", ")
            )));
            for (id, device, provider, due, expires) in rows {
                query = query
                    .bind(now)
                    .bind(*id)
                    .bind(*device)
                    .bind(*provider)
                    .bind(*due)
                    .bind(*expires);
            }
            query.execute(&mut **tx).await?;
        }
    }
    let subjects: Vec<&str> = sends.iter().map(|s| s.network_id.as_str()).collect();
    audit::record_many(tx, actor, "notification.sent", &subjects).await?;
    Ok(())
}

/// The status of notification `id` (any sender's).
pub async fn load_status(state: &AppState, id: &str) -> Result<NotificationStatus, ApiError> {
    let pool = state.db().pool();
    let row = sqlx::query(
        "SELECT id, category, template_id, template_version, idempotency_key, created_ms, recipients \
         FROM notifications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found("YW-4043", "no such notification"))?;
    let mut pushes = PushCounts::default();
    let mut attempted = false;
    for r in sqlx::query(
        "SELECT status, COUNT(*) AS n, MAX(attempts) AS tried FROM push_outbox \
         WHERE notification_id = $1 GROUP BY status",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    {
        let status: String = r.try_get("status")?;
        let n: i64 = r.try_get("n")?;
        let tried: i64 = r.try_get("tried")?;
        match status.as_str() {
            "queued" => {
                pushes.queued = n;
                attempted |= tried > 0;
            }
            "delivered" => pushes.delivered = n,
            "failed" => pushes.failed = n,
            _ => pushes.suppressed += n,
        }
    }
    let mut inbox = InboxCounts::default();
    for r in sqlx::query(
        "SELECT push, COUNT(*) AS n, COUNT(read_ms) AS n_read, COUNT(opened_ms) AS n_opened \
         FROM inbox WHERE notification_id = $1 GROUP BY push",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    {
        let push: String = r.try_get("push")?;
        let n: i64 = r.try_get("n")?;
        inbox.read += r.try_get::<i64, _>("n_read")?;
        inbox.opened += r.try_get::<i64, _>("n_opened")?;
        match push.as_str() {
            "capped" => inbox.capped = n,
            "opted_out" => inbox.opted_out = n,
            "no_device" => inbox.no_device = n,
            _ => {}
        }
    }
    let failures = sqlx::query(
        "SELECT last_error, COUNT(*) AS n FROM push_outbox WHERE notification_id = $1 \
         AND status IN ('failed', 'suppressed') GROUP BY last_error ORDER BY n DESC, last_error",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(FailureCount {
            reason: r
                .try_get::<Option<String>, _>("last_error")?
                .unwrap_or_default(),
            count: r.try_get("n")?,
        })
    })
    .collect::<Result<Vec<_>, ApiError>>()?;
    let total = pushes.queued + pushes.delivered + pushes.failed + pushes.suppressed;
    let status = if inbox.opened > 0 {
        "opened"
    } else if total == 0 {
        "created"
    } else if pushes.queued > 0 {
        if attempted || pushes.delivered + pushes.failed > 0 {
            "sent"
        } else {
            "queued"
        }
    } else if pushes.delivered > 0 {
        "delivered"
    } else {
        "failed"
    };
    Ok(NotificationStatus {
        id: row.try_get("id")?,
        status: status.to_owned(),
        category: row.try_get("category")?,
        template: row.try_get("template_id")?,
        template_version: row.try_get("template_version")?,
        idempotency_key: row.try_get("idempotency_key")?,
        created_ms: row.try_get("created_ms")?,
        recipients: row.try_get("recipients")?,
        pushes,
        inbox,
        failures,
    })
}

/// Senders see their own notifications; the admin token sees all.
async fn own(state: &AppState, sender: &Sender, id: &str) -> Result<(), ApiError> {
    if sender.actor == "admin" {
        return Ok(());
    }
    let owner: Option<String> =
        sqlx::query_scalar("SELECT sender FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(state.db().pool())
            .await?;
    match owner {
        Some(owner) if owner == sender.actor => Ok(()),
        _ => Err(ApiError::not_found("YW-4043", "no such notification")),
    }
}

/// `GET /v1/notifications/{id}`
#[utoipa::path(get, path = "/v1/notifications/{id}", tag = "push",
    security(("client" = []), ("admin" = [])),
    params(("id" = String, Path, description = "The notification id")),
    responses(
    (status = 200, description = "Its status", body = NotificationStatus),
    (status = 401, description = "YW-4023", body = ErrorBody),
    (status = 404, description = "YW-4043 no such notification (of this sender)", body = ErrorBody)))]
async fn status_by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<NotificationStatus>, ApiError> {
    let sender = clients::authenticate_any(
        &state,
        &headers,
        &["notifications:send", "notifications:campaign"],
    )
    .await?;
    own(&state, &sender, &id).await?;
    Ok(Json(load_status(&state, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    idempotency_key: String,
}

/// `GET /v1/notifications?idempotency_key=…`: the status of this sender's
/// notification sent with that key.
#[utoipa::path(get, path = "/v1/notifications", tag = "push",
    security(("client" = []), ("admin" = [])),
    params(KeyQuery), responses(
    (status = 200, description = "Its status", body = NotificationStatus),
    (status = 400, description = "YW-4006 idempotency_key missing", body = ErrorBody),
    (status = 401, description = "YW-4023", body = ErrorBody),
    (status = 404, description = "YW-4043 nothing sent with this key", body = ErrorBody)))]
async fn status_by_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<NotificationStatus>, ApiError> {
    let sender = clients::authenticate_any(
        &state,
        &headers,
        &["notifications:send", "notifications:campaign"],
    )
    .await?;
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4006",
            "bad query: idempotency_key is required",
        )
    })?;
    let (id, _) = by_key(&state, &sender, &query.idempotency_key)
        .await?
        .ok_or_else(|| ApiError::not_found("YW-4043", "nothing was sent with this key"))?;
    Ok(Json(load_status(&state, &id).await?))
}

#[cfg(test)]
mod tests {
    use super::birth_bounds;

    #[test]
    fn birth_bounds_are_whole_years() {
        // On 2026-11-23, 60 and over: born on or before 1966-11-23.
        let (after, latest) = birth_bounds(20261123, 60, 150);
        assert_eq!(latest, 19661123);
        assert_eq!(after, 18751123);
        // Exactly 18 to 18: born 2007-11-24 .. 2008-11-23.
        let (after, latest) = birth_bounds(20261123, 18, 18);
        assert!(20081123 > after && 20081123 <= latest);
        assert!(20071124 > after && 20071124 <= latest);
        assert!(20071123 <= after, "19 today");
        assert!(20081124 > latest, "17 today");
    }
}
