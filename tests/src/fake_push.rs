//! Fake push providers for tests: one axum server per provider on
//! `127.0.0.1:0`, each checking credentials the way its vendor documents
//! (`yiwang_server::push::providers` cites the documents), recording every
//! push it accepts, and answering what a test scripts (per token or for all):
//! gone, invalid token, 429 with `Retry-After`, 500, slow, bad payload.
//!
//! ```text
//! let clock = TestClock::new();
//! let apns = FakeApns::start(&clock).await;
//! let providers = Providers::with_clock(&ProvidersConfig { apns: Some(apns.config()), ..Default::default() }, clock.clock())?;
//! apns.script(&token, Behaviour::Gone { timestamp_ms: 1_700_000_000_000 });
//! ```
//!
//! [`FakePush::start_all`] starts all seven and gives a `[push.*]` TOML
//! snippet pointing at them with matching credentials, for a server config
//! file. Keys are generated fresh (aws-lc-rs): a P-256 `.p8` for APNs, an RSA
//! service account for FCM.
//!
//! What each fake checks:
//! - APNs: HTTP/2 only; `authorization: bearer` ES256 JWT verified with the
//!   trusted public key, `kid` = key id, `iss` = team id, `iat` at most an
//!   hour old (else 403 ExpiredProviderToken) and not in the future; a new
//!   token less than 20 minutes after the previous one is 429
//!   TooManyProviderTokenUpdates; `apns-topic` (the bundle id), `apns-push-type`,
//!   `apns-id` a UUID, `apns-priority` 10/5, `apns-expiration` a number,
//!   `apns-collapse-id` ≤ 64 bytes, payload 1-4096 bytes with `aps`, hex token.
//! - FCM: the token endpoint verifies the RS256 assertion's signature with the
//!   service account's public key, `grant_type`, `iss`, `scope`, `aud`, `iat`,
//!   `exp` (≤ an hour after `iat`, not past); the send endpoint accepts only
//!   bearers it issued and that have not expired (1 h), the project id, a
//!   `message.token`, `android.notification.channel_id`, a payload ≤ 4096 bytes.
//! - Huawei / Honor: client credentials at the token endpoint, then only the
//!   bearers issued (expired after 1 h: Huawei `80200003`); Huawei checks the
//!   client id in the URL, `android.category` among Huawei's names, the ttl;
//!   Honor checks the `timestamp` header and `importance`.
//! - Xiaomi: `Authorization: key=<AppSecret>`, the package name, a registered
//!   `extra.channel_id`, title under 50 characters, a well-formed jobkey.
//! - OPPO: recomputes sha256(app_key + timestamp + master_secret) at its auth
//!   endpoint (timestamp within 10 minutes); then the auth token (24 h), a
//!   registered `channel_id`, `category`/`notify_level`, lengths.
//! - vivo: recomputes md5(appId + appKey + timestamp + appSecret)
//!   (timestamp within 10 minutes); then the `authToken` header (1 day), the
//!   appId (10094), `classification` 0/1 matching `category`, title/content
//!   units, `timeToLive`, `requestId`.
//!
//! Providers that dedupe do it as the vendor does: OPPO `app_message_id`,
//! vivo `requestId` and Xiaomi `extra.jobkey` deliver once per target and id
//! ([`Fake::delivered`]); APNs, FCM, Huawei and Honor deliver every accepted
//! request. [`Fake::received`] has every accepted request, [`Fake::unique`]
//! the distinct (token, dedupe id) pairs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::signature::{self, KeyPair as _};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64ct::Encoding as _;
use md5::Digest as _;
use serde_json::{Value, json};

pub use yiwang_server::push::providers::{
    ApnsConfig, Clock, FcmConfig, HonorConfig, HuaweiConfig, OppoConfig, ProvidersConfig,
    VivoConfig, XiaomiConfig,
};

/// What a fake answers a push (after it has checked the credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Accept (the default).
    Accept,
    /// The token is gone: APNs 410 Unregistered with `timestamp`; elsewhere
    /// the vendor's invalid-token answer.
    Gone { timestamp_ms: i64 },
    /// The vendor's "invalid token" answer: APNs 400 BadDeviceToken, FCM 400
    /// INVALID_ARGUMENT on `message.token`, Huawei/Honor 80300007, Xiaomi
    /// 20301, OPPO 10000, vivo 10302.
    InvalidToken,
    /// 429 with `Retry-After` (Huawei: 503, its flow control).
    TooMany { retry_after_secs: u64 },
    /// 500.
    ServerError,
    /// Sleep, then accept.
    Slow { ms: u64 },
    /// Accept (and record) at once, but answer only after `ms`: what a
    /// sender killed meanwhile sees as a push that may not have arrived.
    SlowAnswer { ms: u64 },
    /// The vendor's "bad payload" answer.
    BadPayload,
}

/// One push a fake accepted.
#[derive(Clone, Debug)]
pub struct Received {
    pub provider: &'static str,
    pub token: String,
    /// The id the provider dedupes or tracks on: APNs `apns-id`, FCM
    /// `data.delivery_id`, Huawei `bi_tag`, Honor `biTag`, Xiaomi
    /// `extra.jobkey`, OPPO `app_message_id`, vivo `requestId`.
    pub dedupe_id: String,
    /// `message_id` from the data payload.
    pub message_id: Option<String>,
    /// The vendor's category field: APNs `interruption-level`, FCM
    /// `android.notification.channel_id`, Huawei `android.category`, Honor
    /// `importance`, Xiaomi `extra.channel_id`, OPPO `category`, vivo
    /// `classification`.
    pub category: Option<String>,
    pub title: Option<String>,
    /// Headers and fields of interest (e.g. `apns-priority`, `channel_id`,
    /// `notify_level`, `vivo.category`).
    pub fields: BTreeMap<String, String>,
    /// The request body as sent (JSON, or the form as a JSON object).
    pub body: Value,
}

/// A clock tests move forward, shared by the clients under test
/// ([`TestClock::clock`]) and the fakes.
#[derive(Clone, Debug, Default)]
pub struct TestClock {
    offset_ms: Arc<AtomicI64>,
}

impl TestClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Unix milliseconds: the system's plus the offset.
    pub fn now_ms(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        system + self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// This clock as the server's [`Clock`].
    pub fn clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.now_ms())
    }
}

/// What every fake shares.
struct Shared {
    provider: &'static str,
    dedupes: bool,
    clock: TestClock,
    per_token: Mutex<HashMap<String, Behaviour>>,
    all: Mutex<Option<Behaviour>>,
    received: Mutex<Vec<Received>>,
    token_requests: AtomicUsize,
    send_attempts: AtomicUsize,
    auth_rejections: AtomicUsize,
    /// Access tokens issued → expiry (Unix ms).
    issued: Mutex<HashMap<String, i64>>,
    counter: AtomicU64,
}

impl Shared {
    fn new(provider: &'static str, dedupes: bool, clock: &TestClock) -> Arc<Self> {
        Arc::new(Self {
            provider,
            dedupes,
            clock: clock.clone(),
            per_token: Mutex::default(),
            all: Mutex::default(),
            received: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            send_attempts: AtomicUsize::new(0),
            auth_rejections: AtomicUsize::new(0),
            issued: Mutex::default(),
            counter: AtomicU64::new(0),
        })
    }

    fn behaviour(&self, token: &str) -> Behaviour {
        if let Some(b) = lock(&self.per_token).get(token) {
            return b.clone();
        }
        lock(&self.all).clone().unwrap_or(Behaviour::Accept)
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Issues an access token valid `lifetime_ms`.
    fn issue(&self, prefix: &str, lifetime_ms: i64) -> String {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
        let token = format!("{prefix}-{}-{}", self.next_id(), random_hex(8));
        lock(&self.issued).insert(token.clone(), self.clock.now_ms() + lifetime_ms);
        token
    }

    /// `Ok` for a live issued token, `Err(true)` for an expired one,
    /// `Err(false)` for an unknown one.
    fn check_issued(&self, token: &str) -> Result<(), bool> {
        let result = match lock(&self.issued).get(token) {
            Some(&expiry) if expiry > self.clock.now_ms() => Ok(()),
            Some(_) => Err(true),
            None => Err(false),
        };
        if result.is_err() {
            self.auth_rejections.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    fn reject_auth(&self) {
        self.auth_rejections.fetch_add(1, Ordering::SeqCst);
    }

    fn record(&self, received: Received) {
        lock(&self.received).push(received);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The part of every fake provider tests talk to.
pub struct Fake {
    base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fake")
            .field("provider", &self.shared.provider)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    async fn start(shared: Arc<Shared>, router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            base_url: format!("http://{address}"),
            shared,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn provider(&self) -> &'static str {
        self.shared.provider
    }

    /// What to answer pushes to `token` (takes precedence over [`Fake::script_all`]).
    pub fn script(&self, token: &str, behaviour: Behaviour) {
        lock(&self.shared.per_token).insert(token.to_owned(), behaviour);
    }

    /// What to answer every push.
    pub fn script_all(&self, behaviour: Behaviour) {
        *lock(&self.shared.all) = Some(behaviour);
    }

    /// Back to accepting everything.
    pub fn clear_script(&self) {
        lock(&self.shared.per_token).clear();
        *lock(&self.shared.all) = None;
    }

    /// Every push accepted, in order (duplicates included).
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// The distinct (token, dedupe id) pairs accepted.
    pub fn unique(&self) -> BTreeSet<(String, String)> {
        lock(&self.shared.received)
            .iter()
            .map(|r| (r.token.clone(), r.dedupe_id.clone()))
            .collect()
    }

    /// What devices would show: for providers that dedupe (OPPO, vivo,
    /// Xiaomi) the first push per (token, dedupe id), else every push.
    pub fn delivered(&self) -> Vec<Received> {
        let all = self.received();
        if !self.shared.dedupes {
            return all;
        }
        let mut seen = BTreeSet::new();
        all.into_iter()
            .filter(|r| seen.insert((r.token.clone(), r.dedupe_id.clone())))
            .collect()
    }

    /// Calls of the token/auth endpoint that issued a token (APNs: distinct
    /// provider JWTs accepted).
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// Calls of the send endpoint, whatever their answer.
    pub fn send_attempts(&self) -> usize {
        self.shared.send_attempts.load(Ordering::SeqCst)
    }

    /// Requests refused for their credentials (bad signature, unknown or
    /// expired token, wrong key).
    pub fn auth_rejections(&self) -> usize {
        self.shared.auth_rejections.load(Ordering::SeqCst)
    }

    /// Forgets every access token issued, as a provider revoking them would
    /// (the next push with one is refused as unauthenticated).
    pub fn revoke_tokens(&self) {
        lock(&self.shared.issued).clear();
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut out).expect("random bytes");
    out
}

fn random_hex(n: usize) -> String {
    hex::encode(random_bytes(n))
}

/// A 64-character hex token, like an APNs device token.
pub fn hex_token() -> String {
    random_hex(32)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64ct::Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64ct::Base64UrlUnpadded::decode_vec(s).ok()
}

/// Verifies a compact JWS with `algorithm` and `public_key`; answers its
/// header and claims.
fn verify_jwt(
    jwt: &str,
    expected_alg: &str,
    algorithm: &'static dyn signature::VerificationAlgorithm,
    public_key: &[u8],
) -> Result<(Value, Value), &'static str> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS");
    };
    let header: Value = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad header")?;
    let claims: Value = b64url_decode(c)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad claims")?;
    let sig = b64url_decode(s).ok_or("bad signature encoding")?;
    if header["alg"].as_str() != Some(expected_alg) {
        return Err("wrong alg");
    }
    signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "bad signature")?;
    Ok((header, claims))
}

fn json_response(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response.headers_mut().insert(
        "retry-after",
        secs.to_string().parse().expect("header value"),
    );
    response
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Sleeps for [`Behaviour::Slow`] (which then accepts).
/// Sleeps for [`Behaviour::SlowAnswer`], after the push was recorded.
async fn apply_slow_answer(behaviour: &Behaviour) {
    if let Behaviour::SlowAnswer { ms } = behaviour {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
}

async fn apply_slow(behaviour: &Behaviour) {
    if let Behaviour::Slow { ms } = behaviour {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
}

fn message_id_in(data: &Value) -> Option<String> {
    match data {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .and_then(|v| v["message_id"].as_str().map(str::to_owned)),
        Value::Object(_) => data["message_id"].as_str().map(str::to_owned),
        _ => None,
    }
}

/// A TOML basic string.
fn toml_str(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid provider configuration")
}

// ---------------------------------------------------------------- APNs ----

/// A P-256 key as Apple's .p8 file and its public point.
#[derive(Clone)]
pub struct ApnsKey {
    /// The .p8 content (PKCS#8 PEM).
    pub pem: String,
    public_key: Vec<u8>,
}

impl std::fmt::Debug for ApnsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApnsKey(***)")
    }
}

impl ApnsKey {
    pub fn generate() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .expect("generate P-256");
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
        )
        .expect("parse P-256");
        Self {
            pem: pem("PRIVATE KEY", pkcs8.as_ref()),
            public_key: pair.public_key().as_ref().to_vec(),
        }
    }
}

struct ApnsState {
    shared: Arc<Shared>,
    team_id: String,
    key_id: String,
    topic: String,
    public_key: Vec<u8>,
    /// The provider token in use on each connection and its `iat`.
    current: Mutex<HashMap<SocketAddr, (String, i64)>>,
}

/// A fake APNs (HTTP/2 cleartext) trusting one .p8 key.
#[derive(Debug)]
pub struct FakeApns {
    pub fake: Fake,
    pub team_id: String,
    pub key_id: String,
    /// The bundle id it accepts as `apns-topic`.
    pub topic: String,
    /// The key it trusts.
    pub key: ApnsKey,
}

impl Deref for FakeApns {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeApns {
    pub async fn start(clock: &TestClock) -> Self {
        let key = ApnsKey::generate();
        let team_id = "YW7TEAM123".to_owned();
        let key_id = "YWKEY45678".to_owned();
        let topic = "cn.gov.yiwang".to_owned();
        let shared = Shared::new("apns", false, clock);
        let state = Arc::new(ApnsState {
            shared: shared.clone(),
            team_id: team_id.clone(),
            key_id: key_id.clone(),
            topic: topic.clone(),
            public_key: key.public_key.clone(),
            current: Mutex::default(),
        });
        let router = Router::new()
            .route("/3/device/{token}", post(apns_production))
            .route("/sandbox/3/device/{token}", post(apns_sandbox))
            .with_state(state);
        Self {
            fake: Fake::start(shared, router).await,
            team_id,
            key_id,
            topic,
            key,
        }
    }

    /// A configuration pointing at this fake with the trusted key (sandbox
    /// requests go to `{base}/sandbox`).
    pub fn config(&self) -> ApnsConfig {
        self.config_with_key(&self.key)
    }

    /// The same configuration signing with another key.
    pub fn config_with_key(&self, key: &ApnsKey) -> ApnsConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "sandbox_base_url": format!("{}/sandbox", self.base_url()),
            "team_id": self.team_id,
            "key_id": self.key_id,
            "private_key_pem": key.pem,
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.apns]\nbase_url = {}\nsandbox_base_url = {}\nteam_id = {}\nkey_id = {}\nprivate_key_pem = {}\n",
            toml_str(self.base_url()),
            toml_str(&format!("{}/sandbox", self.base_url())),
            toml_str(&self.team_id),
            toml_str(&self.key_id),
            toml_str(&self.key.pem),
        )
    }
}

async fn apns_production(
    State(state): State<Arc<ApnsState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    apns_send(state, peer, "production", token, version, headers, body).await
}

async fn apns_sandbox(
    State(state): State<Arc<ApnsState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    apns_send(state, peer, "sandbox", token, version, headers, body).await
}

fn apns_error(status: u16, reason: &str) -> Response {
    json_response(status, json!({ "reason": reason }))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn apns_send(
    state: Arc<ApnsState>,
    peer: SocketAddr,
    environment: &str,
    token: String,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    if version != Version::HTTP_2 {
        return (StatusCode::HTTP_VERSION_NOT_SUPPORTED, "HTTP/2 required").into_response();
    }
    // Provider token ("Establishing a token-based connection to APNs").
    let Some(jwt) = header(&headers, "authorization").and_then(|a| {
        a.strip_prefix("bearer ")
            .or_else(|| a.strip_prefix("Bearer "))
            .map(str::to_owned)
    }) else {
        shared.reject_auth();
        return apns_error(403, "MissingProviderToken");
    };
    let (jwt_header, claims) = match verify_jwt(
        &jwt,
        "ES256",
        &signature::ECDSA_P256_SHA256_FIXED,
        &state.public_key,
    ) {
        Ok(parts) => parts,
        Err(_) => {
            shared.reject_auth();
            return apns_error(403, "InvalidProviderToken");
        }
    };
    let now = shared.clock.now_ms() / 1000;
    let iat = claims["iat"].as_i64().unwrap_or(i64::MIN);
    if jwt_header["kid"].as_str() != Some(state.key_id.as_str())
        || claims["iss"].as_str() != Some(state.team_id.as_str())
        || iat > now + 60
    {
        shared.reject_auth();
        return apns_error(403, "InvalidProviderToken");
    }
    if now - iat > 3600 {
        shared.reject_auth();
        return apns_error(403, "ExpiredProviderToken");
    }
    {
        // New provider tokens on one connection at most every 20 minutes.
        let mut current = lock(&state.current);
        let seen_before = current.values().any(|(known, _)| *known == jwt);
        match current.get(&peer) {
            Some((known, _)) if *known == jwt => {}
            Some((_, previous_iat)) if iat - previous_iat < 20 * 60 => {
                return apns_error(429, "TooManyProviderTokenUpdates");
            }
            _ => {
                if !seen_before {
                    shared.token_requests.fetch_add(1, Ordering::SeqCst);
                }
                current.insert(peer, (jwt.clone(), iat));
            }
        }
    }
    // Headers ("Sending notification requests to APNs").
    let topic = header(&headers, "apns-topic");
    match topic.as_deref() {
        None => return apns_error(400, "MissingTopic"),
        Some(t) if t != state.topic => return apns_error(400, "TopicDisallowed"),
        _ => {}
    }
    let push_type = header(&headers, "apns-push-type");
    if !matches!(push_type.as_deref(), Some("alert" | "background")) {
        return apns_error(400, "InvalidPushType");
    }
    let apns_id = header(&headers, "apns-id");
    if apns_id.as_deref().is_some_and(|id| !is_uuid(id)) {
        return apns_error(400, "BadMessageId");
    }
    let priority = header(&headers, "apns-priority");
    if !matches!(priority.as_deref(), None | Some("10" | "5" | "1")) {
        return apns_error(400, "BadPriority");
    }
    let expiration = header(&headers, "apns-expiration");
    if expiration
        .as_deref()
        .is_some_and(|e| e.parse::<i64>().is_err())
    {
        return apns_error(400, "BadExpirationDate");
    }
    let collapse = header(&headers, "apns-collapse-id");
    if collapse.as_deref().is_some_and(|c| c.len() > 64) {
        return apns_error(400, "BadCollapseId");
    }
    if body.is_empty() {
        return apns_error(400, "PayloadEmpty");
    }
    if body.len() > 4096 {
        return apns_error(413, "PayloadTooLarge");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return apns_error(400, "BadPayload");
    };
    if !payload["aps"].is_object() {
        return apns_error(400, "BadPayload");
    }
    if token.len() < 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return apns_error(400, "BadDeviceToken");
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        Behaviour::Gone { timestamp_ms } => {
            return json_response(
                410,
                json!({ "reason": "Unregistered", "timestamp": timestamp_ms }),
            );
        }
        Behaviour::InvalidToken => return apns_error(400, "BadDeviceToken"),
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(apns_error(429, "TooManyRequests"), retry_after_secs);
        }
        Behaviour::ServerError => return apns_error(500, "InternalServerError"),
        Behaviour::BadPayload => return apns_error(400, "PayloadEmpty"),
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let apns_id = apns_id.unwrap_or_else(|| {
        let h = random_hex(16);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    });
    let mut fields = BTreeMap::new();
    fields.insert("environment".to_owned(), environment.to_owned());
    for (name, value) in [
        ("apns-topic", topic),
        ("apns-push-type", push_type),
        ("apns-id", Some(apns_id.clone())),
        ("apns-priority", priority),
        ("apns-expiration", expiration),
        ("apns-collapse-id", collapse),
    ] {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    }
    shared.record(Received {
        provider: "apns",
        token,
        dedupe_id: apns_id.clone(),
        message_id: payload["message_id"].as_str().map(str::to_owned),
        category: payload["aps"]["interruption-level"]
            .as_str()
            .map(str::to_owned),
        title: payload["aps"]["alert"]["title"].as_str().map(str::to_owned),
        fields,
        body: payload,
    });
    apply_slow_answer(&behaviour).await;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert("apns-id", apns_id.parse().expect("header value"));
    response
}

// ----------------------------------------------------------------- FCM ----

/// An RSA service account: the JSON key file and the public key.
#[derive(Clone)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: String,
    pub private_key_pem: String,
    public_key: Vec<u8>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// One RSA-2048 account per test process (generating is the slow part).
    pub fn shared() -> Self {
        static ACCOUNT: OnceLock<ServiceAccount> = OnceLock::new();
        ACCOUNT
            .get_or_init(|| {
                use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .expect("generate RSA-2048");
                let der: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8");
                ServiceAccount {
                    client_email: "yiwang-push@yiwang-test.iam.gserviceaccount.com".to_owned(),
                    private_key_id: random_hex(20),
                    private_key_pem: pem("PRIVATE KEY", der.as_ref()),
                    public_key: pair.public_key().as_ref().to_vec(),
                }
            })
            .clone()
    }

    /// The service account JSON key file, with `token_uri`.
    pub fn json(&self, project_id: &str, token_uri: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        })
        .to_string()
    }
}

struct FcmState {
    shared: Arc<Shared>,
    project_id: String,
    token_uri: String,
    account: ServiceAccount,
}

/// A fake FCM HTTP v1 API with its OAuth token endpoint at `{base}/token`.
#[derive(Debug)]
pub struct FakeFcm {
    pub fake: Fake,
    pub project_id: String,
    pub account: ServiceAccount,
}

impl Deref for FakeFcm {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeFcm {
    pub async fn start(clock: &TestClock) -> Self {
        let account = ServiceAccount::shared();
        let project_id = "yiwang-test".to_owned();
        let shared = Shared::new("fcm", false, clock);
        // The token URI contains the port: bind first, then build the state.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let base_url = format!("http://{address}");
        let state = Arc::new(FcmState {
            shared: shared.clone(),
            project_id: project_id.clone(),
            token_uri: format!("{base_url}/token"),
            account: account.clone(),
        });
        let router = Router::new()
            .route("/token", post(fcm_token))
            .route("/v1/projects/{project}/messages:send", post(fcm_send))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            fake: Fake {
                base_url,
                shared,
                task,
            },
            project_id,
            account,
        }
    }

    pub fn token_uri(&self) -> String {
        format!("{}/token", self.base_url())
    }

    pub fn config(&self) -> FcmConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "project_id": self.project_id,
            "service_account_json": self.account.json(&self.project_id, &self.token_uri()),
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.fcm]\nbase_url = {}\nproject_id = {}\nservice_account_json = {}\n",
            toml_str(self.base_url()),
            toml_str(&self.project_id),
            toml_str(&self.account.json(&self.project_id, &self.token_uri())),
        )
    }
}

fn oauth_error(status: u16, error: &str) -> Response {
    json_response(
        status,
        json!({ "error": error, "error_description": "refused by the fake" }),
    )
}

async fn fcm_token(
    State(state): State<Arc<FcmState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let shared = &state.shared;
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        shared.reject_auth();
        return oauth_error(400, "unsupported_grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        shared.reject_auth();
        return oauth_error(400, "invalid_request");
    };
    let Ok((header, claims)) = verify_jwt(
        assertion,
        "RS256",
        &signature::RSA_PKCS1_2048_8192_SHA256,
        &state.account.public_key,
    ) else {
        shared.reject_auth();
        return oauth_error(400, "invalid_grant");
    };
    let now = shared.clock.now_ms() / 1000;
    let iat = claims["iat"].as_i64().unwrap_or(i64::MIN);
    let exp = claims["exp"].as_i64().unwrap_or(i64::MIN);
    let ok = header["kid"]
        .as_str()
        .is_none_or(|k| k == state.account.private_key_id)
        && claims["iss"].as_str() == Some(state.account.client_email.as_str())
        && claims["aud"].as_str() == Some(state.token_uri.as_str())
        && claims["scope"].as_str().is_some_and(|s| {
            s.split(' ')
                .any(|s| s == "https://www.googleapis.com/auth/firebase.messaging")
        })
        && iat <= now + 60
        && exp > now
        && exp - iat <= 3600;
    if !ok {
        shared.reject_auth();
        return oauth_error(400, "invalid_grant");
    }
    let token = shared.issue("ya29.fake", 3600 * 1000);
    json_response(
        200,
        json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }),
    )
}

fn fcm_error(status: u16, code: &str, error_code: Option<&str>, token_field: bool) -> Response {
    let mut details = Vec::new();
    if let Some(error_code) = error_code {
        details.push(json!({
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": error_code,
        }));
    }
    if token_field {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{ "field": "message.token", "description": "Invalid registration token" }],
        }));
    }
    json_response(
        status,
        json!({ "error": { "code": status, "message": "refused by the fake", "status": code, "details": details } }),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    header(headers, "authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned))
}

async fn fcm_send(
    State(state): State<Arc<FcmState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    match bearer(&headers) {
        Some(token) if shared.check_issued(&token).is_ok() => {}
        Some(_) => return fcm_error(401, "UNAUTHENTICATED", None, false),
        None => {
            shared.reject_auth();
            return fcm_error(401, "UNAUTHENTICATED", None, false);
        }
    }
    if project != state.project_id {
        return fcm_error(403, "PERMISSION_DENIED", None, false);
    }
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"), false);
    };
    let Some(token) = request["message"]["token"].as_str().map(str::to_owned) else {
        return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"), true);
    };
    let mut message = request["message"].clone();
    if let Some(m) = message.as_object_mut() {
        m.remove("token");
    }
    if serde_json::to_vec(&message).map_or(0, |v| v.len()) > 4096 {
        return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"), false);
    }
    let channel = message["android"]["notification"]["channel_id"]
        .as_str()
        .map(str::to_owned);
    if channel.is_none()
        || !message["data"]
            .as_object()
            .is_some_and(|d| d.values().all(Value::is_string))
    {
        return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"), false);
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        Behaviour::Gone { .. } => return fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"), false),
        Behaviour::InvalidToken => {
            return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"), true);
        }
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(
                fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"), false),
                retry_after_secs,
            );
        }
        Behaviour::ServerError => return fcm_error(500, "INTERNAL", Some("INTERNAL"), false),
        Behaviour::BadPayload => {
            return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"), false);
        }
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let mut fields = BTreeMap::new();
    for (name, value) in [
        ("android.priority", &message["android"]["priority"]),
        ("android.ttl", &message["android"]["ttl"]),
        ("android.collapse_key", &message["android"]["collapse_key"]),
    ] {
        if let Some(v) = value.as_str() {
            fields.insert(name.to_owned(), v.to_owned());
        }
    }
    shared.record(Received {
        provider: "fcm",
        token,
        dedupe_id: message["data"]["delivery_id"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        message_id: message_id_in(&message["data"]),
        category: channel,
        title: message["notification"]["title"].as_str().map(str::to_owned),
        fields,
        body: request.take(),
    });
    apply_slow_answer(&behaviour).await;
    json_response(
        200,
        json!({ "name": format!("projects/{}/messages/0:{}", state.project_id, shared.next_id()) }),
    )
}

// ------------------------------------------------------- Huawei, Honor ----

struct HmsState {
    shared: Arc<Shared>,
    app_id: String,
    client_id: String,
    client_secret: String,
}

/// Huawei's category names (Push Kit "消息分类").
const HUAWEI_CATEGORIES: [&str; 12] = [
    "IM",
    "VOIP",
    "SUBSCRIPTION",
    "TRAVEL",
    "HEALTH",
    "WORK",
    "ACCOUNT",
    "EXPRESS",
    "FINANCE",
    "DEVICE_REMINDER",
    "MAIL",
    "MARKETING",
];

/// A fake Huawei Push Kit (token endpoint `/oauth2/v3/token`).
#[derive(Debug)]
pub struct FakeHuawei {
    pub fake: Fake,
    pub client_id: String,
    pub client_secret: String,
}

impl Deref for FakeHuawei {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeHuawei {
    pub async fn start(clock: &TestClock) -> Self {
        let client_id = "107654321".to_owned();
        let client_secret = random_hex(32);
        let shared = Shared::new("huawei", false, clock);
        let state = Arc::new(HmsState {
            shared: shared.clone(),
            app_id: client_id.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        });
        let router = Router::new()
            .route("/oauth2/v3/token", post(hms_token))
            .route("/v1/{client_id}/messages:send", post(huawei_send))
            .with_state(state);
        Self {
            fake: Fake::start(shared, router).await,
            client_id,
            client_secret,
        }
    }

    pub fn config(&self) -> HuaweiConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "token_url": format!("{}/oauth2/v3/token", self.base_url()),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.huawei]\nbase_url = {}\ntoken_url = {}\nclient_id = {}\nclient_secret = {}\n",
            toml_str(self.base_url()),
            toml_str(&format!("{}/oauth2/v3/token", self.base_url())),
            toml_str(&self.client_id),
            toml_str(&self.client_secret),
        )
    }
}

/// A fake Honor push (token endpoint `/auth/token`).
#[derive(Debug)]
pub struct FakeHonor {
    pub fake: Fake,
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Deref for FakeHonor {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeHonor {
    pub async fn start(clock: &TestClock) -> Self {
        let app_id = "104433221".to_owned();
        let client_id = "honor-client-1".to_owned();
        let client_secret = random_hex(32);
        let shared = Shared::new("honor", false, clock);
        let state = Arc::new(HmsState {
            shared: shared.clone(),
            app_id: app_id.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        });
        let router = Router::new()
            .route("/auth/token", post(hms_token))
            .route("/api/v1/{app_id}/sendMessage", post(honor_send))
            .with_state(state);
        Self {
            fake: Fake::start(shared, router).await,
            app_id,
            client_id,
            client_secret,
        }
    }

    pub fn config(&self) -> HonorConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "token_url": format!("{}/auth/token", self.base_url()),
            "app_id": self.app_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.honor]\nbase_url = {}\ntoken_url = {}\napp_id = {}\nclient_id = {}\nclient_secret = {}\n",
            toml_str(self.base_url()),
            toml_str(&format!("{}/auth/token", self.base_url())),
            toml_str(&self.app_id),
            toml_str(&self.client_id),
            toml_str(&self.client_secret),
        )
    }
}

/// OAuth 2.0 client credentials (Huawei and Honor).
async fn hms_token(
    State(state): State<Arc<HmsState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let shared = &state.shared;
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        shared.reject_auth();
        return oauth_error(400, "unsupported_grant_type");
    }
    if form.get("client_id") != Some(&state.client_id)
        || form.get("client_secret") != Some(&state.client_secret)
    {
        shared.reject_auth();
        // Huawei answers numeric errors (1101: invalid client).
        return json_response(
            400,
            json!({ "error": 1101, "sub_error": 20152, "error_description": "invalid client" }),
        );
    }
    let token = shared.issue(shared.provider, 3600 * 1000);
    json_response(
        200,
        json!({ "access_token": token, "expires_in": 3600, "token_type": "Bearer" }),
    )
}

fn hms_code(status: u16, code: Value, msg: &str) -> Response {
    json_response(
        status,
        json!({ "code": code, "msg": msg, "message": msg, "requestId": random_hex(8) }),
    )
}

async fn huawei_send(
    State(state): State<Arc<HmsState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    match bearer(&headers).map(|t| shared.check_issued(&t)) {
        Some(Ok(())) => {}
        Some(Err(true)) => return hms_code(401, json!("80200003"), "Oauth Token expired"),
        Some(Err(false)) | None => {
            if bearer(&headers).is_none() {
                shared.reject_auth();
            }
            return hms_code(401, json!("80200001"), "Oauth authentication error");
        }
    }
    if client_id != state.client_id {
        shared.reject_auth();
        return hms_code(401, json!("80200001"), "Oauth authentication error");
    }
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return hms_code(400, json!("80100003"), "Incorrect message structure");
    };
    let message = request["message"].clone();
    let tokens = message["token"].as_array().cloned().unwrap_or_default();
    let Some(token) = tokens.first().and_then(Value::as_str).map(str::to_owned) else {
        return hms_code(400, json!("80300010"), "The number of tokens is invalid");
    };
    let android = &message["android"];
    let notification = &android["notification"];
    let category = android["category"].as_str().map(str::to_owned);
    let ttl_ok = android["ttl"].as_str().is_some_and(|t| {
        t.strip_suffix('s')
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n <= 1_296_000)
    });
    if tokens.len() != 1
        || notification["title"].as_str().is_none()
        || notification["body"].as_str().is_none()
        || !notification["click_action"].is_object()
        || !category
            .as_deref()
            .is_some_and(|c| HUAWEI_CATEGORIES.contains(&c))
        || !ttl_ok
    {
        return hms_code(400, json!("80100003"), "Incorrect message structure");
    }
    let mut without_token = message.clone();
    if let Some(m) = without_token.as_object_mut() {
        m.remove("token");
    }
    if serde_json::to_vec(&without_token).map_or(0, |v| v.len()) > 4096 {
        return hms_code(
            400,
            json!("80300008"),
            "The message body size exceeds the default value",
        );
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        Behaviour::Gone { .. } | Behaviour::InvalidToken => {
            return hms_code(400, json!("80300007"), "All the tokens are invalid");
        }
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(
                (StatusCode::SERVICE_UNAVAILABLE, "flow control").into_response(),
                retry_after_secs,
            );
        }
        Behaviour::ServerError => return hms_code(500, json!("81000001"), "System inner error"),
        Behaviour::BadPayload => {
            return hms_code(400, json!("80100003"), "Incorrect message structure");
        }
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let mut fields = BTreeMap::new();
    for (name, value) in [
        ("ttl", &android["ttl"]),
        ("importance", &notification["importance"]),
        ("tag", &notification["tag"]),
    ] {
        if let Some(v) = value.as_str() {
            fields.insert(name.to_owned(), v.to_owned());
        }
    }
    shared.record(Received {
        provider: "huawei",
        token,
        dedupe_id: android["bi_tag"].as_str().unwrap_or("").to_owned(),
        message_id: message_id_in(&message["data"]),
        category,
        title: notification["title"].as_str().map(str::to_owned),
        fields,
        body: request.take(),
    });
    apply_slow_answer(&behaviour).await;
    hms_code(200, json!("80000000"), "Success")
}

async fn honor_send(
    State(state): State<Arc<HmsState>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    match bearer(&headers).map(|t| shared.check_issued(&t)) {
        Some(Ok(())) => {}
        Some(Err(true)) => return hms_code(401, json!(80200003), "token expired"),
        Some(Err(false)) | None => {
            if bearer(&headers).is_none() {
                shared.reject_auth();
            }
            return hms_code(401, json!(80200001), "authentication error");
        }
    }
    if app_id != state.app_id {
        shared.reject_auth();
        return hms_code(401, json!(80200001), "authentication error");
    }
    if header(&headers, "timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .is_none()
    {
        return hms_code(400, json!(80100001), "timestamp header missing");
    }
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return hms_code(400, json!(80100003), "Incorrect message structure");
    };
    let tokens = request["token"].as_array().cloned().unwrap_or_default();
    let Some(token) = tokens.first().and_then(Value::as_str).map(str::to_owned) else {
        return hms_code(400, json!(80300010), "The number of tokens is invalid");
    };
    let android = request["android"].clone();
    let notification = &android["notification"];
    let importance = notification["importance"].as_str().map(str::to_owned);
    if notification["title"].as_str().is_none()
        || notification["body"].as_str().is_none()
        || !notification["clickAction"].is_object()
        || !matches!(importance.as_deref(), Some("NORMAL" | "LOW"))
    {
        return hms_code(400, json!(80100003), "Incorrect message structure");
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        Behaviour::Gone { .. } | Behaviour::InvalidToken => {
            return hms_code(400, json!(80300007), "All the tokens are invalid");
        }
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(
                hms_code(429, json!(429), "too many requests"),
                retry_after_secs,
            );
        }
        Behaviour::ServerError => return hms_code(500, json!(81000001), "System inner error"),
        Behaviour::BadPayload => {
            return hms_code(400, json!(80100003), "Incorrect message structure");
        }
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let mut fields = BTreeMap::new();
    if let Some(ttl) = android["ttl"].as_str() {
        fields.insert("ttl".to_owned(), ttl.to_owned());
    }
    let message_id = message_id_in(&request["data"]);
    shared.record(Received {
        provider: "honor",
        token,
        dedupe_id: android["biTag"].as_str().unwrap_or("").to_owned(),
        message_id,
        category: importance,
        title: notification["title"].as_str().map(str::to_owned),
        fields,
        body: request.take(),
    });
    apply_slow_answer(&behaviour).await;
    json_response(
        200,
        json!({ "code": 200, "message": "success", "data": { "sendResult": true, "requestId": random_hex(8) } }),
    )
}

// -------------------------------------------------------------- Xiaomi ----

struct XiaomiState {
    shared: Arc<Shared>,
    app_secret: String,
    package: String,
    channels: Vec<String>,
}

/// Channel ids the vendor fakes have "registered", by category.
pub fn fake_channel_ids() -> Value {
    json!({
        "service": "yw_service",
        "reminder": "yw_reminder",
        "application_status": "yw_status",
        "security": "yw_security",
        "campaign": "yw_campaign",
    })
}

fn channel_list() -> Vec<String> {
    fake_channel_ids()
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn channel_ids_toml() -> String {
    let mut out = String::from("{ ");
    if let Some(m) = fake_channel_ids().as_object() {
        let items: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml_str(v.as_str().unwrap_or(""))))
            .collect();
        out.push_str(&items.join(", "));
    }
    out.push_str(" }");
    out
}

/// A fake Xiaomi push.
#[derive(Debug)]
pub struct FakeXiaomi {
    pub fake: Fake,
    pub app_secret: String,
    /// The package name it accepts as `restricted_package_name`.
    pub package: String,
}

impl Deref for FakeXiaomi {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeXiaomi {
    pub async fn start(clock: &TestClock) -> Self {
        let app_secret = base64ct::Base64::encode_string(&random_bytes(16));
        let package = "cn.gov.yiwang".to_owned();
        let shared = Shared::new("xiaomi", true, clock);
        let state = Arc::new(XiaomiState {
            shared: shared.clone(),
            app_secret: app_secret.clone(),
            package: package.clone(),
            channels: channel_list(),
        });
        let router = Router::new()
            .route("/v3/message/regid", post(xiaomi_send))
            .with_state(state);
        Self {
            fake: Fake::start(shared, router).await,
            app_secret,
            package,
        }
    }

    pub fn config(&self) -> XiaomiConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "app_secret": self.app_secret,
            "channel_ids": fake_channel_ids(),
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.xiaomi]\nbase_url = {}\napp_secret = {}\nchannel_ids = {}\n",
            toml_str(self.base_url()),
            toml_str(&self.app_secret),
            channel_ids_toml(),
        )
    }
}

fn xiaomi_answer(status: u16, code: i64, reason: &str) -> Response {
    json_response(
        status,
        json!({ "result": if code == 0 { "ok" } else { "error" }, "code": code, "reason": reason, "description": reason, "trace_id": random_hex(8) }),
    )
}

async fn xiaomi_send(
    State(state): State<Arc<XiaomiState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    if header(&headers, "authorization").as_deref() != Some(&format!("key={}", state.app_secret)) {
        shared.reject_auth();
        // Unconfirmed code; the status is what matters.
        return xiaomi_answer(401, 22000, "Invalid application secret.");
    }
    let get = |k: &str| form.get(k).cloned();
    let Some(token) = get("registration_id") else {
        return xiaomi_answer(200, 10017, "missing registration_id");
    };
    let title = get("title").unwrap_or_default();
    let channel = get("extra.channel_id");
    let jobkey = get("extra.jobkey").unwrap_or_default();
    let jobkey_ok = (1..=8).contains(&jobkey.len())
        && !jobkey.starts_with('_')
        && jobkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let ttl_ok = get("time_to_live")
        .and_then(|t| t.parse::<u64>().ok())
        .is_none_or(|t| t <= 14 * 24 * 3600 * 1000);
    if get("restricted_package_name").as_deref() != Some(state.package.as_str())
        || get("pass_through").as_deref() != Some("0")
        || title.trim().is_empty()
        || title.chars().count() >= 50
        || get("description").is_none()
        || !channel.as_ref().is_some_and(|c| state.channels.contains(c))
        || !jobkey_ok
        || !ttl_ok
    {
        // Illustrative code for a rejected parameter.
        return xiaomi_answer(200, 10017, "Invalid parameter");
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        Behaviour::Gone { .. } => {
            return json_response(
                200,
                json!({ "result": "ok", "code": 0, "data": { "id": format!("scm{}", random_hex(8)), "bad_regids": token }, "description": "成功", "info": "Received push messages for 1 REGID", "trace_id": random_hex(8) }),
            );
        }
        Behaviour::InvalidToken => return xiaomi_answer(200, 20301, "Invalid target regIds"),
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(
                xiaomi_answer(429, 429, "too many requests"),
                retry_after_secs,
            );
        }
        Behaviour::ServerError => return xiaomi_answer(500, -1, "internal error"),
        Behaviour::BadPayload => return xiaomi_answer(200, 10017, "Invalid parameter"),
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let mut fields = BTreeMap::new();
    for name in [
        "time_to_live",
        "notify_id",
        "notify_type",
        "extra.notify_foreground",
    ] {
        if let Some(v) = get(name) {
            fields.insert(name.to_owned(), v);
        }
    }
    let payload = get("payload").map(Value::String).unwrap_or(Value::Null);
    shared.record(Received {
        provider: "xiaomi",
        token,
        dedupe_id: jobkey,
        message_id: message_id_in(&payload),
        category: channel,
        title: Some(title),
        fields,
        body: json!(form),
    });
    apply_slow_answer(&behaviour).await;
    json_response(
        200,
        json!({ "result": "ok", "code": 0, "data": { "id": format!("scm{}", random_hex(8)) }, "description": "成功", "info": "Received push messages for 1 REGID", "trace_id": random_hex(8) }),
    )
}

// ---------------------------------------------------------------- OPPO ----

struct OppoState {
    shared: Arc<Shared>,
    app_key: String,
    master_secret: String,
    channels: Vec<String>,
}

const OPPO_PRIVATE: [&str; 6] = [
    "IM",
    "ACCOUNT",
    "DEVICE_REMINDER",
    "ORDER",
    "TODO",
    "SUBSCRIPTION",
];
const OPPO_PUBLIC: [&str; 4] = ["NEWS", "CONTENT", "MARKETING", "SOCIAL"];

/// A fake OPPO push.
#[derive(Debug)]
pub struct FakeOppo {
    pub fake: Fake,
    pub app_key: String,
    pub master_secret: String,
}

impl Deref for FakeOppo {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeOppo {
    pub async fn start(clock: &TestClock) -> Self {
        let app_key = random_hex(16);
        let master_secret = random_hex(16);
        let shared = Shared::new("oppo", true, clock);
        let state = Arc::new(OppoState {
            shared: shared.clone(),
            app_key: app_key.clone(),
            master_secret: master_secret.clone(),
            channels: channel_list(),
        });
        let router = Router::new()
            .route("/server/v1/auth", post(oppo_auth))
            .route("/server/v1/message/notification/unicast", post(oppo_send))
            .with_state(state);
        Self {
            fake: Fake::start(shared, router).await,
            app_key,
            master_secret,
        }
    }

    pub fn config(&self) -> OppoConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "app_key": self.app_key,
            "master_secret": self.master_secret,
            "channel_ids": fake_channel_ids(),
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.oppo]\nbase_url = {}\napp_key = {}\nmaster_secret = {}\nchannel_ids = {}\n",
            toml_str(self.base_url()),
            toml_str(&self.app_key),
            toml_str(&self.master_secret),
            channel_ids_toml(),
        )
    }
}

fn oppo_answer(code: i64, message: &str, data: Value) -> Response {
    json_response(
        200,
        json!({ "code": code, "message": message, "data": data }),
    )
}

async fn oppo_auth(
    State(state): State<Arc<OppoState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let shared = &state.shared;
    let Some(app_key) = form.get("app_key") else {
        shared.reject_auth();
        return oppo_answer(15, "Missing App Key", Value::Null);
    };
    if *app_key != state.app_key {
        shared.reject_auth();
        return oppo_answer(14, "Invalid App Key", Value::Null);
    }
    let Some(timestamp) = form.get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        shared.reject_auth();
        return oppo_answer(18, "Missing Timestamp", Value::Null);
    };
    if (timestamp - shared.clock.now_ms()).abs() > 10 * 60 * 1000 {
        shared.reject_auth();
        return oppo_answer(19, "Invalid Timestamp", Value::Null);
    }
    let expected = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{}{}{}", state.app_key, timestamp, state.master_secret).as_bytes(),
    ));
    if form.get("sign") != Some(&expected) {
        shared.reject_auth();
        return oppo_answer(16, "Invalid Signature", Value::Null);
    }
    let token = shared.issue("oppo", 24 * 3600 * 1000);
    oppo_answer(
        0,
        "Success",
        json!({ "auth_token": token, "create_time": shared.clock.now_ms() }),
    )
}

async fn oppo_send(
    State(state): State<Arc<OppoState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    let Some(auth_token) = form.get("auth_token") else {
        shared.reject_auth();
        return oppo_answer(29, "Missing Auth Token", Value::Null);
    };
    if shared.check_issued(auth_token).is_err() {
        return oppo_answer(11, "Invalid AuthToken", Value::Null);
    }
    let Some(message) = form
        .get("message")
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
    else {
        return oppo_answer(40, "Missing Required Arguments", Value::Null);
    };
    let n = &message["notification"];
    let Some(token) = message["target_value"].as_str().map(str::to_owned) else {
        return oppo_answer(40, "Missing Required Arguments", Value::Null);
    };
    let category = n["category"].as_str().map(str::to_owned);
    let level = n["notify_level"].as_i64();
    let category_ok = match (category.as_deref(), level) {
        (Some(c), Some(1 | 2 | 16)) if OPPO_PRIVATE.contains(&c) => true,
        (Some(c), Some(1 | 2)) if OPPO_PUBLIC.contains(&c) => true,
        _ => false,
    };
    if !category_ok {
        return oppo_answer(67, "Category error", Value::Null);
    }
    let title = n["title"].as_str().unwrap_or("");
    if message["target_type"].as_i64() != Some(2)
        || title.is_empty()
        || title.chars().count() > 50
        || n["content"]
            .as_str()
            .is_none_or(|c| c.chars().count() > 200)
        || n["app_message_id"].as_str().is_none_or(str::is_empty)
        || !n["channel_id"]
            .as_str()
            .is_some_and(|c| state.channels.iter().any(|k| k == c))
        || n["off_line_ttl"].as_i64().is_some_and(|t| t > 864_000)
    {
        return oppo_answer(41, "Invalid Arguments", Value::Null);
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        // Unconfirmed: OPPO's business code for an invalid registration id.
        Behaviour::Gone { .. } | Behaviour::InvalidToken => {
            return oppo_answer(10000, "Invalid RegistrationId", Value::Null);
        }
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(
                json_response(
                    429,
                    json!({ "code": -2, "message": "Service in Flow Control" }),
                ),
                retry_after_secs,
            );
        }
        Behaviour::ServerError => {
            return json_response(
                500,
                json!({ "code": -1, "message": "Service Currently Unavailable" }),
            );
        }
        Behaviour::BadPayload => return oppo_answer(41, "Invalid Arguments", Value::Null),
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let mut fields = BTreeMap::new();
    for name in ["channel_id", "notify_level", "off_line_ttl"] {
        match &n[name] {
            Value::String(s) => {
                fields.insert(name.to_owned(), s.clone());
            }
            Value::Number(x) => {
                fields.insert(name.to_owned(), x.to_string());
            }
            _ => {}
        }
    }
    let message_id = message_id_in(&n["action_parameters"]);
    shared.record(Received {
        provider: "oppo",
        token,
        dedupe_id: n["app_message_id"].as_str().unwrap_or("").to_owned(),
        message_id,
        category,
        title: Some(title.to_owned()),
        fields,
        body: message.clone(),
    });
    apply_slow_answer(&behaviour).await;
    oppo_answer(
        0,
        "Success",
        json!({ "messageId": format!("{}-{}", random_hex(6), shared.next_id()) }),
    )
}

// ---------------------------------------------------------------- vivo ----

struct VivoState {
    shared: Arc<Shared>,
    app_id: u64,
    app_key: String,
    app_secret: String,
}

const VIVO_SYSTEM: [&str; 6] = [
    "IM",
    "ACCOUNT",
    "TODO",
    "DEVICE_REMINDER",
    "ORDER",
    "SUBSCRIPTION",
];
const VIVO_OPERATIONAL: [&str; 4] = ["NEWS", "CONTENT", "MARKETING", "SOCIAL"];

/// A fake vivo push.
#[derive(Debug)]
pub struct FakeVivo {
    pub fake: Fake,
    pub app_id: u64,
    pub app_key: String,
    pub app_secret: String,
}

impl Deref for FakeVivo {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl FakeVivo {
    pub async fn start(clock: &TestClock) -> Self {
        let app_id = 105_559_831;
        let app_key = random_hex(16);
        let app_secret = random_hex(16);
        let shared = Shared::new("vivo", true, clock);
        let state = Arc::new(VivoState {
            shared: shared.clone(),
            app_id,
            app_key: app_key.clone(),
            app_secret: app_secret.clone(),
        });
        let router = Router::new()
            .route("/message/auth", post(vivo_auth))
            .route("/message/send", post(vivo_send))
            .with_state(state);
        Self {
            fake: Fake::start(shared, router).await,
            app_id,
            app_key,
            app_secret,
        }
    }

    pub fn config(&self) -> VivoConfig {
        from_json(json!({
            "base_url": self.base_url(),
            "app_id": self.app_id.to_string(),
            "app_key": self.app_key,
            "app_secret": self.app_secret,
        }))
    }

    pub fn toml(&self) -> String {
        format!(
            "[push.vivo]\nbase_url = {}\napp_id = {}\napp_key = {}\napp_secret = {}\n",
            toml_str(self.base_url()),
            toml_str(&self.app_id.to_string()),
            toml_str(&self.app_key),
            toml_str(&self.app_secret),
        )
    }
}

fn vivo_answer(result: i64, desc: &str) -> Response {
    json_response(200, json!({ "result": result, "desc": desc }))
}

fn vivo_units(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

async fn vivo_auth(State(state): State<Arc<VivoState>>, body: Bytes) -> Response {
    let shared = &state.shared;
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        shared.reject_auth();
        return vivo_answer(10200, "appId 不能为空");
    };
    let timestamp = request["timestamp"].as_i64().unwrap_or(0);
    if request["appId"].as_u64() != Some(state.app_id)
        || request["appKey"].as_str() != Some(state.app_key.as_str())
    {
        shared.reject_auth();
        return vivo_answer(10201, "appId 或 appKey 不合法");
    }
    if (timestamp - shared.clock.now_ms()).abs() > 10 * 60 * 1000 {
        shared.reject_auth();
        return vivo_answer(10203, "timestamp 不合法");
    }
    let expected = hex::encode(md5::Md5::digest(
        format!(
            "{}{}{}{}",
            state.app_id, state.app_key, timestamp, state.app_secret
        )
        .as_bytes(),
    ));
    if request["sign"].as_str() != Some(expected.as_str()) {
        shared.reject_auth();
        return vivo_answer(10205, "sign 不合法");
    }
    let token = shared.issue("vivo", 24 * 3600 * 1000);
    json_response(
        200,
        json!({ "result": 0, "desc": "请求成功", "authToken": token }),
    )
}

async fn vivo_send(
    State(state): State<Arc<VivoState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &state.shared;
    shared.send_attempts.fetch_add(1, Ordering::SeqCst);
    match header(&headers, "authToken") {
        Some(token) if shared.check_issued(&token).is_ok() => {}
        Some(_) => return vivo_answer(10000, "authToken 不合法"),
        None => {
            shared.reject_auth();
            return vivo_answer(10000, "authToken 不合法");
        }
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return vivo_answer(10085, "请求体不合法");
    };
    if request["appId"].as_u64() != Some(state.app_id) {
        return vivo_answer(10094, "appId 与鉴权信息不一致");
    }
    let Some(token) = request["regId"].as_str().map(str::to_owned) else {
        return vivo_answer(10050, "alias和regId 不能都为空");
    };
    let classification = request["classification"].as_i64();
    let category = request["category"].as_str().map(str::to_owned);
    let classification_ok = match (classification, category.as_deref()) {
        (Some(1), Some(c)) => VIVO_SYSTEM.contains(&c),
        (Some(0), Some(c)) => VIVO_OPERATIONAL.contains(&c),
        _ => false,
    };
    let title = request["title"].as_str().unwrap_or("");
    let ttl = request["timeToLive"].as_i64().unwrap_or(86_400);
    if !classification_ok
        || title.is_empty()
        || vivo_units(title) > 40
        || request["content"]
            .as_str()
            .is_none_or(|c| vivo_units(c) > 100)
        || !(900..=604_800).contains(&ttl)
        || !(1..=4).contains(&request["notifyType"].as_i64().unwrap_or(0))
        || request["requestId"]
            .as_str()
            .is_none_or(|r| r.is_empty() || r.chars().count() > 64)
    {
        // Illustrative code for a rejected parameter.
        return vivo_answer(10085, "参数不合法");
    }
    let behaviour = shared.behaviour(&token);
    apply_slow(&behaviour).await;
    match behaviour {
        Behaviour::Gone { .. } | Behaviour::InvalidToken => {
            return json_response(
                200,
                json!({ "result": 10302, "desc": "regId不合法", "invalidUser": { "status": 1, "userid": token } }),
            );
        }
        Behaviour::TooMany { retry_after_secs } => {
            return with_retry_after(
                json_response(429, json!({ "result": 10070, "desc": "发送总量超出限制" })),
                retry_after_secs,
            );
        }
        Behaviour::ServerError => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internet server error!").into_response();
        }
        Behaviour::BadPayload => return vivo_answer(10085, "参数不合法"),
        Behaviour::Accept | Behaviour::Slow { .. } | Behaviour::SlowAnswer { .. } => {}
    }
    let mut fields = BTreeMap::new();
    if let Some(c) = &category {
        fields.insert("vivo.category".to_owned(), c.clone());
    }
    for name in ["timeToLive", "notifyType", "pushMode"] {
        if let Some(v) = request[name].as_i64() {
            fields.insert(name.to_owned(), v.to_string());
        }
    }
    shared.record(Received {
        provider: "vivo",
        token,
        dedupe_id: request["requestId"].as_str().unwrap_or("").to_owned(),
        message_id: message_id_in(&request["clientCustomMap"]),
        category: classification.map(|c| c.to_string()),
        title: Some(title.to_owned()),
        fields,
        body: request.clone(),
    });
    apply_slow_answer(&behaviour).await;
    json_response(
        200,
        json!({ "result": 0, "desc": "请求成功", "taskId": format!("{}", 121_397_329 + shared.next_id()) }),
    )
}

// ----------------------------------------------------------------- all ----

/// All seven fakes on one [`TestClock`].
#[derive(Debug)]
pub struct FakePush {
    pub clock: TestClock,
    pub apns: FakeApns,
    pub fcm: FakeFcm,
    pub huawei: FakeHuawei,
    pub honor: FakeHonor,
    pub xiaomi: FakeXiaomi,
    pub oppo: FakeOppo,
    pub vivo: FakeVivo,
    /// `[push.apns]` ... `[push.vivo]` pointing at the fakes with matching
    /// credentials, for a server configuration file.
    pub toml: String,
}

impl FakePush {
    pub async fn start_all() -> Self {
        let clock = TestClock::new();
        let apns = FakeApns::start(&clock).await;
        let fcm = FakeFcm::start(&clock).await;
        let huawei = FakeHuawei::start(&clock).await;
        let honor = FakeHonor::start(&clock).await;
        let xiaomi = FakeXiaomi::start(&clock).await;
        let oppo = FakeOppo::start(&clock).await;
        let vivo = FakeVivo::start(&clock).await;
        let toml = [
            apns.toml(),
            fcm.toml(),
            huawei.toml(),
            honor.toml(),
            xiaomi.toml(),
            oppo.toml(),
            vivo.toml(),
        ]
        .join("\n");
        Self {
            clock,
            apns,
            fcm,
            huawei,
            honor,
            xiaomi,
            oppo,
            vivo,
            toml,
        }
    }

    /// The configuration the TOML snippet describes.
    pub fn config(&self) -> ProvidersConfig {
        ProvidersConfig {
            apns: Some(self.apns.config()),
            fcm: Some(self.fcm.config()),
            huawei: Some(self.huawei.config()),
            honor: Some(self.honor.config()),
            xiaomi: Some(self.xiaomi.config()),
            oppo: Some(self.oppo.config()),
            vivo: Some(self.vivo.config()),
        }
    }

    /// The fake of `provider` (`"apns"`, ..., `"vivo"`).
    pub fn fake(&self, provider: &str) -> Option<&Fake> {
        Some(match provider {
            "apns" => &self.apns.fake,
            "fcm" => &self.fcm.fake,
            "huawei" => &self.huawei.fake,
            "honor" => &self.honor.fake,
            "xiaomi" => &self.xiaomi.fake,
            "oppo" => &self.oppo.fake,
            "vivo" => &self.vivo.fake,
            _ => return None,
        })
    }
}
