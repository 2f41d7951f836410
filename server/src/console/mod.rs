//! The web console under `/console`: server-rendered HTML (maud) for the
//! platform's operators, departments, service-window staff and auditors,
//! with a little plain JavaScript as progressive enhancement (every page
//! works without it).
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles
//! only from this origin, nothing inline), `X-Frame-Options: DENY`, `nosniff`,
//! same-origin referrers and `Cache-Control: no-store`. Every form that changes
//! something carries the session's CSRF token, and a cross-origin `Origin`
//! is refused as well. Which role may open which page is [`Role::may`].

mod audit_page;
mod campaigns;
mod catalog;
mod dashboard;
mod session;
mod users;
mod window;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

pub use session::{hash_password, password_matches};
pub use users::router as admin_router;

use crate::AppState;
use crate::error::{ApiError, current_request_id};
use session::Session;

/// What a console user is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs the platform: every page; the only role that edits the catalog
    /// and rules or sends campaigns.
    Operator,
    /// A department: the dashboard, limited to the events it posted.
    Department,
    /// Service-window staff (综合窗口): window verification only.
    Window,
    /// Reads the audit log and the dashboard; changes nothing.
    Auditor,
}

/// The console's pages, for [`Role::may`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Catalog,
    Campaigns,
    Window,
    Audit,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Operator,
        Role::Department,
        Role::Window,
        Role::Auditor,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Department => "department",
            Role::Window => "window",
            Role::Auditor => "auditor",
        }
    }

    fn name_zh(self) -> &'static str {
        match self {
            Role::Operator => "平台运营",
            Role::Department => "部门",
            Role::Window => "窗口人员",
            Role::Auditor => "审计",
        }
    }

    /// Whether this role may open `page`.
    pub fn may(self, page: Page) -> bool {
        match page {
            Page::Dashboard => self != Role::Window,
            Page::Catalog | Page::Campaigns => self == Role::Operator,
            Page::Window => matches!(self, Role::Operator | Role::Window),
            Page::Audit => matches!(self, Role::Operator | Role::Auditor),
        }
    }

    /// The page a user lands on after signing in.
    fn home(self) -> &'static str {
        if self.may(Page::Dashboard) {
            "/console"
        } else {
            "/console/window"
        }
    }
}

/// A console failure, answered as an HTML page with its stable code (or,
/// when signed out, a redirect to the sign-in page).
#[derive(Debug)]
pub enum ConsoleError {
    SignedOut,
    /// YW-4913: the role may not open this page.
    Forbidden,
    /// YW-4911: the form's CSRF token is missing or wrong, or it came from another origin.
    Csrf,
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

impl From<sqlx::Error> for ConsoleError {
    fn from(e: sqlx::Error) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ConsoleError::SignedOut => return Redirect::to("/console/login").into_response(),
            ConsoleError::Forbidden => (
                StatusCode::FORBIDDEN,
                "YW-4913",
                "您的角色无权使用此页面。".to_owned(),
            ),
            ConsoleError::Csrf => (
                StatusCode::FORBIDDEN,
                "YW-4911",
                "表单已失效或来自其他网站，请刷新页面后重试。".to_owned(),
            ),
            ConsoleError::Api(e) => (e.status, e.code, e.message),
        };
        let body = page(
            "出错了",
            None,
            html! {
                div.result.refused role="alert" {
                    h2 { "无法完成" }
                    p { (message) }
                    p.meta { "错误码 " code { (code) } " · 请求 " code { (current_request_id()) } }
                }
            },
        );
        (status, body).into_response()
    }
}

/// A body that is not the expected form: too large is `413` YW-4004; any
/// other cannot carry the CSRF token, so it is refused as a forged form.
fn form_refused(rejection: axum::extract::rejection::FormRejection) -> ConsoleError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ConsoleError::Api(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "YW-4004",
            "提交的内容太大。",
        ))
    } else {
        ConsoleError::Csrf
    }
}

/// Refuses (YW-4913) a user whose role may not open `page`.
fn allow(session: &Session, page: Page) -> Result<(), ConsoleError> {
    if session.user.role.may(page) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden)
    }
}

/// Checks a form's CSRF token against the session's (and refuses another origin).
fn check_csrf(session: &Session, headers: &HeaderMap, token: &str) -> Result<(), ConsoleError> {
    if same_origin(headers) && session::same_secret(token, &session.csrf) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

/// A request without `Origin` (older browsers, curl) passes; one with an
/// `Origin` must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The HTML routes (not in the OpenAPI document: they are pages, not API).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(dashboard::show))
        .route("/console/login", get(users::login_form).post(users::login))
        .route("/console/logout", post(users::logout))
        .route("/console/catalog", get(catalog::list))
        .route(
            "/console/catalog/{code}",
            get(catalog::show).post(catalog::save),
        )
        .route("/console/rules", get(catalog::rules))
        .route("/console/rules/dry-run", post(catalog::dry_run))
        .route("/console/rules/publish", post(catalog::publish))
        .route(
            "/console/campaigns",
            get(campaigns::list).post(campaigns::send),
        )
        .route("/console/campaigns/preview", post(campaigns::preview))
        .route("/console/campaigns/{id}", get(campaigns::status))
        .route(
            "/console/window",
            get(window::form).post(window::verify).layer(
                // A photo of the code is larger than the API's JSON bodies.
                axum::extract::DefaultBodyLimit::max(window::MAX_IMAGE_CHARS + 16 * 1024),
            ),
        )
        .route("/console/audit", get(audit_page::show))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .layer(from_fn(security_headers))
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn stylesheet(State(_): State<AppState>) -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

async fn script(State(_): State<AppState>) -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The page frame: header with the signed-in user's navigation, then `main`.
fn page(title: &str, session: Option<&Session>, main: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 一网通办 运营台" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                a.skip href="#main" { "跳到正文" }
                header.top {
                    span.brand { "一网通办 · 运营台" }
                    @if let Some(session) = session {
                        nav aria-label="主导航" {
                            ul {
                                @for (page, href, label) in [
                                    (Page::Dashboard, "/console", "概览"),
                                    (Page::Catalog, "/console/catalog", "服务事项与规则"),
                                    (Page::Campaigns, "/console/campaigns", "推送活动"),
                                    (Page::Window, "/console/window", "窗口核验"),
                                    (Page::Audit, "/console/audit", "审计日志"),
                                ] {
                                    @if session.user.role.may(page) {
                                        li { a href=(href) { (label) } }
                                    }
                                }
                            }
                        }
                        form.logout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            span.who { (session.user.username) " · " (session.user.role.name_zh()) }
                            button type="submit" { "退出" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (main)
                }
            }
        }
    };
    Html(markup.into_string())
}
