//! The requests and answers of docs/formats.md ("HTTP"), field for field.
//! Types that carry personal data or tokens print them masked in `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::credential::{CredentialError, HolderCredential, PresentationRequest};
use crate::crypto::VerifyingKey;
use crate::forms::{
    AttachmentEntry, Conflict, Draft, FormSchema, Label, LicenceRefEntry, SchemaError,
};
use crate::identity::IdNumber;

const REDACTED: &str = "<redacted>";

/// `POST /v1/enrolments`: what the ID-card reading and face check on the
/// phone yielded, and the device key the 网证 is bound to. Personal data:
/// `Debug` masks the name and the ID number.
#[derive(Clone)]
#[non_exhaustive]
pub struct EnrolmentRequest {
    /// The name as read from the ID card.
    pub name: String,
    /// The ID number as read from the ID card.
    pub id_number: IdNumber,
    /// SM3 or SHA-256 digest of the verified photo.
    pub photo_digest: [u8; 32],
    /// The phone's device key the 网证 is bound to.
    pub device_public_key: VerifyingKey,
}

impl EnrolmentRequest {
    /// The request for these enrolment data and device key.
    pub fn new(
        name: impl Into<String>,
        id_number: IdNumber,
        photo_digest: [u8; 32],
        device_public_key: VerifyingKey,
    ) -> Self {
        Self {
            name: name.into(),
            id_number,
            photo_digest,
            device_public_key,
        }
    }

    /// The JSON body: `{"name", "id_number", "photo_digest": "<64 hex>",
    /// "device_public_key": "<SPKI PEM>"}`.
    pub(crate) fn to_wire(&self) -> EnrolmentBody<'_> {
        EnrolmentBody {
            name: &self.name,
            id_number: self.id_number.as_str(),
            photo_digest: self
                .photo_digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            device_public_key: self.device_public_key.to_spki_pem(),
        }
    }
}

impl fmt::Debug for EnrolmentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrolmentRequest")
            .field("name", &crate::identity::mask_name(&self.name))
            .field("id_number", &self.id_number)
            .field("device_public_key", &self.device_public_key)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
pub(crate) struct EnrolmentBody<'a> {
    name: &'a str,
    id_number: &'a str,
    photo_digest: String,
    device_public_key: String,
}

/// `201` answer of `POST /v1/enrolments`, with the holder file decoded.
#[derive(Clone)]
#[non_exhaustive]
pub struct Enrolment {
    /// The holder's 网号.
    pub network_id: String,
    /// 1 for a first enrolment, + 1 for each new phone.
    pub generation: u32,
    /// The new 网证's bit in the issuer's status list.
    pub status_index: u32,
    /// The status index of the previous copy, now revoked (a re-enrolment).
    pub revoked_previous: Option<u32>,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub expires: i64,
    /// The 网证, for the wallet.
    pub credential: HolderCredential,
}

impl fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrolment")
            .field("network_id", &REDACTED)
            .field("generation", &self.generation)
            .field("status_index", &self.status_index)
            .field("revoked_previous", &self.revoked_previous)
            .field("not_before", &self.not_before)
            .field("expires", &self.expires)
            .field("credential", &self.credential)
            .finish()
    }
}

#[derive(Deserialize)]
pub(crate) struct EnrolmentWire {
    pub(crate) network_id: String,
    pub(crate) generation: u32,
    pub(crate) status_index: u32,
    pub(crate) revoked_previous: Option<u32>,
    pub(crate) not_before: i64,
    pub(crate) expires: i64,
    /// Base64 (standard alphabet, padded) of the holder file.
    pub(crate) credential: String,
}

/// `GET /v1/issuer`: what a verifier needs to trust this server's 网证.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct IssuerInfo {
    /// The issuer key's identifier (hex).
    pub kid: String,
    /// `gm` or `intl`.
    pub suite: crate::crypto::Suite,
    /// The issuer's public key, SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
    /// Path of the signed status list: `/v1/status-lists/<kid>`.
    pub status_list: String,
}

impl IssuerInfo {
    /// The issuer's public key.
    pub fn public_key(&self) -> Result<VerifyingKey, crate::crypto::CryptoError> {
        VerifyingKey::from_spki_pem(&self.public_key_pem)
    }
}

/// `POST /v1/auth/challenge`: a one-use login challenge.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Challenge {
    /// The nonce the login presentation must carry.
    pub nonce: String,
    /// `yiwang-server`.
    pub audience: String,
    /// Seconds the challenge stays usable.
    pub expires_in: i64,
    /// The claims the login presentation must disclose (`network_id`).
    pub disclose: Vec<String>,
}

impl Challenge {
    /// What to present to log in: to [`Challenge::audience`], with the nonce
    /// (its UTF-8 bytes), disclosing [`Challenge::disclose`].
    pub fn presentation_request(&self) -> Result<PresentationRequest, CredentialError> {
        presentation_request(&self.audience, &self.nonce, &self.disclose)
    }
}

fn presentation_request(
    audience: &str,
    nonce: &str,
    claims: &[String],
) -> Result<PresentationRequest, CredentialError> {
    Ok(PresentationRequest {
        nonce: Some(nonce.as_bytes().to_vec()),
        ..PresentationRequest::new(audience).with_disclosure_list(&claims.join(","))?
    })
}

/// `POST /v1/auth/login` body (`device_name` left out when absent).
#[derive(Serialize)]
pub(crate) struct LoginBody<'a> {
    pub(crate) presentation: &'a str,
    pub(crate) nonce: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) device_name: Option<&'a str>,
}

/// `POST /v1/auth/refresh` body.
#[derive(Serialize)]
pub(crate) struct RefreshBody<'a> {
    pub(crate) refresh_token: &'a str,
}

/// `POST /v1/login-sessions/{id}/approve` body.
#[derive(Serialize)]
pub(crate) struct ApproveBody<'a> {
    pub(crate) presentation: &'a str,
}

/// The answer of login and refresh. Both tokens are secrets: `Debug` hides them.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Tokens {
    /// ES256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single use: [`crate::client::ApiClient::refresh`] spends it.
    pub refresh_token: String,
    /// Seconds the access token is valid (900).
    pub expires_in: i64,
    /// The device session these tokens belong to (`GET /v1/me/devices`).
    pub device_id: String,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("expires_in", &self.expires_in)
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// `GET /v1/me`: whose the bearer token is. `Debug` hides the 网号.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Me {
    /// The account's 网号.
    pub network_id: String,
    /// The device session of the token.
    pub device_id: String,
}

impl fmt::Debug for Me {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Me")
            .field("network_id", &REDACTED)
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// One signed-in device of the account (`GET /v1/me/devices`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Device {
    /// The device session's identifier (for signing it out).
    pub device_id: String,
    /// The `device_name` given at login, if any.
    pub name: Option<String>,
    /// Unix seconds.
    pub signed_in_at: i64,
    /// Unix seconds.
    pub last_seen_at: i64,
    /// The device of the bearer token making the call.
    pub current: bool,
}

#[derive(Deserialize)]
pub(crate) struct DevicesWire {
    pub(crate) devices: Vec<Device>,
}

/// Where a scan-to-login session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LoginSessionStatus {
    /// Waiting for the citizen's decision.
    Pending,
    /// Approved; the website has not fetched its ID token yet.
    Approved,
    /// Refused by the citizen.
    Refused,
    /// Approved and the ID token handed to the website.
    Completed,
    /// Not decided in time.
    Expired,
    /// A status this version does not know (a newer server).
    #[serde(other)]
    Unknown,
}

/// The website asking for a scan-to-login.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RelyingParty {
    /// The website's registered client id.
    pub client_id: String,
    /// The name to show the citizen.
    pub name: String,
}

/// `GET /v1/login-sessions/{id}`: what the website asks for, to show the
/// citizen before they approve.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct LoginSessionInfo {
    /// The session's identifier (the QR code's `session`).
    pub session_id: String,
    /// Who asks.
    pub relying_party: RelyingParty,
    /// The audience of the presentation that approves the session.
    pub audience: String,
    /// The claims the website asks for (claim names and derived statements).
    pub claims: Vec<String>,
    /// The nonce of the presentation.
    pub nonce: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Where the session stands.
    pub status: LoginSessionStatus,
}

impl LoginSessionInfo {
    /// What to present to approve: to [`LoginSessionInfo::audience`], with the
    /// nonce (its UTF-8 bytes), disclosing [`LoginSessionInfo::claims`]. Set
    /// `mode` after the platform's PIN or biometric check.
    pub fn presentation_request(&self) -> Result<PresentationRequest, CredentialError> {
        presentation_request(&self.audience, &self.nonce, &self.claims)
    }
}

/// `{"status"}` answer of approve and refuse.
#[derive(Deserialize)]
pub(crate) struct StatusWire {
    pub(crate) status: LoginSessionStatus,
}

/// The push service a device token comes from: Apple's, Google's, or one of
/// the Chinese Android vendors' (a phone without Google services gets its
/// token from its maker's SDK).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushProvider {
    /// Apple Push Notification service (iOS).
    Apns,
    /// Firebase Cloud Messaging.
    Fcm,
    /// Huawei Push Kit.
    Huawei,
    /// Honor Push.
    Honor,
    /// Xiaomi Mi Push.
    Xiaomi,
    /// OPPO Push (HeyTap).
    Oppo,
    /// vivo Push.
    Vivo,
}

/// The APNs environment a token belongs to: development builds get sandbox
/// tokens, App Store and TestFlight builds production ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    /// `api.sandbox.push.apple.com`.
    Sandbox,
    /// `api.push.apple.com`.
    Production,
}

/// Local quiet hours, `HH:MM` to `HH:MM` (may span midnight): pushes other
/// than `security` falling inside wait for the end. Equal times: none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuietHours {
    /// `HH:MM`, local time.
    pub start: String,
    /// `HH:MM`, local time.
    pub end: String,
}

impl QuietHours {
    /// From `start` to `end` (`HH:MM`).
    pub fn new(start: impl Into<String>, end: impl Into<String>) -> Self {
        Self {
            start: start.into(),
            end: end.into(),
        }
    }
}

/// `PUT /v1/me/push`: this device's push token and preferences (the whole
/// registration: a new one replaces the old). Unset options take the
/// server's defaults: locale `zh-CN`, time zone `Asia/Shanghai`, quiet hours
/// 22:00-07:00, nothing opted out. The token is personal data: `Debug` shows
/// its first 4 characters only.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PushRegistrationRequest {
    /// Whose token it is.
    pub provider: PushProvider,
    /// The provider's device token (APNs: 64-200 hex characters; others:
    /// 8-4096 printable characters).
    pub token: String,
    /// APNs only, and required there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apns_environment: Option<ApnsEnvironment>,
    /// The bundle id (the APNs topic) or the Android package name.
    pub app_id: String,
    /// `zh-CN` or `en`: the language of the pushes and, by default, of the inbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA time zone of the quiet hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Unset: 22:00-07:00; equal start and end: no quiet hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Categories not to push (`service`, `reminder`, `application_status`,
    /// `campaign`; never `security`). They still reach the inbox.
    pub opted_out: Vec<String>,
}

impl PushRegistrationRequest {
    /// A registration of `token` from `provider` for the app `app_id`, with
    /// the server's defaults (for APNs, set `apns_environment`).
    pub fn new(
        provider: PushProvider,
        token: impl Into<String>,
        app_id: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            token: token.into(),
            apns_environment: None,
            app_id: app_id.into(),
            locale: None,
            time_zone: None,
            quiet_hours: None,
            opted_out: Vec::new(),
        }
    }
}

impl fmt::Debug for PushRegistrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushRegistrationRequest")
            .field("provider", &self.provider)
            .field("token", &mask_token(&self.token))
            .field("apns_environment", &self.apns_environment)
            .field("app_id", &self.app_id)
            .field("locale", &self.locale)
            .field("time_zone", &self.time_zone)
            .field("quiet_hours", &self.quiet_hours)
            .field("opted_out", &self.opted_out)
            .finish()
    }
}

/// A push token as logs may show it: its first 4 characters and `…` (what
/// the server logs too).
fn mask_token(token: &str) -> String {
    let head: String = token.chars().take(4).collect();
    format!("{head}…")
}

/// `PUT` / `GET /v1/me/push`: this device's registration. The token is not
/// echoed, only [`PushRegistration::token_hint`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PushRegistration {
    /// The device session it belongs to (that of the access token).
    pub device_id: String,
    /// Whose token it is.
    pub provider: PushProvider,
    /// The token's first 4 characters.
    pub token_hint: String,
    /// APNs only.
    pub apns_environment: Option<ApnsEnvironment>,
    /// The bundle id or Android package name.
    pub app_id: String,
    /// `zh-CN` or `en`.
    pub locale: String,
    /// IANA time zone.
    pub time_zone: String,
    /// `None`: no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// Categories not pushed.
    pub opted_out: Vec<String>,
    /// When this token was first registered (Unix milliseconds).
    pub registered_ms: i64,
    /// When the registration last changed (Unix milliseconds).
    pub updated_ms: i64,
}

/// `GET /v1/inbox` query; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxQuery {
    /// [`InboxPage::next_before`] of the previous page; unset: the newest.
    pub before: Option<i64>,
    /// Messages per page, 1 to 100 (the server's default: 20).
    pub limit: Option<u32>,
    /// `zh-CN` or `en`; unset: the device's push locale, else `zh-CN`.
    pub locale: Option<String>,
}

impl InboxQuery {
    /// The query string's pairs, in a fixed order.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(before) = self.before {
            pairs.push(("before", before.to_string()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(locale) = &self.locale {
            pairs.push(("locale", locale.clone()));
        }
        pairs
    }
}

/// One page of the citizen's inbox, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct InboxPage {
    /// Newest first.
    pub messages: Vec<InboxMessage>,
    /// Unread messages in the whole inbox (not only this page).
    pub unread: u32,
    /// Pass as [`InboxQuery::before`] for the next (older) page; `None` on
    /// the last page.
    pub next_before: Option<i64>,
}

/// One message of the inbox: every notification sent to the citizen,
/// pushed or not, with its full text (a push carries only a neutral title and
/// the message id). The text may name the citizen's affairs: `Debug` leaves
/// out the title and body.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct InboxMessage {
    /// The notification id: a push's `message_id`, for
    /// [`crate::client::ApiClient::mark_opened`].
    pub id: String,
    /// `service`, `reminder`, `application_status`, `security` or `campaign`
    /// (a newer server may add others).
    pub category: String,
    /// In the query's locale.
    pub title: String,
    /// In the query's locale.
    pub body: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// When it was first marked read (Unix milliseconds).
    pub read_ms: Option<i64>,
    /// When the citizen first opened its push (Unix milliseconds).
    pub opened_ms: Option<i64>,
}

impl fmt::Debug for InboxMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxMessage")
            .field("id", &self.id)
            .field("category", &self.category)
            .field("title", &REDACTED)
            .field("body", &REDACTED)
            .field("created_ms", &self.created_ms)
            .field("read_ms", &self.read_ms)
            .field("opened_ms", &self.opened_ms)
            .finish()
    }
}

/// `GET /v1/matters` query; every part optional (unset: every current,
/// unretired matter, 20 a page).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MatterQuery {
    /// Words of the matter's or its department's name, zh or en; each must
    /// appear (1 to 64 characters).
    pub q: Option<String>,
    /// A department code ([`Department::code`]).
    pub department: Option<String>,
    /// A life event id ([`LifeEvent::id`]).
    pub life_event: Option<String>,
    /// Matters per page, 1 to 100 (the server's default: 20).
    pub limit: Option<u32>,
    /// [`MatterPage::next_cursor`] of the previous page; unset: the first.
    pub cursor: Option<String>,
}

impl MatterQuery {
    /// The query string's pairs, in a fixed order.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let text = [
            ("q", &self.q),
            ("department", &self.department),
            ("life_event", &self.life_event),
        ];
        let mut pairs: Vec<_> = text
            .into_iter()
            .filter_map(|(key, value)| value.clone().map(|value| (key, value)))
            .collect();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        pairs
    }
}

/// One page of the catalog's current, unretired matters, in code order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MatterPage {
    /// In code order.
    pub matters: Vec<MatterSummary>,
    /// Pass as [`MatterQuery::cursor`] for the next page; `None` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A matter as the catalog lists it; [`crate::client::ApiClient::matter`]
/// gives the whole of it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MatterSummary {
    /// The standard code (同一事项、同一标准、同一编码).
    pub code: String,
    /// The current version.
    pub version: u32,
    /// In Chinese and English.
    pub name: Label,
    /// Who handles it.
    pub department: Department,
    /// A [`LifeEvent::id`].
    pub life_event: String,
    /// `online` (applied for with the form), `window` (in person) or
    /// `automatic` (免申即领: granted without an application); a newer
    /// server may add others.
    pub delivery: String,
}

/// The department that handles a matter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Department {
    /// 1 to 32 characters of `A-Z 0-9` (its credit code, where it has one).
    pub code: String,
    /// In Chinese and English.
    pub name: Label,
}

/// `GET /v1/matters/{code}`: a matter (事项) at one version, with its form.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Matter {
    /// The standard code.
    pub code: String,
    /// The version read (a draft remembers it: its form is that version's).
    pub version: u32,
    /// No longer listed or offered; its versions stay readable.
    pub retired: bool,
    /// In Chinese and English.
    pub name: Label,
    /// What the matter is for, in a sentence or two.
    #[serde(default)]
    pub summary: Option<Label>,
    /// Who handles it.
    pub department: Department,
    /// A [`LifeEvent::id`].
    pub life_event: String,
    /// `online`, `window` or `automatic` (see [`MatterSummary::delivery`]).
    pub delivery: String,
    /// GB/T 36904 licence type codes (21 characters) the matter needs.
    #[serde(default)]
    pub required_licences: Vec<String>,
    /// The form schema's JSON text (`online` matters only), for
    /// [`Matter::form_schema`] or the bindings' `FormSchema.fromJson`.
    #[serde(rename = "form", default, deserialize_with = "json_text")]
    pub form_json: Option<String>,
}

impl Matter {
    /// The form, loaded with [`FormSchema::from_json`]; `None` for a matter
    /// without one (`window`, `automatic`).
    pub fn form_schema(&self) -> Option<Result<FormSchema, SchemaError>> {
        self.form_json.as_deref().map(FormSchema::from_json)
    }
}

/// A JSON value (absent or `null`: `None`) as its JSON text.
fn json_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.map(|v| v.to_string()))
}

/// `GET /v1/life-events`: a life event matters are grouped by (出生, 养老, …).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct LifeEvent {
    /// `birth`, `old_age`, …: [`MatterQuery::life_event`].
    pub id: String,
    /// In Chinese and English.
    pub name: Label,
}

/// `GET /v1/recommendations`: one offer (or notice of a grant) in the
/// citizen's feed, made by the server's rules from a life event or the
/// citizen's profile.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Recommendation {
    /// For [`crate::client::ApiClient::dismiss_recommendation`] and
    /// [`crate::client::ApiClient::snooze_recommendation`].
    pub id: i64,
    /// The matter's code, for [`crate::client::ApiClient::matter`].
    pub matter_code: String,
    /// In Chinese and English.
    pub matter_name: Label,
    /// `online`, `window` or `automatic` (see [`MatterSummary::delivery`]).
    pub delivery: String,
    /// `offer` (the citizen may apply) or `grant` (免申即领: granted without
    /// an application; this is the notice); a newer server may add others.
    pub action: String,
    /// Why, in plain words, in Chinese and English.
    pub reason: Label,
    /// 0 to 100: the feed's order.
    pub priority: u32,
    /// When it was made (Unix milliseconds).
    pub created_ms: i64,
}

/// `GET /v1/recommendations`'s answer.
#[derive(Deserialize)]
pub(crate) struct RecommendationsWire {
    pub(crate) recommendations: Vec<Recommendation>,
}

/// `POST /v1/recommendations/{id}/snooze`'s body.
#[derive(Serialize)]
pub(crate) struct SnoozeBody {
    pub(crate) days: u32,
}

/// `GET` / `PUT /v1/me/recommendation-settings`: what the recommendations
/// may be based on. A `PUT` sends the whole of it but
/// [`RecommendationSettings::consent_changed_ms`], which the server sets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecommendationSettings {
    /// Consent to matching on the profile (age, region, licences held).
    /// Without it only the offers the law requires, on events, are made;
    /// `false` until given.
    pub profile_consent: bool,
    /// Life events ([`LifeEvent::id`]) whose matters are not to be offered.
    pub opted_out: Vec<String>,
    /// When consent was last given or withdrawn (Unix milliseconds); `None`
    /// until it was. Set by the server: never sent.
    #[serde(default, skip_serializing)]
    pub consent_changed_ms: Option<i64>,
}

impl RecommendationSettings {
    /// Settings to store: consent given or not, and the life events opted out of.
    pub fn new(profile_consent: bool, opted_out: Vec<String>) -> Self {
        Self {
            profile_consent,
            opted_out,
            consent_changed_ms: None,
        }
    }
}

/// `PUT /v1/drafts/{id}` body: a draft's values as this device has them.
/// Values are personal data: `Debug` shows the field names only.
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DraftUpload {
    /// The matter's standard code.
    pub matter_code: String,
    /// The form version the values follow.
    pub schema_version: u32,
    /// The values, keyed by field id (incomplete drafts are fine).
    pub values: BTreeMap<String, Value>,
    /// The fields prefilled from government data (read-only on every device).
    pub government: Vec<String>,
}

impl DraftUpload {
    /// The upload of `draft`'s current values (unsaved edits included).
    pub fn of(draft: &Draft) -> Self {
        Self {
            matter_code: draft.matter_code().to_owned(),
            schema_version: draft.schema_version(),
            values: draft.values().clone(),
            government: draft.government_fields().iter().cloned().collect(),
        }
    }
}

impl fmt::Debug for DraftUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DraftUpload")
            .field("matter_code", &self.matter_code)
            .field("schema_version", &self.schema_version)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .field("government", &self.government)
            .finish()
    }
}

/// `GET` / `PUT /v1/drafts/{id}`: the draft as the server stores it.
/// Values are personal data: `Debug` shows the field names only.
#[derive(Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RemoteDraft {
    /// The draft id (32 lowercase hex digits), the same on every device.
    pub id: String,
    /// The matter's standard code.
    pub matter_code: String,
    /// The form version the values follow.
    pub schema_version: u32,
    /// The server's count of saves (1, 2, …): the next `If-Match`.
    pub version: u32,
    /// The values, keyed by field id.
    pub values: BTreeMap<String, Value>,
    /// The fields prefilled from government data.
    pub government: Vec<String>,
    /// When it was last saved (Unix milliseconds).
    pub updated_ms: i64,
    /// When the server deletes it unless saved again (Unix milliseconds).
    pub expires_ms: i64,
    /// The upload was made from an older version and merged with the
    /// current one (no conflicts): `values` are not the upload's as sent.
    pub merged: bool,
}

impl RemoteDraft {
    /// The draft on this device: [`Draft::from_remote`], synced at
    /// [`RemoteDraft::version`].
    pub fn into_draft(self, now: i64) -> Draft {
        Draft::from_remote(
            self.id,
            self.matter_code,
            self.schema_version,
            self.values,
            self.government,
            self.version,
            now,
        )
    }
}

impl fmt::Debug for RemoteDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteDraft")
            .field("id", &self.id)
            .field("matter_code", &self.matter_code)
            .field("schema_version", &self.schema_version)
            .field("version", &self.version)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .field("government", &self.government)
            .field("updated_ms", &self.updated_ms)
            .field("expires_ms", &self.expires_ms)
            .field("merged", &self.merged)
            .finish()
    }
}

/// `GET /v1/drafts`: one of the citizen's drafts stored on the server.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DraftSummary {
    /// The draft id, for [`crate::client::ApiClient::draft`].
    pub id: String,
    /// The matter's standard code.
    pub matter_code: String,
    /// The form version the values follow.
    pub schema_version: u32,
    /// The server's count of saves.
    pub version: u32,
    /// When it was last saved (Unix milliseconds).
    pub updated_ms: i64,
    /// When the server deletes it unless saved again (Unix milliseconds).
    pub expires_ms: i64,
}

/// `GET /v1/drafts`'s answer.
#[derive(Deserialize)]
pub(crate) struct DraftsWire {
    pub(crate) drafts: Vec<DraftSummary>,
}

/// `409` YW-4096 on `PUT /v1/drafts/{id}`: another device changed the same
/// fields since the version this device synced. Nothing was stored. Values
/// are personal data: `Debug` shows the field names only.
#[derive(Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct DraftConflict {
    /// The server's current version: the next `If-Match`.
    pub version: u32,
    /// The current values on the server.
    pub values: BTreeMap<String, Value>,
    /// The current government fields on the server.
    pub government: Vec<String>,
    /// The values at the version named by `If-Match` (the merge's base).
    pub base_values: BTreeMap<String, Value>,
    /// The fields changed differently on both sides.
    pub conflicts: Vec<FieldConflict>,
}

impl fmt::Debug for DraftConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DraftConflict")
            .field("version", &self.version)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .field("government", &self.government)
            .field("conflicts", &self.conflicts)
            .finish_non_exhaustive()
    }
}

/// One field of a [`DraftConflict`]; `None` is "not filled in". `Debug`
/// shows the field name only.
#[derive(Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FieldConflict {
    /// The field id.
    pub field: String,
    /// The value at the `If-Match` version.
    #[serde(default)]
    pub base: Option<Value>,
    /// The value this device sent.
    #[serde(default)]
    pub yours: Option<Value>,
    /// The value on the server.
    #[serde(default)]
    pub theirs: Option<Value>,
}

impl fmt::Debug for FieldConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldConflict")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`crate::client::ApiClient::put_draft`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DraftPut {
    /// Stored (`201` created or `200`), possibly merged with another
    /// device's version ([`RemoteDraft::merged`]).
    Stored(RemoteDraft),
    /// `409` YW-4096: nothing stored; merge, let the citizen choose, retry
    /// with `If-Match` [`DraftConflict::version`].
    Conflict(DraftConflict),
}

/// The outcome of [`crate::client::ApiClient::sync_draft`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DraftSync {
    /// The server's version the draft is now synced with. With no
    /// conflicts, the server stores the draft's values as this version.
    pub version: u32,
    /// Another device's changes were merged into the draft (by the server,
    /// or on this device after a conflict or a stale version): the app shows
    /// the form again.
    pub merged: bool,
    /// Fields both devices changed differently, for which the draft kept
    /// this device's value. Non-empty: nothing was stored; once the citizen
    /// has chosen, the next sync is accepted.
    pub conflicts: Vec<Conflict>,
}

/// Where an application (办件) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApplicationStatus {
    /// Submitted (or supplemented), waiting for the department.
    Submitted,
    /// Accepted for processing (受理).
    Accepted,
    /// The department asks for more (补正): see the history's message.
    NeedsSupplement,
    /// Approved.
    Approved,
    /// Rejected (final): see the history's message.
    Rejected,
    /// Done (办结, final).
    Completed,
    /// A status this version does not know (a newer server).
    #[serde(other)]
    Unknown,
}

/// One change of an application's status. The message is the department's
/// to the citizen and may name their affairs: `Debug` says only whether
/// there is one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct StatusChange {
    /// The status from then on.
    pub status: ApplicationStatus,
    /// The department's message (required with `needs_supplement` and
    /// `rejected`).
    #[serde(default)]
    pub message: Option<String>,
    /// `citizen`, or the department that made the change.
    pub actor: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
}

impl fmt::Debug for StatusChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusChange")
            .field("status", &self.status)
            .field("message", &self.message.as_ref().map(|_| REDACTED))
            .field("actor", &self.actor)
            .field("at_ms", &self.at_ms)
            .finish()
    }
}

/// An application (办件): a submitted draft and where it stands. Lists
/// carry summaries, without `values`, `licence_refs`, `attachments` and
/// `history` (empty here). Values are personal data: `Debug` shows the
/// field names only.
#[derive(Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Application {
    /// `YW`, the submission date (China time) and 8 random digits.
    pub receipt_no: String,
    /// The submitted draft's id.
    pub draft_id: String,
    /// The matter's standard code.
    pub matter_code: String,
    /// The matter (and form) version applied for.
    pub matter_version: u32,
    /// In Chinese and English.
    pub matter_name: Label,
    /// Who handles it.
    pub department: Department,
    /// Where it stands.
    pub status: ApplicationStatus,
    /// When it was first submitted (Unix milliseconds).
    pub submitted_ms: i64,
    /// When its status last changed (Unix milliseconds).
    pub updated_ms: i64,
    /// The e-licences presented, in form order.
    #[serde(default)]
    pub licence_refs: Vec<LicenceRefEntry>,
    /// The submitted values.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// The attached files by hash, in form order.
    #[serde(default)]
    pub attachments: Vec<AttachmentEntry>,
    /// Every status change, oldest first.
    #[serde(default)]
    pub history: Vec<StatusChange>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("receipt_no", &self.receipt_no)
            .field("draft_id", &self.draft_id)
            .field("matter_code", &self.matter_code)
            .field("matter_version", &self.matter_version)
            .field("status", &self.status)
            .field("submitted_ms", &self.submitted_ms)
            .field("updated_ms", &self.updated_ms)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .field("licence_refs", &self.licence_refs)
            .field("attachments", &self.attachments)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/applications`: a page of the citizen's applications
/// (summaries), newest first.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ApplicationPage {
    /// Newest first.
    pub applications: Vec<Application>,
    /// Pass as `before` for the next (older) page; `None` on the last.
    #[serde(default)]
    pub next_before: Option<String>,
}

/// One problem the server found in a submission (`422` YW-4732), as
/// [`crate::forms::Draft::validate`] reports them: the messages name the
/// field and the constraint, never the value.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ServerProblem {
    /// `section_id.field_id` (or `licence_refs`, `attachments`).
    pub path: String,
    /// `YW-16xx`.
    pub code: String,
    /// In Simplified Chinese.
    pub message_zh: String,
    /// In English.
    pub message_en: String,
}

/// The server's error body `{code, message, request_id}`.
#[derive(Deserialize)]
pub(crate) struct ErrorWire {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The `problems` of a `422` YW-4732 error body.
#[derive(Deserialize)]
pub(crate) struct ProblemsWire {
    pub(crate) problems: Vec<ServerProblem>,
}

#[derive(Serialize)]
pub(crate) struct LicenceSyncBody {
    pub(crate) since: i64,
    pub(crate) device_public_key: String,
}

#[derive(Deserialize)]
pub(crate) struct LicenceSyncWire {
    pub(crate) licences: Vec<SyncedLicenceWire>,
    pub(crate) next: i64,
    pub(crate) more: bool,
}

#[derive(Deserialize)]
pub(crate) struct SyncedLicenceWire {
    pub(crate) identifier: String,
    pub(crate) type_code: String,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) version: i64,
    pub(crate) valid_until: Option<String>,
    pub(crate) credential: Option<String>,
}

/// A licence that changed, from [`super::ApiClient::sync_licences`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncedLicence {
    /// 证照标识 (GB/T 36904).
    pub identifier: String,
    /// 证照类型代码.
    pub type_code: String,
    /// The type's name, e.g. 结婚证.
    pub name: String,
    /// `active`, `suspended`, `revoked` or `expired`.
    pub status: String,
    /// 1 at issue, +1 for each change.
    pub version: i64,
    /// `YYYY-MM-DD`, or `None` for 长期.
    pub valid_until: Option<String>,
    /// The licence for the wallet, bound to the device key; `None` when
    /// revoked or expired (delete the wallet's copy).
    pub credential: Option<HolderCredential>,
}

/// One page of licence changes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LicenceSync {
    /// The changes, in order.
    pub licences: Vec<SyncedLicence>,
    /// The `since` of the next call.
    pub next: i64,
    /// More changes wait.
    pub more: bool,
}

#[derive(Deserialize)]
pub(crate) struct LicenceUsesWire {
    pub(crate) uses: Vec<LicenceUse>,
}

/// One use of the citizen's licences by a department, or a refusal.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct LicenceUse {
    /// The licence (none when a type was asked for and none is held).
    pub licence_id: Option<String>,
    /// Its type code.
    pub type_code: Option<String>,
    /// The licence type's name.
    pub licence_name: Option<String>,
    /// The department's code.
    pub department: String,
    /// The application it was for.
    pub receipt_no: String,
    /// The citizen's reason for use (用证事由).
    pub reason: Option<String>,
    /// `used` or `refused`.
    pub outcome: String,
    /// Why it was refused (`YW-4035` no consent, `YW-4088` revoked, …).
    pub code: Option<String>,
    /// Unix milliseconds.
    pub at_ms: i64,
}

#[derive(Serialize)]
pub(crate) struct AuthorisationBody<'a> {
    pub(crate) licence_type: &'a str,
    pub(crate) reason: &'a str,
}
