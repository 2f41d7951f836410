//! Push notifications (PRODUCT §3): devices' push tokens, the inbox, the
//! outbox and its dispatcher, and the clients of the push providers.
//!
//! A send (`POST /v1/notifications`) is stored once, lands in each
//! recipient's inbox and, for each of their devices, in the outbox, in one
//! transaction. Dispatchers (any number of processes) lease due outbox rows,
//! honour quiet hours and provider windows, and send through
//! [`providers::Providers`]; the push carries a neutral title and the
//! message id only, and the app reads the content from its inbox.

pub mod devices;
pub mod dispatch;
pub mod inbox;
pub mod providers;
pub mod send;
pub mod templates;

use providers::Category;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A new notification id: `ntf_`, the time in milliseconds as 11 hex digits,
/// then 72 random bits (base64url). Ids made later sort later, so the
/// indexes keyed by notification id grow at one end instead of taking
/// inserts all over (docs/performance.md).
pub(crate) fn new_notification_id() -> Result<String, crate::error::ApiError> {
    Ok(format!(
        "ntf_{:011x}{}",
        now_ms().max(0),
        crate::auth::random_token(9)?
    ))
}

/// A token or other secret as logs may show it: the first 4 characters.
pub(crate) fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…")
}

/// The title and body a push shows on the lock screen: neutral, the same for
/// everyone, naming only the kind of message.
pub fn neutral_text(category: Category, locale: &str) -> (&'static str, &'static str) {
    let english = locale.starts_with("en");
    match (category, english) {
        (Category::Service, false) => ("您有一条新的服务消息", "点击查看详情"),
        (Category::Reminder, false) => ("您有一条新的提醒", "点击查看详情"),
        (Category::ApplicationStatus, false) => ("您的办件进度有更新", "点击查看详情"),
        (Category::Security, false) => ("账号安全提醒", "点击查看详情"),
        (Category::Campaign, false) => ("政务服务通知", "点击查看详情"),
        (Category::Service, true) => ("You have a new service message", "Tap to read it."),
        (Category::Reminder, true) => ("You have a new reminder", "Tap to read it."),
        (Category::ApplicationStatus, true) => {
            ("Your application has an update", "Tap to read it.")
        }
        (Category::Security, true) => ("Account security notice", "Tap to read it."),
        (Category::Campaign, true) => ("Government services notice", "Tap to read it."),
    }
}

/// The router of the push routes.
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    devices::router()
        .merge(inbox::router())
        .merge(send::router())
        .merge(templates::router())
}
