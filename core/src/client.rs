//! The app's client of `yiwang serve` (feature `client`): enrolment, login
//! with the 网证, tokens, devices, scan-to-login, push registration, the
//! inbox, the service catalog, the recommendations, draft sync and
//! applications, against the HTTP contract of docs/formats.md ("HTTP").
//!
//! [`ApiClient`] is async (reqwest on tokio, rustls on aws-lc-rs) and cheap to
//! clone. Each call is one logical operation:
//!
//! - **Retries.** Only calls that are safe to repeat are retried: `GET`s, and
//!   the `POST`/`PUT`/`DELETE` calls that carry an `Idempotency-Key` — every
//!   creating call does (enrol, challenge, login, refresh, approve, refuse,
//!   sign out, push registration and removal, inbox read and opened marks,
//!   dismissing and snoozing recommendations, recommendation settings,
//!   putting and deleting drafts, submissions and supplements),
//!   with one random key per logical call reused by each of its attempts, so
//!   the server replays its first answer instead of acting twice (spending a
//!   refresh token twice would revoke the session). Retried: connection
//!   failures, timeouts, `429` (waiting `Retry-After` seconds, at most
//!   `backoff_max`), `502`/`503`/`504`, and `409` YW-4091 (the same key is
//!   still being processed: the first attempt's answer is on its way). Never
//!   another `4xx`. Between attempts: exponential backoff with full jitter,
//!   `random(0, min(backoff_max, backoff_base × 2^(attempt − 1)))`.
//! - **Errors** are [`ClientError`]s with stable codes: the server's own
//!   (`YW-4013`, `YW-1405`, …) when it answered with one, `YW-18xx` for the
//!   client's failures. No message carries a token or personal data, and the
//!   token-bearing types mask them in `Debug`.
//! - **Scan-to-login.** [`ApiClient::login_session`] takes the
//!   [`LoginRequest`] that [`crate::scan::classify`] read from the website's
//!   QR code and refuses it with [`ClientError::ForeignServer`] unless it
//!   names this client's server: a QR code of another server never receives
//!   our tokens.
//! - **Push.** [`ApiClient::register_push`] stores this device's push token
//!   and preferences; a push carries only the inbox message's id (its
//!   `message_id`): on a tap the app calls [`ApiClient::mark_opened`] with it
//!   and reads the text with [`ApiClient::inbox`].
//! - **Catalog.** [`ApiClient::matters`] browses and searches the matters
//!   (事项), [`ApiClient::life_events`] lists the groups they fall in, and
//!   [`ApiClient::matter`] reads one with its form, which
//!   [`Matter::form_schema`] loads for a [`crate::forms::Draft`]. Public
//!   routes: no token.
//! - **Recommendations.** [`ApiClient::recommendations`] reads the feed of
//!   offers the server's rules made from life events (and, with the
//!   citizen's consent, from the profile), highest priority first; the app
//!   dismisses or snoozes them, and [`ApiClient::set_recommendation_settings`]
//!   gives or withdraws that consent and opts life events out.
//! - **Drafts and applications.** [`ApiClient::sync_draft`] keeps a
//!   [`crate::forms::Draft`] in step across the citizen's devices (a
//!   conditional `PUT` with the version last synced, the server's merge, or
//!   a local merge that returns the conflicts for the citizen to resolve);
//!   [`ApiClient::draft`] and [`RemoteDraft::into_draft`] bring a draft onto
//!   another device. [`ApiClient::submit`] sends [`Draft::submission`]'s
//!   payload and answers the [`Application`] (办件) with its receipt number;
//!   [`ApiClient::application`] follows its status and history, and
//!   [`ApiClient::supplement`] answers a department's request for more.
//!
//! The app makes presentations with the credential API:
//! [`Challenge::presentation_request`] and
//! [`LoginSessionInfo::presentation_request`] say what to present, and
//! [`crate::credential::HolderCredential::present`] signs it.

mod error;
mod types;

use std::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{ClientError, NO_ERROR_BODY};
pub use types::{
    ApnsEnvironment, Application, ApplicationPage, ApplicationStatus, Challenge, Department,
    Device, DraftConflict, DraftPut, DraftSummary, DraftSync, DraftUpload, Enrolment,
    EnrolmentRequest, FieldConflict, InboxMessage, InboxPage, InboxQuery, IssuerInfo, LicenceSync,
    LicenceUse, LifeEvent, LoginSessionInfo, LoginSessionStatus, Matter, MatterPage, MatterQuery,
    MatterSummary, Me, PushProvider, PushRegistration, PushRegistrationRequest, QuietHours,
    Recommendation, RecommendationSettings, RelyingParty, RemoteDraft, ServerProblem, StatusChange,
    SyncedLicence, Tokens,
};

use crate::credential::HolderCredential;
use crate::crypto::random_bytes;
use crate::forms::{Draft, Submission, is_matter_code};
use crate::scan::LoginRequest;
use types::{
    ApproveBody, AuthorisationBody, DevicesWire, DraftsWire, EnrolmentWire, ErrorWire,
    LicenceSyncBody, LicenceSyncWire, LicenceUsesWire, LoginBody, ProblemsWire,
    RecommendationsWire, RefreshBody, SnoozeBody, StatusWire,
};

/// Default time for one attempt (connection, request and answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of attempts of a retryable call.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// Default first backoff step.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Default longest wait between two attempts.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Largest answer body read; a longer one is a protocol error.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The header that makes a creating call safe to repeat.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Most attempts a configuration may ask for.
const MAX_ATTEMPTS_LIMIT: u32 = 10;
/// Longest id accepted as a path segment.
const MAX_ID_LEN: usize = 128;
/// The code of `404` on `GET /v1/me/push`: this device has no registration.
const NO_PUSH_REGISTRATION: &str = "YW-4044";
/// Days a recommendation may be snoozed for (the server's range).
const SNOOZE_DAYS: std::ops::RangeInclusive<u32> = 1..=90;
/// The code of `409` on `PUT /v1/drafts/{id}`: another device changed the
/// same fields (the body carries what to merge).
const DRAFT_CONFLICT: &str = "YW-4096";
/// The code of `412` on `PUT /v1/drafts/{id}`: the `If-Match` version is
/// not kept (or `If-None-Match: *` on an existing draft).
const DRAFT_STALE: &str = "YW-4120";
/// The code of `422` on `POST /v1/applications`: the submission fails the
/// form's checks (the body carries the problems).
const SUBMISSION_INVALID: &str = "YW-4732";
/// Rounds of `PUT`, `412`, fetch and merge one sync makes before giving up
/// (each round needs another device to save in between).
const SYNC_ROUNDS: u32 = 3;

/// How to reach the server and how patiently.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `https://…`, or `http://` on loopback only (`127.0.0.1`, `localhost`,
    /// `[::1]`) for development and tests. A path prefix is kept.
    pub base_url: String,
    /// Time for one attempt, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Attempts of a retryable call, the first included (1 to 10).
    pub max_attempts: u32,
    /// First backoff step; doubled at each attempt.
    pub backoff_base: Duration,
    /// Longest wait between attempts (`Retry-After` included).
    pub backoff_max: Duration,
    /// The `User-Agent` header (default `yiwang-core/<version>`).
    pub user_agent: String,
    /// PEM certificates that are the only roots trusted for this server:
    /// pinning the platform's CA, as a government app should. Without them
    /// the operating system's roots are used through
    /// rustls-platform-verifier, which on Android the app must initialise
    /// first (its Kotlin component); with them, no platform verifier is involved.
    pub trusted_roots_pem: Option<String>,
}

impl ClientConfig {
    /// The defaults (10 s, 4 attempts, 200 ms doubling up to 5 s) for `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            user_agent: concat!("yiwang-core/", env!("CARGO_PKG_VERSION")).to_owned(),
            trusted_roots_pem: None,
        }
    }
}

/// The client of one `yiwang serve`. Clones share the connection pool.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    /// `config.base_url`, parsed and checked; its path has no trailing `/`.
    base: Url,
    config: ClientConfig,
}

impl ApiClient {
    /// Checks `config` and builds the client (no connection is made yet).
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let base = parse_server_url(&config.base_url)?;
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&config.max_attempts) {
            return Err(ClientError::InvalidConfig("max_attempts must be 1 to 10"));
        }
        if config.timeout.is_zero() {
            return Err(ClientError::InvalidConfig("timeout must not be zero"));
        }
        if config.backoff_base > config.backoff_max {
            return Err(ClientError::InvalidConfig(
                "backoff_base must not exceed backoff_max",
            ));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            // A redirect would send the bearer token somewhere the caller did
            // not name; the API never redirects.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &config.trusted_roots_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .ok()
                .filter(|roots| !roots.is_empty())
                .ok_or(ClientError::InvalidConfig(
                    "trusted_roots_pem holds no usable PEM certificate",
                ))?;
            builder = builder.tls_certs_only(roots);
        }
        if is_loopback(&base) {
            // Development and tests: never through a proxy from the environment.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|_| ClientError::InvalidConfig("the HTTP client could not be built"))?;
        Ok(Self { http, base, config })
    }

    /// The server's base URL, as configured.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `POST /v1/enrolments`: issues the 网证 for this phone's device key
    /// (a re-enrolment revokes the previous phone's copy).
    pub async fn enrol(&self, request: &EnrolmentRequest) -> Result<Enrolment, ClientError> {
        let call = Call::creating(Method::POST, &["v1", "enrolments"], &request.to_wire())?;
        let wire: EnrolmentWire = self.json(call, "enrolment").await?;
        let bytes = Base64::decode_vec(&wire.credential)
            .map_err(|_| protocol("enrolment", "credential is not Base64"))?;
        let credential = HolderCredential::from_bytes(&bytes)
            .map_err(|_| protocol("enrolment", "credential is not a holder file"))?;
        Ok(Enrolment {
            network_id: wire.network_id,
            generation: wire.generation,
            status_index: wire.status_index,
            revoked_previous: wire.revoked_previous,
            not_before: wire.not_before,
            expires: wire.expires,
            credential,
        })
    }

    /// `GET /v1/issuer`.
    pub async fn issuer(&self) -> Result<IssuerInfo, ClientError> {
        self.json(Call::get(&["v1", "issuer"]), "issuer").await
    }

    /// `GET /v1/status-lists/{kid}`: the signed status list (COSE), for
    /// [`crate::credential::VerifiedStatusList::verify`].
    pub async fn status_list(&self, kid: &str) -> Result<Vec<u8>, ClientError> {
        let kid = path_id(kid, "kid")?;
        Ok(self
            .send(Call::get(&["v1", "status-lists", kid]))
            .await?
            .body)
    }

    /// `POST /v1/auth/challenge`: a one-use login challenge.
    pub async fn challenge(&self) -> Result<Challenge, ClientError> {
        let call = Call::creating_empty(Method::POST, &["v1", "auth", "challenge"])?;
        self.json(call, "challenge").await
    }

    /// `POST /v1/auth/login` with a presentation made for `nonce` (see
    /// [`Challenge::presentation_request`]); `device_name` (at most 64
    /// characters) names this phone in the device list.
    pub async fn login(
        &self,
        presentation: &str,
        nonce: &str,
        device_name: Option<&str>,
    ) -> Result<Tokens, ClientError> {
        let body = LoginBody {
            presentation,
            nonce,
            device_name,
        };
        let call = Call::creating(Method::POST, &["v1", "auth", "login"], &body)?;
        self.json(call, "login").await
    }

    /// `POST /v1/auth/refresh`: spends `refresh_token` for a new pair. Safe to
    /// retry: the server replays the first answer for the call's key.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ClientError> {
        let body = RefreshBody { refresh_token };
        let call = Call::creating(Method::POST, &["v1", "auth", "refresh"], &body)?;
        self.json(call, "refresh").await
    }

    /// `GET /v1/me`.
    pub async fn me(&self, access_token: &str) -> Result<Me, ClientError> {
        self.json(Call::get(&["v1", "me"]).bearer(access_token), "me")
            .await
    }

    /// `GET /v1/me/devices`: the account's signed-in devices.
    pub async fn devices(&self, access_token: &str) -> Result<Vec<Device>, ClientError> {
        let call = Call::get(&["v1", "me", "devices"]).bearer(access_token);
        let wire: DevicesWire = self.json(call, "devices").await?;
        Ok(wire.devices)
    }

    /// `DELETE /v1/me/devices/{device_id}`: signs that device out (this one
    /// too, when it is the current device).
    pub async fn sign_out_device(
        &self,
        access_token: &str,
        device_id: &str,
    ) -> Result<(), ClientError> {
        let device_id = path_id(device_id, "device_id")?;
        let call = Call::creating_empty(Method::DELETE, &["v1", "me", "devices", device_id])?
            .bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// `GET /v1/login-sessions/{id}` for a scanned scan-to-login request:
    /// refused with [`ClientError::ForeignServer`] unless the request names
    /// this client's server.
    pub async fn login_session(
        &self,
        request: &LoginRequest,
    ) -> Result<LoginSessionInfo, ClientError> {
        if !self.is_own_server(&request.server) {
            return Err(ClientError::ForeignServer);
        }
        let session = path_id(&request.session, "session")?;
        self.json(
            Call::get(&["v1", "login-sessions", session]),
            "login session",
        )
        .await
    }

    /// `POST /v1/login-sessions/{id}/approve` with a presentation made for the
    /// session ([`LoginSessionInfo::presentation_request`]).
    pub async fn approve_login(
        &self,
        access_token: &str,
        session_id: &str,
        presentation: &str,
    ) -> Result<LoginSessionStatus, ClientError> {
        let session = path_id(session_id, "session_id")?;
        let body = ApproveBody { presentation };
        let call = Call::creating(
            Method::POST,
            &["v1", "login-sessions", session, "approve"],
            &body,
        )?
        .bearer(access_token);
        let wire: StatusWire = self.json(call, "approve").await?;
        Ok(wire.status)
    }

    /// `POST /v1/login-sessions/{id}/refuse`.
    pub async fn refuse_login(
        &self,
        access_token: &str,
        session_id: &str,
    ) -> Result<LoginSessionStatus, ClientError> {
        let session = path_id(session_id, "session_id")?;
        let call =
            Call::creating_empty(Method::POST, &["v1", "login-sessions", session, "refuse"])?
                .bearer(access_token);
        let wire: StatusWire = self.json(call, "refuse").await?;
        Ok(wire.status)
    }

    /// `PUT /v1/me/push`: registers this device's push token and preferences,
    /// replacing its previous registration (a token another device held
    /// leaves that device). Safe to retry: the call carries an idempotency key.
    pub async fn register_push(
        &self,
        access_token: &str,
        request: &PushRegistrationRequest,
    ) -> Result<PushRegistration, ClientError> {
        let call =
            Call::creating(Method::PUT, &["v1", "me", "push"], request)?.bearer(access_token);
        self.json(call, "push registration").await
    }

    /// `GET /v1/me/push`: this device's registration, or `None` when it has
    /// none (`404` YW-4044: never registered, unregistered, or its token
    /// moved to another device).
    pub async fn push_registration(
        &self,
        access_token: &str,
    ) -> Result<Option<PushRegistration>, ClientError> {
        let call = Call::get(&["v1", "me", "push"]).bearer(access_token);
        match self.json(call, "push registration").await {
            Ok(registration) => Ok(Some(registration)),
            Err(ClientError::Rejected {
                status: 404, code, ..
            }) if code == NO_PUSH_REGISTRATION => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /v1/me/push`: no more pushes to this device (its inbox stays).
    /// Done when there was no registration too.
    pub async fn unregister_push(&self, access_token: &str) -> Result<(), ClientError> {
        let call =
            Call::creating_empty(Method::DELETE, &["v1", "me", "push"])?.bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// `GET /v1/inbox`: a page of the citizen's messages, newest first, and
    /// the unread count; [`InboxPage::next_before`] pages on.
    pub async fn inbox(
        &self,
        access_token: &str,
        query: &InboxQuery,
    ) -> Result<InboxPage, ClientError> {
        let call = Call::get(&["v1", "inbox"])
            .query(query.pairs())
            .bearer(access_token);
        self.json(call, "inbox").await
    }

    /// `POST /v1/inbox/{id}/read`: marks a message read (the first time is
    /// kept). Not in this inbox: `404` YW-4045.
    pub async fn mark_read(&self, access_token: &str, message_id: &str) -> Result<(), ClientError> {
        self.mark(access_token, message_id, "read").await
    }

    /// `POST /v1/inbox/{id}/opened`: the citizen tapped the push carrying
    /// `message_id` (the opened receipt; also marks it read; the first time
    /// is kept). Not in this inbox: `404` YW-4045.
    pub async fn mark_opened(
        &self,
        access_token: &str,
        message_id: &str,
    ) -> Result<(), ClientError> {
        self.mark(access_token, message_id, "opened").await
    }

    async fn mark(
        &self,
        access_token: &str,
        message_id: &str,
        mark: &'static str,
    ) -> Result<(), ClientError> {
        let id = path_id(message_id, "message_id")?;
        let call =
            Call::creating_empty(Method::POST, &["v1", "inbox", id, mark])?.bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// `GET /v1/matters`: a page of the service catalog's current, unretired
    /// matters in code order, filtered by `query`; [`MatterPage::next_cursor`]
    /// pages on. Public: no token. A bad parameter: `422` YW-4709.
    pub async fn matters(&self, query: &MatterQuery) -> Result<MatterPage, ClientError> {
        let call = Call::get(&["v1", "matters"]).query(query.pairs());
        self.json(call, "matters").await
    }

    /// `GET /v1/matters/{code}`: the whole matter with its form, at `version`
    /// (unset: the current one), retired or not, so a draft can load the
    /// form version it was made with. Public: no token. A `code` that is not
    /// 1-64 characters of `A-Z 0-9 -` is refused before sending; an unknown
    /// matter or version is `404` YW-4048.
    pub async fn matter(&self, code: &str, version: Option<u32>) -> Result<Matter, ClientError> {
        if !is_matter_code(code) {
            return Err(ClientError::InvalidArgument("code"));
        }
        let query = version.map(|v| ("version", v.to_string())).into_iter();
        let call = Call::get(&["v1", "matters", code]).query(query.collect());
        self.json(call, "matter").await
    }

    /// `GET /v1/life-events`: the life events matters are grouped by, in
    /// display order. Public: no token.
    pub async fn life_events(&self) -> Result<Vec<LifeEvent>, ClientError> {
        self.json(Call::get(&["v1", "life-events"]), "life events")
            .await
    }

    /// `GET /v1/recommendations`: the citizen's active, not snoozed
    /// recommendations, highest priority first, then newest; `limit` 1 to
    /// 100 (unset: the server's 20). A bad limit: `422` YW-4721.
    pub async fn recommendations(
        &self,
        access_token: &str,
        limit: Option<u32>,
    ) -> Result<Vec<Recommendation>, ClientError> {
        let query = limit.map(|n| ("limit", n.to_string())).into_iter();
        let call = Call::get(&["v1", "recommendations"])
            .query(query.collect())
            .bearer(access_token);
        let wire: RecommendationsWire = self.json(call, "recommendations").await?;
        Ok(wire.recommendations)
    }

    /// `POST /v1/recommendations/{id}/dismiss`: out of the feed for good
    /// (done when it already was). Not in this feed: `404` YW-4049.
    pub async fn dismiss_recommendation(
        &self,
        access_token: &str,
        id: i64,
    ) -> Result<(), ClientError> {
        let id = id.to_string();
        let call = Call::creating_empty(Method::POST, &["v1", "recommendations", &id, "dismiss"])?
            .bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// `POST /v1/recommendations/{id}/snooze`: out of the feed for `days`
    /// (1 to 90, else refused before sending). Not in this feed: `404`
    /// YW-4049.
    pub async fn snooze_recommendation(
        &self,
        access_token: &str,
        id: i64,
        days: u32,
    ) -> Result<(), ClientError> {
        if !SNOOZE_DAYS.contains(&days) {
            return Err(ClientError::InvalidArgument("days"));
        }
        let id = id.to_string();
        let path = ["v1", "recommendations", &id, "snooze"];
        let call = Call::creating(Method::POST, &path, &SnoozeBody { days })?.bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// `GET /v1/me/recommendation-settings`: the citizen's consent to profile
    /// matching (none until given) and opted-out life events.
    pub async fn recommendation_settings(
        &self,
        access_token: &str,
    ) -> Result<RecommendationSettings, ClientError> {
        let call = Call::get(&["v1", "me", "recommendation-settings"]).bearer(access_token);
        self.json(call, "recommendation settings").await
    }

    /// `PUT /v1/me/recommendation-settings`: stores `settings` whole and
    /// answers them as stored (opt-outs without repeats; the time consent
    /// last changed). Giving or withdrawing consent is audited by the
    /// server. A life event it does not know: `422` YW-4722.
    pub async fn set_recommendation_settings(
        &self,
        access_token: &str,
        settings: &RecommendationSettings,
    ) -> Result<RecommendationSettings, ClientError> {
        let call = Call::creating(
            Method::PUT,
            &["v1", "me", "recommendation-settings"],
            settings,
        )?
        .bearer(access_token);
        self.json(call, "recommendation settings").await
    }

    /// `PUT /v1/drafts/{id}`: stores `draft` as the next version of draft
    /// `id` on the server. `if_match` is the version this device last synced
    /// (`If-Match: "<n>"`); `None` creates the draft (`If-None-Match: *`).
    /// A stale version is merged by the server (no conflicts: stored,
    /// [`RemoteDraft::merged`]); conflicting fields answer `409` YW-4096,
    /// returned as [`DraftPut::Conflict`] with what to merge. A version the
    /// server no longer keeps, or creating an existing draft: `412` YW-4120
    /// ([`ApiClient::sync_draft`] handles both). A body that does not fit the
    /// matter's form: `422` YW-4731. Safe to retry (idempotency key).
    pub async fn put_draft(
        &self,
        access_token: &str,
        id: &str,
        draft: &DraftUpload,
        if_match: Option<u32>,
    ) -> Result<DraftPut, ClientError> {
        let id = draft_id(id)?;
        let condition = match if_match {
            Some(version) => ("If-Match", format!("\"{version}\"")),
            None => ("If-None-Match", "*".to_owned()),
        };
        let mut call = Call::creating(Method::PUT, &["v1", "drafts", id], draft)?
            .bearer(access_token)
            .header(condition.0, condition.1);
        call.answer_codes = &[DRAFT_CONFLICT];
        let answer = self.send(call).await?;
        if answer.status.is_success() {
            Ok(DraftPut::Stored(parse(&answer.body, "draft")?))
        } else {
            Ok(DraftPut::Conflict(parse(&answer.body, "draft conflict")?))
        }
    }

    /// `GET /v1/drafts/{id}`: the draft as the server stores it
    /// ([`RemoteDraft::into_draft`] makes it this device's). Not this
    /// citizen's: `404` YW-4050.
    pub async fn draft(&self, access_token: &str, id: &str) -> Result<RemoteDraft, ClientError> {
        let id = draft_id(id)?;
        let call = Call::get(&["v1", "drafts", id]).bearer(access_token);
        self.json(call, "draft").await
    }

    /// `GET /v1/drafts`: the citizen's drafts on the server, most recently
    /// saved first.
    pub async fn drafts(&self, access_token: &str) -> Result<Vec<DraftSummary>, ClientError> {
        let call = Call::get(&["v1", "drafts"]).bearer(access_token);
        let wire: DraftsWire = self.json(call, "drafts").await?;
        Ok(wire.drafts)
    }

    /// `DELETE /v1/drafts/{id}`: removes the draft from the server (every
    /// device's copy stays on that device). Unknown: `404` YW-4050.
    pub async fn delete_draft(&self, access_token: &str, id: &str) -> Result<(), ClientError> {
        let id = draft_id(id)?;
        let call =
            Call::creating_empty(Method::DELETE, &["v1", "drafts", id])?.bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// Syncs `draft` with the server, the whole protocol of docs/formats.md
    /// ("Drafts and applications"): `PUT` with `If-Match` its
    /// [`Draft::synced_version`] (`If-None-Match: *` when never synced).
    ///
    /// - Stored: the draft is synced at the new version; when the server
    ///   merged another device's changes in, the draft takes the server's
    ///   values (a new revision).
    /// - `409` YW-4096: the draft merges the server's values from the base
    ///   the server sent ([`Draft::merge_remote_version`]: this device's
    ///   value is kept for each conflict), is synced at the server's
    ///   version, and the conflicts are returned: nothing is stored until the
    ///   citizen has chosen and the app syncs again.
    /// - `412` YW-4120 (the server no longer keeps the synced version, or
    ///   the draft exists already): the draft is fetched and merged with an
    ///   empty base, so every field both sides set differently is a
    ///   conflict; without conflicts the merged draft is put again.
    ///
    /// With no conflicts in the answer, the server stores the draft's
    /// values as [`DraftSync::version`]. A draft deleted on the server (or
    /// submitted from another device) is `404` YW-4050; one moved to another
    /// form version on another device stays `412` YW-4120 (fetch it).
    pub async fn sync_draft(
        &self,
        access_token: &str,
        draft: &mut Draft,
        now: i64,
    ) -> Result<DraftSync, ClientError> {
        let mut merged = false;
        let mut round = 1;
        loop {
            let synced = draft.synced_version();
            let if_match = (synced > 0).then_some(synced);
            let upload = DraftUpload::of(draft);
            let stale = match self
                .put_draft(access_token, draft.id(), &upload, if_match)
                .await
            {
                Ok(DraftPut::Stored(remote)) => {
                    let version = remote.version;
                    if remote.merged {
                        draft.adopt_remote(remote.values, remote.government, version, now);
                    } else {
                        draft.set_synced_version(version);
                    }
                    return Ok(DraftSync {
                        version,
                        merged: merged || remote.merged,
                        conflicts: Vec::new(),
                    });
                }
                Ok(DraftPut::Conflict(conflict)) => {
                    let conflicts = draft.merge_remote_version(
                        &conflict.base_values,
                        &conflict.values,
                        conflict.government,
                        conflict.version,
                        now,
                    );
                    return Ok(DraftSync {
                        version: conflict.version,
                        merged: true,
                        conflicts,
                    });
                }
                Err(ClientError::Rejected {
                    status: 412, code, ..
                }) if code == DRAFT_STALE => code,
                Err(e) => return Err(e),
            };
            let remote = self.draft(access_token, draft.id()).await?;
            if remote.matter_code != draft.matter_code()
                || remote.schema_version != draft.schema_version()
            {
                // Moved to another form version on another device: values of
                // two forms do not merge field by field.
                return Err(ClientError::Rejected {
                    status: 412,
                    code: stale,
                    message: "the draft on the server is of another form version".to_owned(),
                });
            }
            let conflicts = draft.merge_remote_version(
                &std::collections::BTreeMap::new(),
                &remote.values,
                remote.government,
                remote.version,
                now,
            );
            merged = true;
            if !conflicts.is_empty() {
                return Ok(DraftSync {
                    version: remote.version,
                    merged,
                    conflicts,
                });
            }
            if round >= SYNC_ROUNDS {
                // Another device keeps saving in between: report it as it is.
                return Err(ClientError::Rejected {
                    status: 412,
                    code: stale,
                    message: "the draft keeps changing on another device".to_owned(),
                });
            }
            round += 1;
        }
    }

    /// `POST /v1/applications`: submits a validated draft
    /// ([`Draft::submission`]); the answer is the application with its
    /// receipt number. The server checks it again against the matter's form
    /// (`422` YW-4732: [`ClientError::InvalidSubmission`] with the
    /// problems); the draft id is its idempotency key too, so the same
    /// submission again answers the same application, and other content for
    /// a submitted draft is `409` YW-4098. The server deletes its copy of
    /// the draft. Safe to retry (idempotency key).
    pub async fn submit(
        &self,
        access_token: &str,
        submission: &Submission,
    ) -> Result<Application, ClientError> {
        draft_id(&submission.draft_id)?;
        let call =
            Call::creating(Method::POST, &["v1", "applications"], submission)?.bearer(access_token);
        self.json(call, "application").await
    }

    /// `GET /v1/applications`: a page of the citizen's applications
    /// (summaries: no values, references or history), newest first; `limit`
    /// 1 to 100 (unset: the server's 20), `before` the previous page's
    /// [`ApplicationPage::next_before`]. A bad parameter: `422` YW-4730.
    pub async fn applications(
        &self,
        access_token: &str,
        limit: Option<u32>,
        before: Option<&str>,
    ) -> Result<ApplicationPage, ClientError> {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(before) = before {
            query.push(("before", path_id(before, "before")?.to_owned()));
        }
        let call = Call::get(&["v1", "applications"])
            .query(query)
            .bearer(access_token);
        self.json(call, "applications").await
    }

    /// `GET /v1/applications/{receipt_no}`: the application with its values
    /// and status history. Not this citizen's: `404` YW-4051.
    pub async fn application(
        &self,
        access_token: &str,
        receipt_no: &str,
    ) -> Result<Application, ClientError> {
        let receipt_no = path_id(receipt_no, "receipt_no")?;
        let call = Call::get(&["v1", "applications", receipt_no]).bearer(access_token);
        self.json(call, "application").await
    }

    /// `POST /v1/applications/{receipt_no}/supplement`: the corrected
    /// submission of the same draft when the department asked for more
    /// (`needs_supplement`; else `409` YW-4097); the application is
    /// `submitted` again. Safe to retry (idempotency key).
    pub async fn supplement(
        &self,
        access_token: &str,
        receipt_no: &str,
        submission: &Submission,
    ) -> Result<Application, ClientError> {
        let receipt_no = path_id(receipt_no, "receipt_no")?;
        draft_id(&submission.draft_id)?;
        let path = ["v1", "applications", receipt_no, "supplement"];
        let call = Call::creating(Method::POST, &path, submission)?.bearer(access_token);
        self.json(call, "application").await
    }

    /// `GET /v1/trust-list`: the signed trust list, checked against `anchor`
    /// (the 网证 issuer key the app pins, [`IssuerInfo::public_key`]) at `now`.
    /// A list not signed by the anchor is YW-1421, an old one YW-1422.
    pub async fn trust_list(
        &self,
        anchor: &crate::crypto::VerifyingKey,
        now: i64,
    ) -> Result<crate::credential::TrustList, ClientError> {
        let token = self.send(Call::get(&["v1", "trust-list"])).await?.body;
        Ok(crate::credential::TrustList::verify(&token, anchor, now)?)
    }

    /// `POST /v1/licences/sync`: the citizen's licences changed since
    /// `since` (0 at first, then the answer's [`LicenceSync::next`]), each
    /// bound to `device_key` (the key that signed this session's login;
    /// another is refused, YW-4036) and signed by its issuing authority.
    /// Call again while [`LicenceSync::more`]. Store the credentials in the
    /// wallet (`Wallet::put_credential` drops a licence's older versions);
    /// delete the ones that come without (revoked or expired).
    pub async fn sync_licences(
        &self,
        access_token: &str,
        since: i64,
        device_key: &crate::crypto::VerifyingKey,
    ) -> Result<LicenceSync, ClientError> {
        let body = LicenceSyncBody {
            since,
            device_public_key: device_key.to_spki_pem(),
        };
        // Reading only: safe to repeat, but a POST (the key is a body).
        let call =
            Call::creating(Method::POST, &["v1", "licences", "sync"], &body)?.bearer(access_token);
        let wire: LicenceSyncWire = self.json(call, "licence sync").await?;
        let mut licences = Vec::with_capacity(wire.licences.len());
        for l in wire.licences {
            let credential = match l.credential {
                Some(text) => {
                    let bytes = Base64::decode_vec(&text)
                        .map_err(|_| protocol("licence sync", "credential is not Base64"))?;
                    let credential = HolderCredential::from_bytes(&bytes)
                        .map_err(|_| protocol("licence sync", "credential is not a holder file"))?;
                    // Only what this device can present is stored.
                    if credential.device_key() != device_key {
                        return Err(protocol(
                            "licence sync",
                            "credential is bound to another device key",
                        ));
                    }
                    Some(credential)
                }
                None => None,
            };
            licences.push(SyncedLicence {
                identifier: l.identifier,
                type_code: l.type_code,
                name: l.name,
                status: l.status,
                version: l.version,
                valid_until: l.valid_until,
                credential,
            });
        }
        Ok(LicenceSync {
            licences,
            next: wire.next,
            more: wire.more,
        })
    }

    /// `GET /v1/licences/uses`: who used the citizen's licences, and who was
    /// refused ("谁用了我的证照"), newest first.
    pub async fn licence_uses(&self, access_token: &str) -> Result<Vec<LicenceUse>, ClientError> {
        let call = Call::get(&["v1", "licences", "uses"]).bearer(access_token);
        let wire: LicenceUsesWire = self.json(call, "licence uses").await?;
        Ok(wire.uses)
    }

    /// `POST /v1/applications/{receipt_no}/licence-authorisations`: lets the
    /// application's department fetch the citizen's licence of
    /// `licence_type` from the library, for `reason` (用证事由, 1-200
    /// characters). Safe to retry (idempotency key).
    pub async fn authorise_licence(
        &self,
        access_token: &str,
        receipt_no: &str,
        licence_type: &str,
        reason: &str,
    ) -> Result<(), ClientError> {
        let receipt_no = path_id(receipt_no, "receipt_no")?;
        let chars = reason.trim().chars().count();
        if chars == 0 || chars > crate::credential::MAX_REASON_CHARS {
            return Err(ClientError::InvalidArgument("reason"));
        }
        let body = AuthorisationBody {
            licence_type,
            reason,
        };
        let path = ["v1", "applications", receipt_no, "licence-authorisations"];
        let call = Call::creating(Method::POST, &path, &body)?.bearer(access_token);
        self.send(call).await?;
        Ok(())
    }

    /// Whether `server` (a scanned login request's) is this client's server:
    /// same scheme, host, port and path (a trailing `/` aside).
    fn is_own_server(&self, server: &str) -> bool {
        parse_server_url(server).is_ok_and(|url| url == self.base)
    }

    /// [`ApiClient::send`], then the answer's JSON as `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let answer = self.send(call).await?;
        parse(&answer.body, what)
    }

    /// Runs `call` to a `2xx` answer, retrying what is safe to retry.
    async fn send(&self, call: Call<'_>) -> Result<Answer, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::InvalidConfig("base_url cannot take a path"))?
            .pop_if_empty()
            .extend(&call.path);
        if !call.query.is_empty() {
            // (Form-urlencoded: a value cannot add a pair or change the path.)
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        let retryable = call.method == Method::GET || call.idempotency_key.is_some();
        let mut attempt = 1;
        loop {
            match self.attempt(&url, &call).await {
                Ok(answer) => return Ok(answer),
                Err(failure) if retryable && failure.transient => {
                    if attempt >= self.config.max_attempts {
                        return Err(failure.error);
                    }
                    let wait = match failure.retry_after {
                        Some(wait) => wait.min(self.config.backoff_max),
                        None => self.backoff(attempt),
                    };
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    /// One HTTP exchange.
    async fn attempt(&self, url: &Url, call: &Call<'_>) -> Result<Answer, Failure> {
        let mut request = self
            .http
            .request(call.method.clone(), url.clone())
            .header(ACCEPT, "application/json");
        if let Some(token) = call.bearer {
            // (`bearer_auth` marks the header sensitive: it is kept out of
            // reqwest's own Debug output.)
            request = request.bearer_auth(token);
        }
        if let Some(key) = &call.idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let mut response = request.send().await.map_err(Failure::transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Failure::transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::fatal(protocol("answer", "larger than 1 MiB")));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        if status.is_client_error()
            && let (Some(code), _) = error_body(&body)
            && call.answer_codes.contains(&code.as_str())
        {
            return Ok(Answer { status, body });
        }
        Err(Failure::from_status(status, &body, retry_after))
    }

    /// Full jitter: a random wait up to `backoff_base × 2^(attempt − 1)`,
    /// capped by `backoff_max`.
    fn backoff(&self, attempt: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let cap = self
            .config
            .backoff_base
            .saturating_mul(doubling)
            .min(self.config.backoff_max);
        let mut random = [0u8; 8];
        // Without randomness, the full step: still a backoff, just not spread.
        if random_bytes(&mut random).is_err() {
            return cap;
        }
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(u64::from_le_bytes(random) % cap_nanos.saturating_add(1))
    }
}

/// One logical call: what [`ApiClient::send`] repeats on each attempt.
struct Call<'a> {
    method: Method,
    /// Path segments after the base URL (percent-encoded when the URL is built).
    path: Vec<&'a str>,
    /// Query pairs (encoded when the URL is built).
    query: Vec<(&'static str, String)>,
    bearer: Option<&'a str>,
    body: Option<Vec<u8>>,
    /// Made once per call, sent on every attempt.
    idempotency_key: Option<String>,
    /// Further request headers (`If-Match`, …).
    headers: Vec<(&'static str, String)>,
    /// Codes of `4xx` answers whose body the caller reads (returned as an
    /// [`Answer`], not an error).
    answer_codes: &'static [&'static str],
}

impl<'a> Call<'a> {
    fn get(path: &[&'a str]) -> Self {
        Self {
            method: Method::GET,
            path: path.to_vec(),
            query: Vec::new(),
            bearer: None,
            body: None,
            idempotency_key: None,
            headers: Vec::new(),
            answer_codes: &[],
        }
    }

    /// A creating call with a JSON body and a fresh idempotency key.
    fn creating(
        method: Method,
        path: &[&'a str],
        body: &impl Serialize,
    ) -> Result<Self, ClientError> {
        let body = serde_json::to_vec(body)
            .map_err(|_| ClientError::InvalidArgument("the request body"))?;
        Ok(Self {
            body: Some(body),
            ..Self::creating_empty(method, path)?
        })
    }

    /// A creating call without a body, with a fresh idempotency key.
    fn creating_empty(method: Method, path: &[&'a str]) -> Result<Self, ClientError> {
        Ok(Self {
            method,
            idempotency_key: Some(idempotency_key()?),
            ..Self::get(path)
        })
    }

    fn query(self, pairs: Vec<(&'static str, String)>) -> Self {
        Self {
            query: pairs,
            ..self
        }
    }

    fn bearer(self, token: &'a str) -> Self {
        Self {
            bearer: Some(token),
            ..self
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A `2xx` answer (or a `4xx` one the call asked for: [`Call::answer_codes`]).
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

/// A failed attempt: the error to report, and whether another attempt may help.
struct Failure {
    error: ClientError,
    transient: bool,
    /// The server's `Retry-After`, for a `429`.
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: ClientError) -> Self {
        Self {
            error,
            transient: false,
            retry_after: None,
        }
    }

    fn transient(error: ClientError) -> Self {
        Self {
            error,
            transient: true,
            retry_after: None,
        }
    }

    /// No answer: a timeout, or a connection that failed or dropped. (The
    /// reqwest error is not kept: its text names the URL.)
    fn transport(e: reqwest::Error) -> Self {
        if e.is_builder() {
            Self::fatal(ClientError::InvalidArgument(
                "the request could not be built",
            ))
        } else if e.is_timeout() {
            Self::transient(ClientError::Timeout)
        } else {
            Self::transient(ClientError::Offline)
        }
    }

    fn from_status(status: StatusCode, body: &[u8], retry_after_secs: Option<u64>) -> Self {
        let (code, message) = error_body(body);
        let code_or_none = || code.clone().unwrap_or_else(|| NO_ERROR_BODY.to_owned());
        let message = || {
            message
                .clone()
                .unwrap_or_else(|| "the server refused the request".to_owned())
        };
        match status.as_u16() {
            401 => Self::fatal(ClientError::Unauthorised {
                code: code_or_none(),
                message: message(),
            }),
            403 => Self::fatal(ClientError::Forbidden {
                code: code_or_none(),
                message: message(),
            }),
            429 => Self {
                error: ClientError::RateLimited { retry_after_secs },
                transient: true,
                retry_after: retry_after_secs.map(Duration::from_secs),
            },
            422 if code.as_deref() == Some(SUBMISSION_INVALID) => {
                Self::fatal(ClientError::InvalidSubmission {
                    code: code_or_none(),
                    message: message(),
                    problems: serde_json::from_slice::<ProblemsWire>(body)
                        .map(|wire| wire.problems)
                        .unwrap_or_default(),
                })
            }
            status @ 400..=499 => Self {
                // YW-4091: the same idempotency key is still being processed;
                // the next attempt gets the first one's answer.
                transient: status == 409 && code.as_deref() == Some("YW-4091"),
                ..Self::fatal(ClientError::Rejected {
                    status,
                    code: code_or_none(),
                    message: message(),
                })
            },
            status @ 500..=599 => Self {
                transient: matches!(status, 502..=504),
                ..Self::fatal(ClientError::Server {
                    status,
                    code: code_or_none(),
                })
            },
            other => Self::fatal(protocol(
                "answer",
                &format!("unexpected HTTP status {other}"),
            )),
        }
    }
}

/// The `code` and `message` of yiwang's error body, when the body is one:
/// the code must look like `YW-` and four digits; the message is cut to its
/// first line (200 characters).
fn error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(wire) = serde_json::from_slice::<ErrorWire>(body) else {
        return (None, None);
    };
    let well_formed = wire
        .code
        .strip_prefix("YW-")
        .is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return (None, None);
    }
    let message = wire
        .message
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    (Some(wire.code), Some(message))
}

/// An answer's JSON as `T`.
fn parse<T: DeserializeOwned>(body: &[u8], what: &'static str) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's message may quote the answer: only its category is kept.
        protocol(
            what,
            &format!("not the documented JSON ({:?})", e.classify()),
        )
    })
}

fn protocol(what: &str, problem: &str) -> ClientError {
    ClientError::Protocol(format!("{what}: {problem}"))
}

/// A fresh `Idempotency-Key`: 16 random bytes, Base64url without padding.
fn idempotency_key() -> Result<String, ClientError> {
    let mut key = [0u8; 16];
    random_bytes(&mut key)?;
    Ok(Base64UrlUnpadded::encode_string(&key))
}

/// An id that goes into the path: 1 to 128 characters (percent-encoded
/// when the URL is built, so it cannot change the route).
fn path_id<'a>(id: &'a str, what: &'static str) -> Result<&'a str, ClientError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ClientError::InvalidArgument(what));
    }
    Ok(id)
}

/// A draft id, checked before it goes into the path: 32 lowercase hex
/// digits, as [`Draft::new`] makes them (the server's own check).
fn draft_id(id: &str) -> Result<&str, ClientError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id)
    } else {
        Err(ClientError::InvalidArgument("draft id"))
    }
}

/// A server URL the client may talk to: `https://host…`, or `http://` on
/// loopback; no user-info, query or fragment. The path loses a trailing `/`,
/// so two spellings of one server compare equal.
fn parse_server_url(text: &str) -> Result<Url, ClientError> {
    let mut url =
        Url::parse(text).map_err(|_| ClientError::InvalidConfig("base_url is not a URL"))?;
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if is_loopback(&url) => {}
        _ => {
            return Err(ClientError::InvalidConfig(
                "base_url must be https:// (or http:// on 127.0.0.1, localhost or [::1])",
            ));
        }
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(ClientError::InvalidConfig(
            "base_url must not have user-info, a query or a fragment",
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    // (The URL parser lowercases the host, writes IPv4 in dotted decimal and
    // IPv6 bracketed and compressed.)
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

#[cfg(test)]
mod tests;
