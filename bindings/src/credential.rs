use std::collections::HashMap;
use std::sync::Arc;

use yiwang_core::credential::{
    self as core, Claim, ClaimValue, Enrolment, HolderCredential, StatusList, VerifiedStatusList,
};
use yiwang_core::crypto::{KeyAlias, VerifyingKey};
use yiwang_core::identity::IdNumber;
use yiwang_core::qr::{self, QrMatrix};
use yiwang_core::scan::{self, Scanned};

use crate::YiwangError;
use crate::keystore::{CryptoSuite, ForeignKeyStore, PlatformKeyStore};

/// What a signed document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DocumentType {
    /// 网证
    NetworkId,
    /// 电子证照
    Licence,
}

impl From<core::DocType> for DocumentType {
    fn from(d: core::DocType) -> Self {
        match d {
            core::DocType::NetworkId => Self::NetworkId,
            core::DocType::Licence => Self::Licence,
        }
    }
}

/// How the holder unlocked the key: attested in the presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AssuranceMode {
    NetworkIdOnly,
    Pin,
    Biometric,
    PinAndBiometric,
}

impl From<AssuranceMode> for core::AssuranceMode {
    fn from(m: AssuranceMode) -> Self {
        match m {
            AssuranceMode::NetworkIdOnly => Self::Credential,
            AssuranceMode::Pin => Self::Pin,
            AssuranceMode::Biometric => Self::Biometric,
            AssuranceMode::PinAndBiometric => Self::PinAndBiometric,
        }
    }
}

impl From<core::AssuranceMode> for AssuranceMode {
    fn from(m: core::AssuranceMode) -> Self {
        match m {
            core::AssuranceMode::Credential => Self::NetworkIdOnly,
            core::AssuranceMode::Pin => Self::Pin,
            core::AssuranceMode::Biometric => Self::Biometric,
            core::AssuranceMode::PinAndBiometric => Self::PinAndBiometric,
        }
    }
}

/// What to show to whom (亮证).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PresentationRequest {
    /// Claim names and derived statements, e.g. `name_masked`, `age_over_18`, `age_range`.
    pub disclose: Vec<String>,
    /// The relying party's identifier.
    pub audience: String,
    #[uniffi(default = None)]
    pub nonce: Option<Vec<u8>>,
    pub mode: AssuranceMode,
    /// Seconds the QR code stays valid (1-600).
    #[uniffi(default = 60)]
    pub validity_secs: u32,
}

/// A QR code's modules, for the app to draw: `width × width`, row-major, dark = true.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QrCode {
    pub version: u8,
    pub width: u32,
    pub modules: Vec<bool>,
}

/// A presentation: the QR text and its module matrix.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Presentation {
    pub text: String,
    pub qr: QrCode,
}

/// Encodes any text as a QR code (level M).
#[uniffi::export]
pub fn encode_qr(text: String) -> Result<QrCode, YiwangError> {
    let matrix = QrMatrix::encode(&text)?;
    Ok(QrCode {
        version: matrix.version(),
        width: matrix.width() as u32,
        modules: matrix.modules().to_vec(),
    })
}

/// A PNG of the QR code of `text` (8-bit greyscale, 4-module quiet zone).
#[uniffi::export]
pub fn render_qr_png(text: String, module_px: u32) -> Result<Vec<u8>, YiwangError> {
    Ok(QrMatrix::encode(&text)?.to_png(module_px)?)
}

/// An SVG of the QR code of `text`.
#[uniffi::export]
pub fn render_qr_svg(text: String, module_px: u32) -> Result<String, YiwangError> {
    Ok(QrMatrix::encode(&text)?.to_svg(module_px))
}

/// Every QR code found in a PNG image (verifier tools). Async: decoding a
/// camera-sized image takes tens of milliseconds, off the caller's thread.
#[uniffi::export(async_runtime = "tokio")]
pub async fn decode_qr_png(png: Vec<u8>) -> Result<Vec<String>, YiwangError> {
    tokio::task::spawn_blocking(move || qr::decode_png(&png))
        .await
        .map_err(|_| YiwangError::Internal {
            code: "YW-9002".into(),
            detail: "the decoder task failed".into(),
        })?
        .map_err(YiwangError::from)
}

/// A stored 网证 or e-licence.
#[derive(uniffi::Object)]
pub struct Credential {
    pub(crate) inner: HolderCredential,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl Credential {
    /// Reads the holder file the issuer delivered (or [`Credential::to_bytes`]).
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, YiwangError> {
        Ok(Arc::new(Self {
            inner: HolderCredential::from_bytes(&bytes)?,
        }))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes().to_vec()
    }

    pub fn document_type(&self) -> DocumentType {
        self.inner.doctype().into()
    }

    /// The 网号 (for a 网证).
    pub fn network_id(&self) -> Option<String> {
        self.inner.network_id().map(str::to_owned)
    }

    /// A claim's value for the holder's own screen, by name (`name`,
    /// `licence_name`, `valid_until`, …); the photo digest as hex.
    pub fn claim(&self, name: String) -> Option<String> {
        let claim = Claim::from_name(&name)?;
        self.inner.claim(claim).map(claim_text)
    }

    pub fn not_before(&self) -> i64 {
        self.inner.not_before()
    }

    pub fn expires(&self) -> i64 {
        self.inner.expires()
    }

    pub fn status_index(&self) -> u32 {
        self.inner.status_index()
    }

    /// For a licence: `{"licence_id", "reason"}` to put in a form's licence field.
    pub fn licence_reference(&self, reason: String) -> Result<String, YiwangError> {
        Ok(self.inner.licence_reference(&reason)?.to_string())
    }

    /// Presents the credential at `now` (Unix seconds), signing with the
    /// device key `key_alias` of `key_store` (after the platform's PIN or
    /// biometric check for those modes).
    pub fn present(
        &self,
        request: PresentationRequest,
        key_store: Arc<dyn PlatformKeyStore>,
        key_alias: String,
        now: i64,
    ) -> Result<Presentation, YiwangError> {
        let core_request = core::PresentationRequest {
            nonce: request.nonce,
            mode: request.mode.into(),
            validity_secs: request.validity_secs,
            ..core::PresentationRequest::new(request.audience)
                .with_disclosure_list(&request.disclose.join(","))?
        };
        let store = ForeignKeyStore(key_store);
        let text = self
            .inner
            .present(&core_request, &store, &KeyAlias::new(&key_alias)?, now)?;
        let qr = encode_qr(text.clone())?;
        Ok(Presentation { text, qr })
    }
}

fn claim_text(value: &ClaimValue) -> String {
    match value {
        ClaimValue::Text(t) => t.clone(),
        ClaimValue::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// The issuer service (server side and tools; the apps only hold credentials).
#[derive(Debug, uniffi::Object)]
pub struct Issuer {
    inner: core::Issuer,
}

#[uniffi::export]
impl Issuer {
    /// An issuer signing with `key_alias` of `key_store`; `secret` is its 32-byte derivation secret.
    #[uniffi::constructor]
    pub fn new(
        key_store: Arc<dyn PlatformKeyStore>,
        key_alias: String,
        secret: Vec<u8>,
    ) -> Result<Arc<Self>, YiwangError> {
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| YiwangError::invalid("YW-1107", "the issuer secret must be 32 bytes"))?;
        let store = Arc::new(ForeignKeyStore(key_store));
        Ok(Arc::new(Self {
            inner: core::Issuer::new(store, KeyAlias::new(&key_alias)?, secret)?,
        }))
    }

    /// The issuer's public key, SubjectPublicKeyInfo PEM: what verifiers trust.
    pub fn public_key_pem(&self) -> String {
        self.inner.public_key().to_spki_pem()
    }

    pub fn suite(&self) -> CryptoSuite {
        self.inner.suite().into()
    }

    /// Issues a 网证 from enrolment data, bound to the device key (SPKI DER).
    pub fn issue(
        &self,
        name: String,
        id_number: String,
        photo_digest: Vec<u8>,
        device_public_key: Vec<u8>,
        status_index: u32,
        now: i64,
    ) -> Result<Arc<Credential>, YiwangError> {
        let enrolment = Enrolment {
            name,
            id_number: IdNumber::parse(&id_number)
                .map_err(|e| YiwangError::invalid(e.code(), e))?,
            photo_digest: photo_digest.try_into().map_err(|_| {
                YiwangError::invalid("YW-1419", "the photo digest must be 32 bytes")
            })?,
        };
        let device = VerifyingKey::from_spki_der(&device_public_key)?;
        Ok(Arc::new(Credential {
            inner: self.inner.issue(&enrolment, &device, status_index, now)?,
        }))
    }

    /// Issues an e-licence from the department's JSON (docs/formats.md).
    pub fn issue_licence(
        &self,
        licence_json: String,
        device_public_key: Vec<u8>,
        status_index: u32,
        now: i64,
    ) -> Result<Arc<Credential>, YiwangError> {
        let licence = core::Licence::from_json(&licence_json)?;
        let device = VerifyingKey::from_spki_der(&device_public_key)?;
        Ok(Arc::new(Credential {
            inner: self
                .inner
                .issue_licence(&licence, &device, status_index, now)?,
        }))
    }

    /// A signed status list with these indices revoked.
    pub fn sign_status_list(
        &self,
        revoked: Vec<u32>,
        now: i64,
        max_age_secs: u32,
    ) -> Result<Vec<u8>, YiwangError> {
        let mut list = StatusList::new();
        for index in revoked {
            list.revoke(index);
        }
        Ok(self.inner.sign_status_list(&list, now, max_age_secs)?)
    }
}

/// What a verifier (a service window) trusts and expects.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifierPolicy {
    /// Trusted issuer public keys, SubjectPublicKeyInfo PEM.
    pub trusted_issuers: Vec<String>,
    pub audience: String,
    #[uniffi(default = None)]
    pub nonce: Option<Vec<u8>>,
    pub now: i64,
    #[uniffi(default = 30)]
    pub max_skew_secs: i64,
    /// Signed status lists (`status.cose`), one per issuer.
    #[uniffi(default = [])]
    pub status_lists: Vec<Vec<u8>>,
    #[uniffi(default = false)]
    pub require_status: bool,
}

/// A verified presentation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedPresentation {
    pub document_type: DocumentType,
    pub issuer_key_id: String,
    pub suite: CryptoSuite,
    /// Disclosed claims by name (the photo digest as hex).
    pub claims: HashMap<String, String>,
    /// Derived statements that hold, e.g. `age_over_18`.
    pub derived: Vec<String>,
    pub age_range: Option<String>,
    /// This relying party's pseudonymous identifier for the holder.
    pub pairwise_id: String,
    pub mode: AssuranceMode,
    pub presented_at: i64,
    pub credential_expires: i64,
}

/// Verifies a scanned presentation. Each refusal is `YiwangError.Rejected`
/// with its own code (docs/formats.md).
#[uniffi::export]
pub fn verify_presentation(
    text: String,
    policy: VerifierPolicy,
) -> Result<VerifiedPresentation, YiwangError> {
    let issuers = policy
        .trusted_issuers
        .iter()
        .map(|pem| VerifyingKey::from_spki_pem(pem))
        .collect::<Result<Vec<_>, _>>()?;
    let core_policy = core_policy(policy, issuers)?;
    Ok(core::verify(&text, &core_policy)?.into())
}

/// Verifies a scanned presentation against a trust list (a verifier app, a
/// service window): the signer is listed, its key was valid when the
/// credential was signed, and it is listed for what it signed (the 网证, or
/// the licence's type: a licence presentation must disclose `type_code`).
/// `policy.trusted_issuers` is ignored (the list's keys are used); its
/// `status_lists` are checked against the list's keys. Each refusal is
/// `YiwangError.Rejected` (YW-1403 unknown issuer, YW-1423 key not valid
/// then, YW-1424 not listed for it, …) or InvalidInput YW-1418 (no
/// `type_code` disclosed).
#[uniffi::export]
pub fn verify_trusted(
    text: String,
    trust_list: Arc<TrustList>,
    policy: VerifierPolicy,
) -> Result<VerifiedPresentation, YiwangError> {
    // The core looks the issuer up in the list; its keys are copied only to
    // check status lists.
    let keys = if policy.status_lists.is_empty() {
        Vec::new()
    } else {
        trust_list.inner.verifying_keys()
    };
    let core_policy = core_policy(policy, keys)?;
    Ok(core::verify_trusted(&text, &trust_list.inner, &core_policy)?.into())
}

/// The core's policy: `issuers` trusted (status lists checked against them).
fn core_policy(
    policy: VerifierPolicy,
    issuers: Vec<VerifyingKey>,
) -> Result<core::VerificationPolicy, YiwangError> {
    let status_lists = policy
        .status_lists
        .iter()
        .map(|token| VerifiedStatusList::verify(token, &issuers))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(core::VerificationPolicy {
        nonce: policy.nonce,
        max_skew_secs: policy.max_skew_secs,
        status_lists,
        require_status: policy.require_status,
        ..core::VerificationPolicy::new(issuers, policy.audience, policy.now)
    })
}

impl From<core::VerifiedPresentation> for VerifiedPresentation {
    fn from(verified: core::VerifiedPresentation) -> Self {
        Self {
            document_type: verified.doctype.into(),
            issuer_key_id: verified.issuer_key_id,
            suite: verified.suite.into(),
            claims: verified
                .claims
                .iter()
                .map(|(c, v)| (c.name().to_owned(), claim_text(v)))
                .collect(),
            derived: verified.derived.iter().map(|d| d.name()).collect(),
            age_range: verified.age_range,
            pairwise_id: verified.pairwise_id,
            mode: verified.mode.into(),
            presented_at: verified.presented_at,
            credential_expires: verified.credential_expires,
        }
    }
}

/// The trust list (互认共享), verified against the pinned 网证 issuer key
/// (`ApiClient.trust_list`): which authorities may issue the 网证 and which
/// licence types, with which keys and when. For `verify_trusted`.
#[derive(Debug, uniffi::Object)]
pub struct TrustList {
    pub(crate) inner: core::TrustList,
}

/// An issuing authority on the trust list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustedAuthority {
    /// Its unified social credit code (null only for a 网证 issuer that is
    /// not a licence authority).
    pub uscc: Option<String>,
    pub name: String,
    /// GB/T 2260 code of the region it serves.
    pub region: String,
    /// Whether it issues the 网证.
    pub network_id: bool,
    /// The GB/T 36904 licence type codes it may issue.
    pub licence_types: Vec<String>,
    pub keys: Vec<TrustedKey>,
}

/// One key of an authority, trusted for what it signed in
/// `[not_before, not_after]`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustedKey {
    /// Hex key id (`VerifiedPresentation.issuer_key_id`; the `kid` of its
    /// status list, `ApiClient.status_list`).
    pub key_id: String,
    pub suite: CryptoSuite,
    /// SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds; null while the key is in service.
    pub not_after: Option<i64>,
}

#[uniffi::export]
impl TrustList {
    /// When the list was signed, Unix seconds.
    pub fn issued_at(&self) -> i64 {
        self.inner.issued_at
    }

    /// How long after `issued_at` the list may be relied on.
    pub fn max_age_secs(&self) -> u32 {
        self.inner.max_age_secs
    }

    /// The listed authorities, in the list's order.
    pub fn authorities(&self) -> Vec<TrustedAuthority> {
        self.inner
            .authorities
            .iter()
            .map(|a| TrustedAuthority {
                uscc: a.uscc.as_ref().map(|u| u.as_str().to_owned()),
                name: a.name.clone(),
                region: a.region.clone(),
                network_id: a.network_id,
                licence_types: a.licence_types.clone(),
                keys: a
                    .keys
                    .iter()
                    .map(|k| TrustedKey {
                        key_id: k.kid().iter().map(|b| format!("{b:02x}")).collect(),
                        suite: k.key.suite().into(),
                        public_key_pem: k.key.to_spki_pem(),
                        not_before: k.not_before,
                        not_after: k.not_after,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Whatever a scanner read.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ScannedCode {
    /// A 网证 or licence presentation: verify it.
    Presentation { text: String },
    /// A government website's scan-to-login QR (扫码登录).
    LoginRequest { server: String, session: String },
    /// A link to a service matter.
    ServiceLink { matter_code: String },
    /// Anything else, with the reason code.
    Unknown { code: String },
}

/// Classifies scanned text; never fails.
#[uniffi::export]
pub fn classify_scan(text: String) -> ScannedCode {
    match scan::classify(&text) {
        Scanned::Presentation(text) => ScannedCode::Presentation { text },
        Scanned::LoginRequest(login) => ScannedCode::LoginRequest {
            server: login.server,
            session: login.session,
        },
        Scanned::ServiceLink(link) => ScannedCode::ServiceLink {
            matter_code: link.matter_code,
        },
        Scanned::Unknown(reason) => ScannedCode::Unknown {
            code: reason.code().to_owned(),
        },
        _ => ScannedCode::Unknown {
            code: "YW-1313".to_owned(),
        },
    }
}
