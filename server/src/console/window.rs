//! Window verification (窗口核验): staff paste or scan (a USB scanner types
//! the text) a citizen's QR code; the page verifies it against this server's
//! trust list (the 网证 issuer and every registered licence authority) for
//! the audience `window:<window_id>`, checks the status (revoked, suspended
//! or superseded) where this server keeps it, and shows the disclosed
//! claims and the assurance mode, or a red result with the reason in plain
//! Chinese and the stable code.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Html;
use base64ct::Encoding as _;
use maud::{Markup, html};
use serde::Deserialize;
use yiwang_core::credential::{
    AssuranceMode, Claim, ClaimValue, CredentialError, DocType, VerificationPolicy,
    VerifiedPresentation, verify_trusted,
};
use yiwang_core::qr::QrError;

use super::session::Session;
use super::{ConsoleError, Page, allow, check_csrf, page};
use crate::AppState;
use crate::audit;
use crate::issuer::now;

/// The audience a window's presentations are made to.
fn audience(session: &Session) -> String {
    format!(
        "window:{}",
        session.user.window_id.as_deref().unwrap_or("console")
    )
}

/// `GET /console/window`
pub async fn form(session: Session) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Window)?;
    Ok(render(&session, "", None))
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    csrf: String,
    /// The QR text (typed by a scanner or pasted).
    #[serde(default)]
    qr: String,
    /// Or a photo of the code: a `data:image/png;base64,…` URL that the
    /// page's script makes from a chosen image file or a webcam frame.
    #[serde(default)]
    image: String,
}

/// The largest photo accepted, as a data URL (the page scales frames down
/// to 1024 pixels a side first).
pub const MAX_IMAGE_CHARS: usize = 2 * 1024 * 1024;

/// What the page shows after a verification.
enum Outcome {
    Accepted(Box<VerifiedPresentation>),
    Refused { code: &'static str, reason: String },
}

/// `POST /console/window`: verifies the pasted text.
pub async fn verify(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Result<Html<String>, ConsoleError> {
    allow(&session, Page::Window)?;
    let Form(form) = form.map_err(super::form_refused)?;
    check_csrf(&session, &headers, &form.csrf)?;
    let outcome = match text_of(&form) {
        Err(outcome) => outcome,
        Ok(text) => {
            let at = now();
            let trust = crate::library::current_trust_list(&state, at).await?;
            let policy = VerificationPolicy::new(Vec::new(), audience(&session), at);
            match verify_trusted(&text, &trust, &policy) {
                Err(e) => refused(&e),
                Ok(verified) => {
                    match crate::issuer::check_not_revoked(state.db().pool(), &verified).await {
                        Ok(()) => Outcome::Accepted(Box::new(verified)),
                        Err(e) if e.code == "YW-1413" => refused(&CredentialError::Revoked),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    };
    let (action, subject) = match &outcome {
        Outcome::Accepted(v) => (
            "window.verify.accepted",
            text(v, Claim::NetworkId).map(str::to_owned),
        ),
        Outcome::Refused { .. } => ("window.verify.refused", None),
    };
    audit::record(
        state.db().pool(),
        &session.user.actor(),
        action,
        subject.as_deref(),
    )
    .await?;
    // The pasted text is not shown again: the next scan starts empty.
    Ok(render(&session, "", Some(&outcome)))
}

/// The QR text of the form: typed, or read from the photo.
fn text_of(form: &VerifyForm) -> Result<String, Outcome> {
    if !form.qr.trim().is_empty() || form.image.is_empty() {
        return Ok(form.qr.trim().to_owned());
    }
    let photo_refused = |code: &'static str, reason: &str| Outcome::Refused {
        code,
        reason: reason.to_owned(),
    };
    let png = form
        .image
        .strip_prefix("data:image/png;base64,")
        .filter(|b64| b64.len() <= MAX_IMAGE_CHARS)
        .and_then(|b64| base64ct::Base64::decode_vec(b64).ok())
        .ok_or_else(|| photo_refused("YW-1303", "图片无法读取，请重新拍摄或选择 PNG 图片。"))?;
    match yiwang_core::qr::decode_png(&png) {
        Ok(texts) => Ok(texts.into_iter().next().unwrap_or_default()),
        Err(QrError::NotFound | QrError::Detector) => Err(photo_refused(
            "YW-1306",
            "图片中没有找到二维码，请对准二维码重新拍摄。",
        )),
        Err(e) => Err(photo_refused(
            e.code(),
            "图片无法读取，请重新拍摄或选择 PNG 图片。",
        )),
    }
}

fn refused(e: &CredentialError) -> Outcome {
    Outcome::Refused {
        code: e.code(),
        reason: reason_zh(e).to_owned(),
    }
}

/// Each rejection in words the staff can say to the citizen.
fn reason_zh(e: &CredentialError) -> &'static str {
    use CredentialError as E;
    match e {
        E::NotOurFormat => "这不是网证或电子证照的二维码，请让群众打开“亮证”页面。",
        E::Malformed(_) => "二维码内容不完整或已损坏，请重新扫描。",
        E::UnknownIssuer => "签发机构不在信任列表中，不能采信。",
        E::BadIssuerSignature | E::DigestMismatch => "签名校验失败：二维码内容被篡改过，不能采信。",
        E::BadDeviceSignature => "设备签名校验失败：二维码不是由持证手机生成的。",
        E::CredentialExpired => "证件已过期，请群众更新网证或证照。",
        E::CredentialNotYetValid => "证件尚未生效。",
        E::StalePresentation => "二维码已过期（可能是截图），请群众刷新后重新出示。",
        E::FutureTimestamp => "二维码时间异常（手机时间不准），请群众校准时间后重新出示。",
        E::WrongAudience => "这个二维码是为其他网站或窗口生成的，请群众在本窗口重新出示。",
        E::WrongNonce => "二维码与本次核验请求不匹配，请重新出示。",
        E::Revoked => "证件已被注销、暂停或已有新版本，不能使用。",
        E::StatusListTooOld | E::BadStatusList | E::StatusListMissing => {
            "暂时无法确认证件状态，请稍后重试。"
        }
        E::KeyNotValidThen => "签发时所用的密钥不在有效期内，不能采信。",
        E::TypeNotAuthorised => "签发机构无权签发此类证照。",
        E::InvalidRequest(_) => "电子证照未出示证照类型，无法核验，请群众出示完整证照信息。",
        _ => "无法核验此二维码。",
    }
}

fn text(v: &VerifiedPresentation, claim: Claim) -> Option<&str> {
    match v.claims.get(&claim) {
        Some(ClaimValue::Text(t)) => Some(t),
        _ => None,
    }
}

fn claim_label(claim: Claim) -> &'static str {
    match claim {
        Claim::NameMasked => "姓名（脱敏）",
        Claim::IdNumberMasked => "身份证号（脱敏）",
        Claim::NetworkId => "网号",
        Claim::Name => "姓名",
        Claim::IdNumber => "身份证号",
        Claim::BirthDate => "出生日期",
        Claim::Sex => "性别",
        Claim::Region => "地区代码",
        Claim::PhotoDigest => "照片摘要",
        Claim::LicenceName => "证照名称",
        Claim::TypeCode => "证照类型代码",
        Claim::Number => "证照编号",
        Claim::Identifier => "证照标识",
        Claim::IssuerName => "颁发机构",
        Claim::IssuerCode => "颁发机构代码",
        Claim::IssueDate => "颁发日期",
        Claim::HolderName => "持证主体",
        Claim::HolderCode => "持证主体代码",
        Claim::HolderCodeType => "持证主体代码类型",
        Claim::ValidFrom => "有效期起始",
        Claim::ValidUntil => "有效期截止",
        Claim::Jurisdiction => "管辖区域",
        Claim::HolderNameMasked => "持证主体（脱敏）",
        Claim::HolderCodeMasked => "持证主体代码（脱敏）",
        _ => "其他",
    }
}

fn mode_zh(mode: AssuranceMode) -> &'static str {
    match mode {
        AssuranceMode::Credential => "网证（未验证口令或生物特征）",
        AssuranceMode::Pin => "网证 + 口令",
        AssuranceMode::Biometric => "网证 + 人脸/生物特征",
        AssuranceMode::PinAndBiometric => "网证 + 口令 + 人脸",
    }
}

fn value_text(claim: Claim, value: &ClaimValue) -> String {
    match (claim, value) {
        (Claim::Sex, ClaimValue::Text(t)) if t == "male" => "男".to_owned(),
        (Claim::Sex, ClaimValue::Text(t)) if t == "female" => "女".to_owned(),
        (_, ClaimValue::Text(t)) => t.clone(),
        (_, ClaimValue::Bytes(b)) => hex::encode(b),
    }
}

fn accepted(v: &VerifiedPresentation) -> Markup {
    let kind = match v.doctype {
        DocType::NetworkId => "网证",
        DocType::Licence => "电子证照",
    };
    html! {
        div.result.accepted role="status" data-result="accepted" {
            h2 { "✔ 核验通过 · " (kind) }
            dl {
                dt { "认证模式" } dd data-field="mode" { (mode_zh(v.mode)) }
                @for (claim, value) in &v.claims {
                    dt { (claim_label(*claim)) } dd { (value_text(*claim, value)) }
                }
                @for derived in &v.derived {
                    dt { "年龄声明" } dd { (derived.name()) }
                }
                @if let Some(range) = &v.age_range {
                    dt { "年龄段" } dd { (range) }
                }
                dt { "本窗口标识（化名）" } dd { code { (v.pairwise_id) } }
            }
        }
    }
}

fn render(session: &Session, qr: &str, outcome: Option<&Outcome>) -> Html<String> {
    page(
        "窗口核验",
        Some(session),
        html! {
            @match outcome {
                Some(Outcome::Accepted(v)) => (accepted(v)),
                Some(Outcome::Refused { code, reason }) => {
                    div.result.refused role="alert" data-result="refused" {
                        h2 { "✘ 核验未通过" }
                        p.reason { (reason) }
                        p.meta { "错误码 " code data-field="code" { (code) } }
                    }
                }
                None => {}
            }
            form.card method="post" action="/console/window" {
                input type="hidden" name="csrf" value=(session.csrf);
                p.hint {
                    "请群众在手机上“亮证”，出示对象选择本窗口（" code { (audience(session)) } "）。"
                    "用扫码枪扫描，或把二维码文字粘贴到下面。"
                }
                label for="qr" { "二维码内容" }
                textarea id="qr" name="qr" rows="4" autofocus
                    autocomplete="off" spellcheck="false" data-autosubmit { (qr) }
                input type="hidden" name="image" id="image";
                button type="submit" { "核验" }
                // Photos need the script (it turns them into a PNG data URL).
                div.photo hidden data-photo {
                    label for="photo" { "或选择二维码图片" }
                    input id="photo" type="file" accept="image/*";
                    button.secondary type="button" data-camera { "用摄像头扫描" }
                    video data-video hidden playsinline muted {}
                    button.secondary type="button" data-capture hidden { "拍照核验" }
                }
            }
        },
    )
}
