//! Signing in and out of the console, and the admin route that creates
//! console users.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::session::{self, LOGIN_COOKIE, Session, User};
use super::{ConsoleError, Role, page, same_origin};
use crate::AppState;
use crate::admin::require_admin;
use crate::audit;
use crate::auth::random_token;
use crate::error::{ApiError, ErrorBody};
use crate::push::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_console_user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsoleUser {
    /// 3-32 characters of a-z 0-9 . _ -
    username: String,
    /// 12-128 characters.
    password: String,
    /// `operator`, `department`, `window` or `auditor`.
    role: String,
    /// For `department`: the service client whose events the user sees.
    #[serde(default)]
    department: Option<String>,
    /// For `window`: the counter (3-32 of a-z 0-9 -), audience `window:<window_id>`.
    #[serde(default)]
    window_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleUser {
    username: String,
    role: String,
    department: Option<String>,
    window_id: Option<String>,
}

fn short_name(text: &str, extra: &[u8]) -> bool {
    (3..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// `POST /v1/admin/console-users` → 201: a console user (its password stored
/// as PBKDF2-HMAC-SHA256).
#[utoipa::path(post, path = "/v1/admin/console-users", tag = "admin", security(("admin" = [])),
    request_body = NewConsoleUser, responses(
    (status = 201, description = "Created", body = ConsoleUser),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 409, description = "YW-4904 username taken", body = ErrorBody),
    (status = 422, description = "YW-4901 username, YW-4902 password, YW-4903 role or its attribute", body = ErrorBody)))]
async fn create_console_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewConsoleUser>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let Json(body) = body?;
    if !short_name(&body.username, b"._-") {
        return Err(ApiError::unprocessable(
            "YW-4901",
            "username: 3-32 characters of a-z 0-9 . _ -",
        ));
    }
    if !(12..=128).contains(&body.password.chars().count()) {
        return Err(ApiError::unprocessable(
            "YW-4902",
            "password: 12-128 characters",
        ));
    }
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::unprocessable("YW-4903", "role: operator, department, window or auditor")
    })?;
    let department = match (role, body.department) {
        (Role::Department, Some(client)) => {
            let known: Option<String> =
                sqlx::query_scalar("SELECT client_id FROM service_clients WHERE client_id = $1")
                    .bind(&client)
                    .fetch_optional(state.db().pool())
                    .await?;
            if known.is_none() {
                return Err(ApiError::unprocessable(
                    "YW-4903",
                    "department: not a registered service client",
                ));
            }
            Some(client)
        }
        (Role::Department, None) => {
            return Err(ApiError::unprocessable(
                "YW-4903",
                "department: required for the department role (a service client id)",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::unprocessable(
                "YW-4903",
                "department: only for the department role",
            ));
        }
        (_, None) => None,
    };
    let window_id = match (role, body.window_id) {
        (Role::Window, Some(id)) if short_name(&id, b"-") => Some(id),
        (Role::Window, _) => {
            return Err(ApiError::unprocessable(
                "YW-4903",
                "window_id: required for the window role, 3-32 characters of a-z 0-9 -",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::unprocessable(
                "YW-4903",
                "window_id: only for the window role",
            ));
        }
        (_, None) => None,
    };
    let password_hash = session::hash_password(&body.password)?;
    let inserted = sqlx::query(
        "INSERT INTO console_users (username, password_hash, role, department, window_id, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&body.username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(&department)
    .bind(&window_id)
    .bind(now_ms())
    .execute(state.db().pool())
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4904",
            "username taken",
        ));
    }
    audit::record(state.db().pool(), "admin", "console.user.created", None).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConsoleUser {
            username: body.username,
            role: role.as_str().to_owned(),
            department,
            window_id,
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

/// `GET /console/login`: the sign-in form, with a fresh double-submit token.
pub async fn login_form(State(state): State<AppState>) -> Result<Response, ConsoleError> {
    login_page(&state, StatusCode::OK, None)
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, ConsoleError> {
    let token = random_token(24)?;
    let body = page(
        "登录",
        None,
        html! {
            form.card method="post" action="/console/login" {
                @if let Some(error) = error {
                    p.result.refused role="alert" { (error) }
                }
                input type="hidden" name="csrf" value=(token);
                label for="username" { "用户名" }
                input id="username" name="username" autocomplete="username" required autofocus;
                label for="password" { "密码" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "登录" }
            }
        },
    );
    let cookie = session::set_cookie(state, LOGIN_COOKIE, &token, 1800);
    Ok((status, [(header::SET_COOKIE, cookie)], body).into_response())
}

/// `POST /console/login`: checks the double-submit token, then the password.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(super::form_refused)?;
    let cookie = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_origin(&headers) || cookie.is_empty() || !session::same_secret(&form.csrf, &cookie) {
        return Err(ConsoleError::Csrf);
    }
    let Some(user) = session::check_password(&state, form.username.trim(), &form.password).await?
    else {
        audit::record(state.db().pool(), "console", "console.login.failed", None).await?;
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("用户名或密码错误（YW-4910）。"),
        );
    };
    let token = session::start(&state, &user).await?;
    audit::record(state.db().pool(), &user.actor(), "console.login", None).await?;
    landing(&state, &user, &token)
}

fn landing(state: &AppState, user: &User, token: &str) -> Result<Response, ConsoleError> {
    let name = session::session_cookie_name(state);
    let cookies = [
        session::set_cookie(state, &name, token, session::SESSION_COOKIE_SECS),
        session::set_cookie(state, LOGIN_COOKIE, "", 0),
    ];
    let mut response = Redirect::to(user.role.home()).into_response();
    for cookie in cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /console/logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let token = form.map_err(super::form_refused)?.0.csrf;
    super::check_csrf(&session, &headers, &token)?;
    session::end(&state, &session).await?;
    audit::record(
        state.db().pool(),
        &session.user.actor(),
        "console.logout",
        None,
    )
    .await?;
    let cookie = session::set_cookie(&state, &session::session_cookie_name(&state), "", 0);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/console/login"),
    )
        .into_response())
}
