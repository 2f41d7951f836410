use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use yiwang_core::client as core;
use yiwang_core::crypto::VerifyingKey;
use yiwang_core::forms::Label;
use yiwang_core::identity::IdNumber;
use yiwang_core::scan;

use crate::YiwangError;
use crate::credential::{Credential, PresentationRequest, TrustList};
use crate::forms::{Conflict, Draft, FormSchema, conflicts, submission_of};
use crate::keystore::PlatformKeyStore;
use crate::wallet::{Wallet, delete_licence};

/// How to reach `yiwang serve`. Unset values take the library's defaults
/// (10 s per attempt, 4 attempts, backoff from 200 ms doubling up to 5 s).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// `https://…`, or `http://` on 127.0.0.1, localhost or [::1] (development).
    pub base_url: String,
    #[uniffi(default = None)]
    pub timeout_ms: Option<u64>,
    #[uniffi(default = None)]
    pub max_attempts: Option<u32>,
    #[uniffi(default = None)]
    pub backoff_base_ms: Option<u64>,
    #[uniffi(default = None)]
    pub backoff_max_ms: Option<u64>,
    #[uniffi(default = None)]
    pub user_agent: Option<String>,
    /// PEM certificates: the only roots trusted (pin the platform's CA). On
    /// Android, without them the app must initialise rustls-platform-verifier.
    #[uniffi(default = None)]
    pub trusted_roots_pem: Option<String>,
}

impl From<ClientConfig> for core::ClientConfig {
    fn from(c: ClientConfig) -> Self {
        let mut config = core::ClientConfig::new(c.base_url);
        let ms = Duration::from_millis;
        config.timeout = c.timeout_ms.map_or(config.timeout, ms);
        config.max_attempts = c.max_attempts.unwrap_or(config.max_attempts);
        config.backoff_base = c.backoff_base_ms.map_or(config.backoff_base, ms);
        config.backoff_max = c.backoff_max_ms.map_or(config.backoff_max, ms);
        config.user_agent = c.user_agent.unwrap_or(config.user_agent);
        config.trusted_roots_pem = c.trusted_roots_pem;
        config
    }
}

/// What the phone's ID-card reading and face check yielded, for enrolment.
/// `toString()` / `description` is the masked Rust `Debug`: no token or
/// personal datum ends up in an app log by printing this.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct EnrolmentRequest {
    pub name: String,
    pub id_number: String,
    /// SM3 or SHA-256 digest of the verified photo (32 bytes).
    pub photo_digest: Vec<u8>,
    /// The device key the 网证 is bound to (SubjectPublicKeyInfo DER, as
    /// `PlatformKeyStore.generate` returns it).
    pub device_public_key: Vec<u8>,
}

impl std::fmt::Debug for EnrolmentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolmentRequest").finish_non_exhaustive()
    }
}

impl TryFrom<EnrolmentRequest> for core::EnrolmentRequest {
    type Error = YiwangError;

    fn try_from(r: EnrolmentRequest) -> Result<Self, YiwangError> {
        let id_number =
            IdNumber::parse(&r.id_number).map_err(|e| YiwangError::invalid(e.code(), e))?;
        let photo_digest = r
            .photo_digest
            .try_into()
            .map_err(|_| YiwangError::invalid("YW-1419", "the photo digest must be 32 bytes"))?;
        let device = VerifyingKey::from_spki_der(&r.device_public_key)?;
        Ok(core::EnrolmentRequest::new(
            r.name,
            id_number,
            photo_digest,
            device,
        ))
    }
}

/// The server's answer to an enrolment: the 网证 for the wallet.
/// `toString()` / `description` is the masked Rust `Debug`: no token or
/// personal datum ends up in an app log by printing this.
#[derive(uniffi::Record)]
#[uniffi::export(Debug)]
pub struct Enrolment {
    /// The holder's 网号.
    pub network_id: String,
    /// 1 for a first enrolment, + 1 for each new phone.
    pub generation: u32,
    /// The 网证's bit in the issuer's status list.
    pub status_index: u32,
    /// The previous phone's copy, now revoked.
    pub revoked_previous: Option<u32>,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub expires: i64,
    /// The 网证: store it in the wallet.
    pub credential: Arc<Credential>,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("generation", &self.generation)
            .field("status_index", &self.status_index)
            .finish_non_exhaustive()
    }
}

/// The issuer's public key and where its status list is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuerInfo {
    pub kid: String,
    /// `gm` or `intl`.
    pub suite: String,
    pub public_key_pem: String,
    /// Path of the status list (`/v1/status-lists/<kid>`).
    pub status_list: String,
}

/// A one-use login challenge, and what to present for it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Challenge {
    pub nonce: String,
    pub audience: String,
    pub expires_in: i64,
    pub disclose: Vec<String>,
    /// For `Credential.present`: audience, nonce and claims of this challenge.
    pub presentation_request: PresentationRequest,
}

/// An access token (15 minutes) and a single-use refresh token.
/// `toString()` / `description` is the masked Rust `Debug`: no token or
/// personal datum ends up in an app log by printing this.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct Tokens {
    /// For the other calls' `access_token`.
    pub access_token: String,
    /// Single use: `refresh` spends it.
    pub refresh_token: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// This phone's device session.
    pub device_id: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// Whose the access token is.
/// `toString()` / `description` is the masked Rust `Debug`: no token or
/// personal datum ends up in an app log by printing this.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct Me {
    /// The account's 网号.
    pub network_id: String,
    /// The token's device session.
    pub device_id: String,
}

impl std::fmt::Debug for Me {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Me")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// One signed-in device of the account.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Device {
    pub device_id: String,
    pub name: Option<String>,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// The device of the token that asked.
    pub current: bool,
}

/// Where a scan-to-login session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LoginSessionStatus {
    Pending,
    Approved,
    Refused,
    Completed,
    Expired,
    /// A status this library version does not know.
    Unknown,
}

/// A website's scan-to-login request, to show the citizen before approving.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LoginSession {
    /// For `approve_login` / `refuse_login`.
    pub session_id: String,
    /// The website's client id.
    pub client_id: String,
    /// The website's name, to show.
    pub relying_party_name: String,
    /// The audience of the approving presentation.
    pub audience: String,
    /// The claims the website asks for.
    pub claims: Vec<String>,
    pub nonce: String,
    pub expires_at: i64,
    pub status: LoginSessionStatus,
    /// For `Credential.present`: the session's audience, nonce and claims
    /// (set `mode` after the PIN or biometric check).
    pub presentation_request: PresentationRequest,
}

/// The push service a device token comes from: Apple's, Google's (FCM), or
/// one of the Chinese Android vendors' (a phone without Google services gets
/// its token from its maker's SDK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PushProvider {
    Apns,
    Fcm,
    Huawei,
    Honor,
    Xiaomi,
    Oppo,
    Vivo,
}

/// The APNs environment of a token: development builds get sandbox tokens,
/// App Store and TestFlight builds production ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ApnsEnvironment {
    Sandbox,
    Production,
}

/// Local quiet hours, `HH:MM` to `HH:MM` (may span midnight): pushes other
/// than security notices falling inside wait for the end. Equal times: none.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

/// This device's push token and preferences, for `register_push` (the whole
/// registration: a new one replaces the old). Unset options take the
/// server's defaults: locale zh-CN, time zone Asia/Shanghai, quiet hours
/// 22:00-07:00, nothing opted out.
/// `toString()` / `description` is the masked Rust `Debug`: it shows the
/// token's first 4 characters only.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct PushRegistrationRequest {
    pub provider: PushProvider,
    /// The provider's device token (APNs: hex).
    pub token: String,
    /// The bundle id (APNs topic) or Android package name.
    pub app_id: String,
    /// APNs only, and required there.
    #[uniffi(default = None)]
    pub apns_environment: Option<ApnsEnvironment>,
    /// `zh-CN` or `en`: the language of the pushes and, by default, the inbox.
    #[uniffi(default = None)]
    pub locale: Option<String>,
    /// IANA time zone of the quiet hours.
    #[uniffi(default = None)]
    pub time_zone: Option<String>,
    /// Unset: 22:00-07:00; equal start and end: no quiet hours.
    #[uniffi(default = None)]
    pub quiet_hours: Option<QuietHours>,
    /// Categories not to push: `service`, `reminder`, `application_status`,
    /// `campaign` (never `security`). They still reach the inbox.
    #[uniffi(default = [])]
    pub opted_out: Vec<String>,
}

impl std::fmt::Debug for PushRegistrationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The core's Debug masks the token.
        std::fmt::Debug::fmt(&core::PushRegistrationRequest::from(self.clone()), f)
    }
}

impl From<PushRegistrationRequest> for core::PushRegistrationRequest {
    fn from(r: PushRegistrationRequest) -> Self {
        let mut request = core::PushRegistrationRequest::new(r.provider.into(), r.token, r.app_id);
        request.apns_environment = r.apns_environment.map(Into::into);
        request.locale = r.locale;
        request.time_zone = r.time_zone;
        request.quiet_hours = r.quiet_hours.map(|q| core::QuietHours::new(q.start, q.end));
        request.opted_out = r.opted_out;
        request
    }
}

/// This device's push registration. The token is not echoed: `token_hint`
/// is its first 4 characters.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushRegistration {
    /// The device session it belongs to.
    pub device_id: String,
    pub provider: PushProvider,
    pub token_hint: String,
    pub apns_environment: Option<ApnsEnvironment>,
    pub app_id: String,
    pub locale: String,
    pub time_zone: String,
    /// Null: no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    pub opted_out: Vec<String>,
    /// When this token was first registered, Unix milliseconds.
    pub registered_ms: i64,
    /// When the registration last changed, Unix milliseconds.
    pub updated_ms: i64,
}

/// Which page of the inbox, in which language; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct InboxQuery {
    /// `next_before` of the previous page; unset: the newest messages.
    #[uniffi(default = None)]
    pub before: Option<i64>,
    /// 1 to 100 (default 20).
    #[uniffi(default = None)]
    pub limit: Option<u32>,
    /// `zh-CN` or `en`; unset: the device's push locale, else zh-CN.
    #[uniffi(default = None)]
    pub locale: Option<String>,
}

/// A page of the inbox, newest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InboxPage {
    pub messages: Vec<InboxMessage>,
    /// Unread messages in the whole inbox.
    pub unread: u32,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// One inbox message: a notification sent to the citizen, pushed or not.
/// `toString()` / `description` is the masked Rust `Debug`: it leaves out
/// the title and body, which may name the citizen's affairs.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct InboxMessage {
    /// The notification id: the `message_id` of its push, for `mark_opened`.
    pub id: String,
    /// `service`, `reminder`, `application_status`, `security` or
    /// `campaign` (a newer server may add others).
    pub category: String,
    pub title: String,
    pub body: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// When first marked read, Unix milliseconds.
    pub read_ms: Option<i64>,
    /// When its push was first opened, Unix milliseconds.
    pub opened_ms: Option<i64>,
}

impl std::fmt::Debug for InboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxMessage")
            .field("id", &self.id)
            .field("category", &self.category)
            .field("created_ms", &self.created_ms)
            .field("read_ms", &self.read_ms)
            .field("opened_ms", &self.opened_ms)
            .finish_non_exhaustive()
    }
}

/// Text in Simplified Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

/// Which page of the service catalog; every part optional (unset: every
/// current matter, 20 a page).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct MatterQuery {
    /// Words of the matter's or its department's name, zh or en; each must
    /// appear (1 to 64 characters).
    #[uniffi(default = None)]
    pub q: Option<String>,
    /// A department code.
    #[uniffi(default = None)]
    pub department: Option<String>,
    /// A life event id (`LifeEvent.id`).
    #[uniffi(default = None)]
    pub life_event: Option<String>,
    /// 1 to 100 (default 20).
    #[uniffi(default = None)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; unset: the first page.
    #[uniffi(default = None)]
    pub cursor: Option<String>,
}

/// A page of the catalog's current, unretired matters, in code order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MatterPage {
    pub matters: Vec<MatterSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A matter as the catalog lists it; `matter(code)` gives the whole of it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MatterSummary {
    /// The standard code (同一事项、同一标准、同一编码).
    pub code: String,
    /// The current version.
    pub version: u32,
    pub name: Bilingual,
    pub department: Department,
    /// A `LifeEvent.id`.
    pub life_event: String,
    /// `online` (applied for with the form), `window` (in person) or
    /// `automatic` (免申即领: granted without an application).
    pub delivery: String,
}

/// The department that handles a matter.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Department {
    pub code: String,
    pub name: Bilingual,
}

/// A matter (事项) at one version, with its form.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Matter {
    pub code: String,
    /// The version read (a draft is made with this version's form).
    pub version: u32,
    /// No longer listed or offered; still readable.
    pub retired: bool,
    pub name: Bilingual,
    pub summary: Option<Bilingual>,
    pub department: Department,
    /// A `LifeEvent.id`.
    pub life_event: String,
    /// `online`, `window` or `automatic`.
    pub delivery: String,
    /// GB/T 36904 licence type codes (21 characters) the matter needs.
    pub required_licences: Vec<String>,
    /// The form schema's JSON, for `FormSchema.from_json` (online matters only).
    pub form_json: Option<String>,
}

/// A life event matters are grouped by (出生, 养老, …).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LifeEvent {
    /// `birth`, `old_age`, …: for `MatterQuery.life_event`.
    pub id: String,
    pub name: Bilingual,
}

/// An offer (or notice of a grant) in the citizen's recommendation feed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Recommendation {
    /// For `dismiss_recommendation` and `snooze_recommendation`.
    pub id: i64,
    /// The matter's code, for `matter(code)`.
    pub matter_code: String,
    pub matter_name: Bilingual,
    /// `online`, `window` or `automatic`.
    pub delivery: String,
    /// `offer` (the citizen may apply) or `grant` (免申即领: granted without
    /// an application; this is the notice).
    pub action: String,
    /// Why, in plain words.
    pub reason: Bilingual,
    /// 0 to 100: the feed's order.
    pub priority: u32,
    /// When it was made, Unix milliseconds.
    pub created_ms: i64,
}

/// What recommendations may be based on.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct RecommendationSettings {
    /// Consent to matching on the profile (age, region, licences held);
    /// without it only the offers the law requires are made. False until given.
    pub profile_consent: bool,
    /// Life events (`LifeEvent.id`) whose matters are not to be offered.
    #[uniffi(default = [])]
    pub opted_out: Vec<String>,
    /// When consent was last given or withdrawn, Unix milliseconds; set by
    /// the server (ignored when storing).
    #[uniffi(default = None)]
    pub consent_changed_ms: Option<i64>,
}

/// One of the citizen's drafts stored on the server (`remote_drafts`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DraftSummary {
    /// The draft id, for `fetch_draft`.
    pub id: String,
    pub matter_code: String,
    /// The form version the values follow.
    pub schema_version: u32,
    /// The server's count of saves.
    pub version: u32,
    /// When it was last saved, Unix milliseconds.
    pub updated_ms: i64,
    /// When the server deletes it unless saved again, Unix milliseconds.
    pub expires_ms: i64,
}

/// The outcome of `sync_draft`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DraftSyncResult {
    /// The server's version the draft is synced with; with no conflicts the
    /// server stores the draft's values as this version.
    pub version: u32,
    /// Another device's changes were merged into the draft: show the form again.
    pub merged: bool,
    /// Fields both devices changed differently (the draft kept this
    /// device's value). Non-empty: nothing was stored; once the citizen has
    /// chosen (`Draft.set`), sync again and it is accepted.
    pub conflicts: Vec<Conflict>,
}

/// Where an application (办件) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ApplicationStatus {
    /// Submitted (or supplemented), waiting for the department.
    Submitted,
    /// Accepted for processing (受理).
    Accepted,
    /// The department asks for more (补正): see the history's message, then
    /// `supplement`.
    NeedsSupplement,
    Approved,
    /// Final: see the history's message.
    Rejected,
    /// Done (办结), final.
    Completed,
    /// A status this library version does not know.
    Unknown,
}

/// One change of an application's status.
/// `toString()` / `description` is the masked Rust `Debug`: it leaves out
/// the department's message, which may name the citizen's affairs.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct StatusChange {
    pub status: ApplicationStatus,
    /// The department's message (with `NeedsSupplement` and `Rejected`).
    pub message: Option<String>,
    /// `citizen`, or the department that made the change.
    pub actor: String,
    /// Unix milliseconds.
    pub at_ms: i64,
}

impl std::fmt::Debug for StatusChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusChange")
            .field("status", &self.status)
            .field("actor", &self.actor)
            .field("at_ms", &self.at_ms)
            .finish_non_exhaustive()
    }
}

/// An e-licence presented with an application (`licence_ref` field).
/// `toString()` / `description` names the field only.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct LicenceRef {
    pub field: String,
    /// The GB/T 36904 licence identifier.
    pub licence_id: String,
    /// The reason for use (用证事由).
    pub reason: String,
}

impl std::fmt::Debug for LicenceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenceRef")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// A file attached to an application (`attachment` field), by hash.
/// `toString()` / `description` names the field only.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct AttachmentRef {
    pub field: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
}

impl std::fmt::Debug for AttachmentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentRef")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// An application (办件): a submitted draft and where it stands. In a list
/// (`applications`) it is a summary: `values`, `licence_refs`,
/// `attachments` and `history` are empty; `application(receipt_no)` has
/// them. `toString()` / `description` is the masked Rust `Debug`: field
/// names, no values.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct Application {
    /// `YW`, the submission date and 8 random digits.
    pub receipt_no: String,
    pub draft_id: String,
    pub matter_code: String,
    /// The matter (and form) version applied for.
    pub matter_version: u32,
    pub matter_name: Bilingual,
    pub department: Department,
    pub status: ApplicationStatus,
    /// Unix milliseconds.
    pub submitted_ms: i64,
    /// When the status last changed, Unix milliseconds.
    pub updated_ms: i64,
    /// In form order.
    pub licence_refs: Vec<LicenceRef>,
    /// The submitted values: field id → JSON value text (as `Draft.value`).
    pub values: HashMap<String, String>,
    /// In form order.
    pub attachments: Vec<AttachmentRef>,
    /// Every status change, oldest first.
    pub history: Vec<StatusChange>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut fields: Vec<&String> = self.values.keys().collect();
        fields.sort();
        f.debug_struct("Application")
            .field("receipt_no", &self.receipt_no)
            .field("draft_id", &self.draft_id)
            .field("matter_code", &self.matter_code)
            .field("matter_version", &self.matter_version)
            .field("status", &self.status)
            .field("submitted_ms", &self.submitted_ms)
            .field("updated_ms", &self.updated_ms)
            .field("fields", &fields)
            .field("licence_refs", &self.licence_refs)
            .field("attachments", &self.attachments)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// A page of the citizen's applications (summaries), newest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ApplicationPage {
    pub applications: Vec<Application>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<String>,
}

/// Where a licence in the e-licence library stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LicenceStatus {
    Active,
    /// Suspended by its department (its bit set on the status list); it may
    /// be reinstated.
    Suspended,
    /// Revoked by its department: final.
    Revoked,
    /// Past its end date.
    Expired,
    /// A status this library version does not know.
    Unknown,
}

/// A licence a sync brought (`sync_licences`), and what became of the
/// wallet's copy. `toString()` / `description` leaves out the identifier
/// (it carries the licence number).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct SyncedLicence {
    /// 证照标识 (GB/T 36904): `Wallet.licence(identifier)`.
    pub identifier: String,
    /// 证照类型代码 (21 characters).
    pub type_code: String,
    /// The type's name, e.g. 结婚证.
    pub name: String,
    pub status: LicenceStatus,
    /// 1 at issue, + 1 for each change.
    pub version: i64,
    /// `YYYY-MM-DD`, or null for 长期.
    pub valid_until: Option<String>,
    /// It came with its credential, now stored in the wallet (replacing the
    /// previous copy).
    pub stored: bool,
    /// It came without (revoked or expired) and the wallet's copy was deleted.
    pub removed: bool,
}

impl std::fmt::Debug for SyncedLicence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncedLicence")
            .field("type_code", &self.type_code)
            .field("status", &self.status)
            .field("version", &self.version)
            .field("stored", &self.stored)
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

/// One page of licence changes synced into the wallet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LicenceSyncResult {
    /// The changes, in order.
    pub licences: Vec<SyncedLicence>,
    /// The `since` of the next sync: keep it (0 at first).
    pub next: i64,
    /// More changes wait: sync again with `next` now.
    pub more: bool,
}

/// What came of a department's request for one of the citizen's licences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LicenceUseOutcome {
    /// The library gave it (用证).
    Used,
    /// Refused: see `LicenceUse.code`.
    Refused,
    /// An outcome this library version does not know.
    Unknown,
}

/// One use of the citizen's licences by a department, or a refusal ("谁用了我的
/// 证照"). `toString()` / `description` leaves out the identifier and the
/// reason.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct LicenceUse {
    /// The licence (null when a type was asked for and none is held).
    pub licence_id: Option<String>,
    /// Its type code.
    pub type_code: Option<String>,
    /// The licence type's name, e.g. 结婚证.
    pub licence_name: Option<String>,
    /// The department's code.
    pub department: String,
    /// The application it was for.
    pub receipt_no: String,
    /// The citizen's reason for use (用证事由).
    pub reason: Option<String>,
    pub outcome: LicenceUseOutcome,
    /// Why it was refused (`YW-4035` no consent, `YW-4088` revoked or
    /// suspended, `YW-4053` not the citizen's).
    pub code: Option<String>,
    /// Unix milliseconds.
    pub at_ms: i64,
}

impl std::fmt::Debug for LicenceUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenceUse")
            .field("type_code", &self.type_code)
            .field("department", &self.department)
            .field("receipt_no", &self.receipt_no)
            .field("outcome", &self.outcome)
            .field("code", &self.code)
            .field("at_ms", &self.at_ms)
            .finish_non_exhaustive()
    }
}

/// The client of one `yiwang serve`: enrolment, login with the 网证, tokens,
/// devices, scan-to-login, push registration, the inbox, the service catalog,
/// the recommendations, draft sync, applications and the e-licence library
/// (trust list, licence sync, uses, authorisations). Every call is async;
/// idempotent calls are retried with backoff.
#[derive(Debug, uniffi::Object)]
pub struct ApiClient {
    inner: core::ApiClient,
}

#[uniffi::export(async_runtime = "tokio")]
impl ApiClient {
    /// Checks the configuration; no connection is made yet.
    #[uniffi::constructor]
    pub fn new(config: ClientConfig) -> Result<Arc<Self>, YiwangError> {
        Ok(Arc::new(Self {
            inner: core::ApiClient::new(config.into())?,
        }))
    }

    /// The server's base URL, as configured.
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    /// Enrols this phone's device key; the answer carries the 网证.
    pub async fn enrol(&self, request: EnrolmentRequest) -> Result<Enrolment, YiwangError> {
        let e = self.inner.enrol(&request.try_into()?).await?;
        Ok(Enrolment {
            network_id: e.network_id,
            generation: e.generation,
            status_index: e.status_index,
            revoked_previous: e.revoked_previous,
            not_before: e.not_before,
            expires: e.expires,
            credential: Arc::new(Credential {
                inner: e.credential,
            }),
        })
    }

    /// The issuer's public key, for verifier policies.
    pub async fn issuer(&self) -> Result<IssuerInfo, YiwangError> {
        let i = self.inner.issuer().await?;
        Ok(IssuerInfo {
            kid: i.kid,
            suite: i.suite.name().to_owned(),
            public_key_pem: i.public_key_pem,
            status_list: i.status_list,
        })
    }

    /// The signed status list of issuer key `kid`, for verifier policies.
    pub async fn status_list(&self, kid: String) -> Result<Vec<u8>, YiwangError> {
        Ok(self.inner.status_list(&kid).await?)
    }

    /// A one-use login challenge; present `presentation_request`, then `login`.
    pub async fn challenge(&self) -> Result<Challenge, YiwangError> {
        let c = self.inner.challenge().await?;
        let presentation_request = presentation_request(c.presentation_request()?, &c.disclose);
        Ok(Challenge {
            nonce: c.nonce,
            audience: c.audience,
            expires_in: c.expires_in,
            disclose: c.disclose,
            presentation_request,
        })
    }

    /// Logs in with a presentation made for `nonce` (see `Challenge`).
    pub async fn login(
        &self,
        presentation: String,
        nonce: String,
        device_name: Option<String>,
    ) -> Result<Tokens, YiwangError> {
        let tokens = self
            .inner
            .login(&presentation, &nonce, device_name.as_deref())
            .await?;
        Ok(tokens.into())
    }

    /// Spends `refresh_token` for a new pair.
    pub async fn refresh(&self, refresh_token: String) -> Result<Tokens, YiwangError> {
        Ok(self.inner.refresh(&refresh_token).await?.into())
    }

    /// Whose `access_token` is.
    pub async fn me(&self, access_token: String) -> Result<Me, YiwangError> {
        let me = self.inner.me(&access_token).await?;
        Ok(Me {
            network_id: me.network_id,
            device_id: me.device_id,
        })
    }

    /// The account's signed-in devices.
    pub async fn devices(&self, access_token: String) -> Result<Vec<Device>, YiwangError> {
        let devices = self.inner.devices(&access_token).await?;
        Ok(devices
            .into_iter()
            .map(|d| Device {
                device_id: d.device_id,
                name: d.name,
                signed_in_at: d.signed_in_at,
                last_seen_at: d.last_seen_at,
                current: d.current,
            })
            .collect())
    }

    /// Signs a device out (its tokens stop working at once).
    pub async fn sign_out_device(
        &self,
        access_token: String,
        device_id: String,
    ) -> Result<(), YiwangError> {
        Ok(self
            .inner
            .sign_out_device(&access_token, &device_id)
            .await?)
    }

    /// The session of a scanned `ScannedCode.LoginRequest`: refused (YW-1805)
    /// unless `server` is this client's server.
    pub async fn login_session(
        &self,
        server: String,
        session: String,
    ) -> Result<LoginSession, YiwangError> {
        let s = self
            .inner
            .login_session(&scan::LoginRequest { server, session })
            .await?;
        let presentation_request = presentation_request(s.presentation_request()?, &s.claims);
        Ok(LoginSession {
            session_id: s.session_id,
            client_id: s.relying_party.client_id,
            relying_party_name: s.relying_party.name,
            audience: s.audience,
            claims: s.claims,
            nonce: s.nonce,
            expires_at: s.expires_at,
            status: s.status.into(),
            presentation_request,
        })
    }

    /// Approves a session with a presentation made for it.
    pub async fn approve_login(
        &self,
        access_token: String,
        session_id: String,
        presentation: String,
    ) -> Result<LoginSessionStatus, YiwangError> {
        let status = self
            .inner
            .approve_login(&access_token, &session_id, &presentation)
            .await?;
        Ok(status.into())
    }

    /// Refuses a session.
    pub async fn refuse_login(
        &self,
        access_token: String,
        session_id: String,
    ) -> Result<LoginSessionStatus, YiwangError> {
        Ok(self
            .inner
            .refuse_login(&access_token, &session_id)
            .await?
            .into())
    }

    /// Registers this device's push token and preferences (replacing its
    /// previous registration; a token another device held leaves it).
    pub async fn register_push(
        &self,
        access_token: String,
        request: PushRegistrationRequest,
    ) -> Result<PushRegistration, YiwangError> {
        let registration = self
            .inner
            .register_push(&access_token, &request.into())
            .await?;
        Ok(registration.into())
    }

    /// This device's push registration; null when it has none (never
    /// registered, unregistered, or its token moved to another device).
    pub async fn push_registration(
        &self,
        access_token: String,
    ) -> Result<Option<PushRegistration>, YiwangError> {
        let registration = self.inner.push_registration(&access_token).await?;
        Ok(registration.map(Into::into))
    }

    /// No more pushes to this device (its inbox stays).
    pub async fn unregister_push(&self, access_token: String) -> Result<(), YiwangError> {
        Ok(self.inner.unregister_push(&access_token).await?)
    }

    /// A page of the citizen's inbox, newest first, with the unread count.
    pub async fn inbox(
        &self,
        access_token: String,
        query: InboxQuery,
    ) -> Result<InboxPage, YiwangError> {
        let mut q = core::InboxQuery::default();
        q.before = query.before;
        q.limit = query.limit;
        q.locale = query.locale;
        let page = self.inner.inbox(&access_token, &q).await?;
        Ok(InboxPage {
            messages: page
                .messages
                .into_iter()
                .map(|m| InboxMessage {
                    id: m.id,
                    category: m.category,
                    title: m.title,
                    body: m.body,
                    created_ms: m.created_ms,
                    read_ms: m.read_ms,
                    opened_ms: m.opened_ms,
                })
                .collect(),
            unread: page.unread,
            next_before: page.next_before,
        })
    }

    /// Marks a message read. Not in this inbox: Rejected YW-4045.
    pub async fn mark_read(
        &self,
        access_token: String,
        message_id: String,
    ) -> Result<(), YiwangError> {
        Ok(self.inner.mark_read(&access_token, &message_id).await?)
    }

    /// The citizen tapped the push carrying `message_id`: records the opened
    /// receipt (and marks it read). Not in this inbox: Rejected YW-4045.
    pub async fn mark_opened(
        &self,
        access_token: String,
        message_id: String,
    ) -> Result<(), YiwangError> {
        Ok(self.inner.mark_opened(&access_token, &message_id).await?)
    }

    /// A page of the service catalog's current matters, in code order,
    /// filtered by `query` (no sign-in needed). A bad parameter: Rejected
    /// YW-4709.
    pub async fn matters(&self, query: MatterQuery) -> Result<MatterPage, YiwangError> {
        let mut q = core::MatterQuery::default();
        q.q = query.q;
        q.department = query.department;
        q.life_event = query.life_event;
        q.limit = query.limit;
        q.cursor = query.cursor;
        let page = self.inner.matters(&q).await?;
        Ok(MatterPage {
            matters: page.matters.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// A matter with its form, at `version` (null: the current one), retired
    /// or not. A malformed code: InvalidInput YW-1807, before any request; an
    /// unknown matter or version: Rejected YW-4048.
    #[uniffi::method(default(version = None))]
    pub async fn matter(&self, code: String, version: Option<u32>) -> Result<Matter, YiwangError> {
        Ok(self.inner.matter(&code, version).await?.into())
    }

    /// The life events matters are grouped by, in display order.
    pub async fn life_events(&self) -> Result<Vec<LifeEvent>, YiwangError> {
        let events = self.inner.life_events().await?;
        Ok(events
            .into_iter()
            .map(|e| LifeEvent {
                id: e.id,
                name: e.name.into(),
            })
            .collect())
    }

    /// The citizen's active, not snoozed recommendations, highest priority
    /// first, then newest; `limit` 1 to 100 (null: 20). A bad limit:
    /// Rejected YW-4721.
    #[uniffi::method(default(limit = None))]
    pub async fn recommendations(
        &self,
        access_token: String,
        limit: Option<u32>,
    ) -> Result<Vec<Recommendation>, YiwangError> {
        let feed = self.inner.recommendations(&access_token, limit).await?;
        Ok(feed.into_iter().map(Into::into).collect())
    }

    /// Takes a recommendation out of the feed for good (done when it already
    /// was). Not in this feed: Rejected YW-4049.
    pub async fn dismiss_recommendation(
        &self,
        access_token: String,
        id: i64,
    ) -> Result<(), YiwangError> {
        Ok(self.inner.dismiss_recommendation(&access_token, id).await?)
    }

    /// Takes a recommendation out of the feed for `days` (1 to 90, else
    /// InvalidInput YW-1807 before any request). Not in this feed: Rejected
    /// YW-4049.
    pub async fn snooze_recommendation(
        &self,
        access_token: String,
        id: i64,
        days: u32,
    ) -> Result<(), YiwangError> {
        Ok(self
            .inner
            .snooze_recommendation(&access_token, id, days)
            .await?)
    }

    /// The citizen's consent to profile matching (none until given) and
    /// opted-out life events.
    pub async fn recommendation_settings(
        &self,
        access_token: String,
    ) -> Result<RecommendationSettings, YiwangError> {
        Ok(self
            .inner
            .recommendation_settings(&access_token)
            .await?
            .into())
    }

    /// Stores `settings` whole (`consent_changed_ms` is the server's and is
    /// not sent) and answers them as stored. An unknown life event: Rejected
    /// YW-4722.
    pub async fn set_recommendation_settings(
        &self,
        access_token: String,
        settings: RecommendationSettings,
    ) -> Result<RecommendationSettings, YiwangError> {
        let wanted =
            core::RecommendationSettings::new(settings.profile_consent, settings.opted_out);
        Ok(self
            .inner
            .set_recommendation_settings(&access_token, &wanted)
            .await?
            .into())
    }

    /// Syncs `draft` with the server (the version it last synced as
    /// `If-Match`): stored as the next version, merged with another
    /// device's changes (by the server, or here after a conflict or a
    /// version the server no longer keeps), or the conflicts for the citizen
    /// to resolve (the draft keeps this device's value; sync again after
    /// choosing). Edits made to `draft` while the sync runs are kept. A
    /// draft deleted on the server (or submitted elsewhere): Rejected YW-4050.
    pub async fn sync_draft(
        &self,
        access_token: String,
        draft: Arc<Draft>,
    ) -> Result<DraftSyncResult, YiwangError> {
        let now = unix_now();
        // The lock is not held across the requests: the app may keep editing.
        let before = draft.lock().clone();
        let mut synced = before.clone();
        let sync = self
            .inner
            .sync_draft(&access_token, &mut synced, now)
            .await?;
        let mut found = sync.conflicts;
        {
            let mut current = draft.lock();
            if *current == before {
                *current = synced;
            } else {
                // Edited meanwhile: the edits are local changes made from
                // `before`, the sync's result the other side.
                found.extend(current.merge_remote_version(
                    before.values(),
                    synced.values(),
                    synced.government_fields().iter().cloned(),
                    synced.synced_version(),
                    now,
                ));
            }
        }
        Ok(DraftSyncResult {
            version: sync.version,
            merged: sync.merged,
            conflicts: conflicts(found),
        })
    }

    /// The draft `id` as the server stores it, as this device's draft
    /// (another phone's draft continued here; government fields read-only).
    /// Not this citizen's: Rejected YW-4050; a malformed id InvalidInput
    /// YW-1807 before any request.
    pub async fn fetch_draft(
        &self,
        access_token: String,
        id: String,
    ) -> Result<Arc<Draft>, YiwangError> {
        let remote = self.inner.draft(&access_token, &id).await?;
        Ok(Draft::wrap(remote.into_draft(unix_now())))
    }

    /// The citizen's drafts on the server, most recently saved first.
    pub async fn remote_drafts(
        &self,
        access_token: String,
    ) -> Result<Vec<DraftSummary>, YiwangError> {
        let drafts = self.inner.drafts(&access_token).await?;
        Ok(drafts
            .into_iter()
            .map(|d| DraftSummary {
                id: d.id,
                matter_code: d.matter_code,
                schema_version: d.schema_version,
                version: d.version,
                updated_ms: d.updated_ms,
                expires_ms: d.expires_ms,
            })
            .collect())
    }

    /// Removes the draft from the server (each device's copy stays there).
    /// Unknown: Rejected YW-4050.
    pub async fn delete_remote_draft(
        &self,
        access_token: String,
        id: String,
    ) -> Result<(), YiwangError> {
        Ok(self.inner.delete_draft(&access_token, &id).await?)
    }

    /// Submits `draft` (validated against `schema` on `today`,
    /// `YYYY-MM-DD`): the application with its receipt number. A draft that
    /// is not valid is refused before any request: InvalidInput with the
    /// first problem's YW-16xx code, every problem's path and code in the
    /// detail (`Draft.validate` lists them). The server checks again
    /// (Rejected YW-4732, its problems in the detail); the same submission
    /// again answers the same application; other content for a submitted
    /// draft is Rejected YW-4098.
    pub async fn submit(
        &self,
        access_token: String,
        draft: Arc<Draft>,
        schema: Arc<FormSchema>,
        today: String,
    ) -> Result<Application, YiwangError> {
        let submission = submission_of(&draft, &schema, &today)?;
        Ok(self.inner.submit(&access_token, &submission).await?.into())
    }

    /// A page of the citizen's applications (summaries), newest first;
    /// `limit` 1 to 100 (null: 20), `before` the previous page's
    /// `next_before`. A bad parameter: Rejected YW-4730.
    #[uniffi::method(default(limit = None, before = None))]
    pub async fn applications(
        &self,
        access_token: String,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<ApplicationPage, YiwangError> {
        let page = self
            .inner
            .applications(&access_token, limit, before.as_deref())
            .await?;
        Ok(ApplicationPage {
            applications: page.applications.into_iter().map(Into::into).collect(),
            next_before: page.next_before,
        })
    }

    /// An application with its values and status history. Not this
    /// citizen's: Rejected YW-4051.
    pub async fn application(
        &self,
        access_token: String,
        receipt_no: String,
    ) -> Result<Application, YiwangError> {
        Ok(self
            .inner
            .application(&access_token, &receipt_no)
            .await?
            .into())
    }

    /// Sends the corrected `draft` (the one submitted) when the department
    /// asked for more (`NeedsSupplement`, else Rejected YW-4097); the
    /// application is `Submitted` again. Validated first, as `submit`.
    pub async fn supplement(
        &self,
        access_token: String,
        receipt_no: String,
        draft: Arc<Draft>,
        schema: Arc<FormSchema>,
        today: String,
    ) -> Result<Application, YiwangError> {
        let submission = submission_of(&draft, &schema, &today)?;
        Ok(self
            .inner
            .supplement(&access_token, &receipt_no, &submission)
            .await?
            .into())
    }

    /// The signed trust list (`GET /v1/trust-list`), verified against
    /// `anchor_pem`, the 网证 issuer key the app pins (SubjectPublicKeyInfo
    /// PEM, as `IssuerInfo.public_key_pem`), at `now` (Unix seconds). Not
    /// signed by the anchor: Rejected YW-1421; older than its maximum age:
    /// Rejected YW-1422; an anchor that is not a public key: Crypto.
    pub async fn trust_list(
        &self,
        anchor_pem: String,
        now: i64,
    ) -> Result<Arc<TrustList>, YiwangError> {
        let anchor = VerifyingKey::from_spki_pem(&anchor_pem)?;
        let inner = self.inner.trust_list(&anchor, now).await?;
        Ok(Arc::new(TrustList { inner }))
    }

    /// Syncs the citizen's licences changed since `since` (0 at first, then
    /// the previous result's `next`) into `wallet`: each comes bound to the
    /// device key `device_key_alias` of `key_store` (the 网证's, whose
    /// key signed this session's login; another key is Rejected YW-4036)
    /// and is stored, replacing the wallet's copy; an updated licence comes
    /// as its next version (the identifier's version + 1) and the wallet's
    /// other versions of it are deleted; one revoked or expired comes
    /// without and the wallet's copy is deleted. Sync again with `next` while `more`. Stopped by an error,
    /// sync again from the same `since` (storing is idempotent).
    pub async fn sync_licences(
        &self,
        access_token: String,
        wallet: Arc<Wallet>,
        since: i64,
        key_store: Arc<dyn PlatformKeyStore>,
        device_key_alias: String,
    ) -> Result<LicenceSyncResult, YiwangError> {
        let device_key = VerifyingKey::from_spki_der(&key_store.public_key(device_key_alias)?)?;
        let sync = self
            .inner
            .sync_licences(&access_token, since, &device_key)
            .await?;
        let now = unix_now();
        let mut licences = Vec::with_capacity(sync.licences.len());
        for l in sync.licences {
            let (stored, removed) = match &l.credential {
                Some(credential) => {
                    wallet.inner.put_credential(credential, now).await?;
                    (true, false)
                }
                None => (false, delete_licence(&wallet.inner, &l.identifier).await?),
            };
            licences.push(SyncedLicence {
                identifier: l.identifier,
                type_code: l.type_code,
                name: l.name,
                status: licence_status(&l.status),
                version: l.version,
                valid_until: l.valid_until,
                stored,
                removed,
            });
        }
        Ok(LicenceSyncResult {
            licences,
            next: sync.next,
            more: sync.more,
        })
    }

    /// Who used the citizen's licences, and who was refused ("谁用了我的
    /// 证照"), newest first (the last 200).
    pub async fn licence_uses(&self, access_token: String) -> Result<Vec<LicenceUse>, YiwangError> {
        let uses = self.inner.licence_uses(&access_token).await?;
        Ok(uses
            .into_iter()
            .map(|u| LicenceUse {
                licence_id: u.licence_id,
                type_code: u.type_code,
                licence_name: u.licence_name,
                department: u.department,
                receipt_no: u.receipt_no,
                reason: u.reason,
                outcome: match u.outcome.as_str() {
                    "used" => LicenceUseOutcome::Used,
                    "refused" => LicenceUseOutcome::Refused,
                    _ => LicenceUseOutcome::Unknown,
                },
                code: u.code,
                at_ms: u.at_ms,
            })
            .collect())
    }

    /// Lets the department of application `receipt_no` fetch the citizen's
    /// licence of `licence_type` from the library, for `reason` (用证事由,
    /// 1 to 200 characters, else InvalidInput YW-1807 before any request);
    /// again for the same type replaces the reason. Another's application:
    /// Rejected YW-4051; an unknown type: Rejected YW-4741.
    pub async fn authorise_licence(
        &self,
        access_token: String,
        receipt_no: String,
        licence_type: String,
        reason: String,
    ) -> Result<(), YiwangError> {
        Ok(self
            .inner
            .authorise_licence(&access_token, &receipt_no, &licence_type, &reason)
            .await?)
    }
}

/// The status of a synced licence.
fn licence_status(status: &str) -> LicenceStatus {
    match status {
        "active" => LicenceStatus::Active,
        "suspended" => LicenceStatus::Suspended,
        "revoked" => LicenceStatus::Revoked,
        "expired" => LicenceStatus::Expired,
        _ => LicenceStatus::Unknown,
    }
}

/// The system clock, Unix seconds (draft revisions made by a sync, licences stored).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The core's request as the bindings' record; `disclose` is the list the
/// core parsed it from.
fn presentation_request(
    request: yiwang_core::credential::PresentationRequest,
    disclose: &[String],
) -> PresentationRequest {
    PresentationRequest {
        disclose: disclose.to_vec(),
        audience: request.audience,
        nonce: request.nonce,
        mode: request.mode.into(),
        validity_secs: request.validity_secs,
    }
}

impl From<core::Tokens> for Tokens {
    fn from(t: core::Tokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
            device_id: t.device_id,
        }
    }
}

impl From<core::LoginSessionStatus> for LoginSessionStatus {
    fn from(s: core::LoginSessionStatus) -> Self {
        match s {
            core::LoginSessionStatus::Pending => Self::Pending,
            core::LoginSessionStatus::Approved => Self::Approved,
            core::LoginSessionStatus::Refused => Self::Refused,
            core::LoginSessionStatus::Completed => Self::Completed,
            core::LoginSessionStatus::Expired => Self::Expired,
            _ => Self::Unknown,
        }
    }
}

impl From<PushProvider> for core::PushProvider {
    fn from(p: PushProvider) -> Self {
        match p {
            PushProvider::Apns => Self::Apns,
            PushProvider::Fcm => Self::Fcm,
            PushProvider::Huawei => Self::Huawei,
            PushProvider::Honor => Self::Honor,
            PushProvider::Xiaomi => Self::Xiaomi,
            PushProvider::Oppo => Self::Oppo,
            PushProvider::Vivo => Self::Vivo,
        }
    }
}

impl From<core::PushProvider> for PushProvider {
    fn from(p: core::PushProvider) -> Self {
        match p {
            core::PushProvider::Apns => Self::Apns,
            core::PushProvider::Fcm => Self::Fcm,
            core::PushProvider::Huawei => Self::Huawei,
            core::PushProvider::Honor => Self::Honor,
            core::PushProvider::Xiaomi => Self::Xiaomi,
            core::PushProvider::Oppo => Self::Oppo,
            core::PushProvider::Vivo => Self::Vivo,
        }
    }
}

impl From<ApnsEnvironment> for core::ApnsEnvironment {
    fn from(e: ApnsEnvironment) -> Self {
        match e {
            ApnsEnvironment::Sandbox => Self::Sandbox,
            ApnsEnvironment::Production => Self::Production,
        }
    }
}

impl From<core::ApnsEnvironment> for ApnsEnvironment {
    fn from(e: core::ApnsEnvironment) -> Self {
        match e {
            core::ApnsEnvironment::Sandbox => Self::Sandbox,
            core::ApnsEnvironment::Production => Self::Production,
        }
    }
}

impl From<core::PushRegistration> for PushRegistration {
    fn from(r: core::PushRegistration) -> Self {
        Self {
            device_id: r.device_id,
            provider: r.provider.into(),
            token_hint: r.token_hint,
            apns_environment: r.apns_environment.map(Into::into),
            app_id: r.app_id,
            locale: r.locale,
            time_zone: r.time_zone,
            quiet_hours: r.quiet_hours.map(|q| QuietHours {
                start: q.start,
                end: q.end,
            }),
            opted_out: r.opted_out,
            registered_ms: r.registered_ms,
            updated_ms: r.updated_ms,
        }
    }
}

impl From<Label> for Bilingual {
    fn from(l: Label) -> Self {
        Self { zh: l.zh, en: l.en }
    }
}

impl From<core::Department> for Department {
    fn from(d: core::Department) -> Self {
        Self {
            code: d.code,
            name: d.name.into(),
        }
    }
}

impl From<core::MatterSummary> for MatterSummary {
    fn from(m: core::MatterSummary) -> Self {
        Self {
            code: m.code,
            version: m.version,
            name: m.name.into(),
            department: m.department.into(),
            life_event: m.life_event,
            delivery: m.delivery,
        }
    }
}

impl From<core::Matter> for Matter {
    fn from(m: core::Matter) -> Self {
        Self {
            code: m.code,
            version: m.version,
            retired: m.retired,
            name: m.name.into(),
            summary: m.summary.map(Into::into),
            department: m.department.into(),
            life_event: m.life_event,
            delivery: m.delivery,
            required_licences: m.required_licences,
            form_json: m.form_json,
        }
    }
}

impl From<core::Recommendation> for Recommendation {
    fn from(r: core::Recommendation) -> Self {
        Self {
            id: r.id,
            matter_code: r.matter_code,
            matter_name: r.matter_name.into(),
            delivery: r.delivery,
            action: r.action,
            reason: r.reason.into(),
            priority: r.priority,
            created_ms: r.created_ms,
        }
    }
}

impl From<core::RecommendationSettings> for RecommendationSettings {
    fn from(s: core::RecommendationSettings) -> Self {
        Self {
            profile_consent: s.profile_consent,
            opted_out: s.opted_out,
            consent_changed_ms: s.consent_changed_ms,
        }
    }
}

impl From<core::ApplicationStatus> for ApplicationStatus {
    fn from(s: core::ApplicationStatus) -> Self {
        match s {
            core::ApplicationStatus::Submitted => Self::Submitted,
            core::ApplicationStatus::Accepted => Self::Accepted,
            core::ApplicationStatus::NeedsSupplement => Self::NeedsSupplement,
            core::ApplicationStatus::Approved => Self::Approved,
            core::ApplicationStatus::Rejected => Self::Rejected,
            core::ApplicationStatus::Completed => Self::Completed,
            _ => Self::Unknown,
        }
    }
}

impl From<core::Application> for Application {
    fn from(a: core::Application) -> Self {
        Self {
            receipt_no: a.receipt_no,
            draft_id: a.draft_id,
            matter_code: a.matter_code,
            matter_version: a.matter_version,
            matter_name: a.matter_name.into(),
            department: a.department.into(),
            status: a.status.into(),
            submitted_ms: a.submitted_ms,
            updated_ms: a.updated_ms,
            licence_refs: a
                .licence_refs
                .into_iter()
                .map(|r| LicenceRef {
                    field: r.field,
                    licence_id: r.licence_id,
                    reason: r.reason,
                })
                .collect(),
            values: a
                .values
                .into_iter()
                .map(|(field, value)| (field, value.to_string()))
                .collect(),
            attachments: a
                .attachments
                .into_iter()
                .map(|r| AttachmentRef {
                    field: r.field,
                    sha256: r.sha256,
                })
                .collect(),
            history: a
                .history
                .into_iter()
                .map(|h| StatusChange {
                    status: h.status.into(),
                    message: h.message,
                    actor: h.actor,
                    at_ms: h.at_ms,
                })
                .collect(),
        }
    }
}
