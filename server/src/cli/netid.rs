//! `yiwang issuer init` and `yiwang netid issue|present|verify|revoke`: the
//! network ID credential from the command line, with an issuer directory:
//!
//! ```text
//! DIR/issuer.pem       issuer private key (PKCS#8, 0600)
//! DIR/issuer.pub.pem   issuer public key (give this to verifiers)
//! DIR/secret.key       32-byte secret deriving 网号 and pairwise keys (hex, 0600)
//! DIR/issuer.json      settings and the next status index
//! DIR/registry.json    person key (keyed hash of the ID number) → live status index
//! DIR/status.bits      the revocation bitstring
//! DIR/status.cose      the signed status list (give this to verifiers)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use yiwang_core::credential::{
    AssuranceMode, Enrolment, HolderCredential, Issuer, Licence, PresentationRequest, StatusList,
    VerificationPolicy, VerifiedStatusList, verify,
};
use yiwang_core::crypto::{
    KeyAlias, SigningKey, SoftwareKeyStore, Suite, VerifyingKey, write_private_pem,
};
use yiwang_core::identity::IdNumber;
use yiwang_core::qr::{self, QrMatrix};

use super::{CliError, print_json, read_file, read_text};

#[derive(Debug, clap::Subcommand)]
pub enum IssuerCommand {
    /// Create an issuer directory: key pair, secret, empty signed status list.
    Init {
        #[arg(long, default_value = "gm", value_parser = super::crypto::parse_suite)]
        suite: Suite,
        #[arg(long)]
        dir: PathBuf,
        /// Credential validity in days.
        #[arg(long, default_value_t = 180)]
        validity_days: u32,
        /// How long verifiers may trust a status list, in seconds.
        #[arg(long, default_value_t = 86_400)]
        status_max_age: u32,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum NetidCommand {
    /// Issue a credential for the person in CLAIMS.json, bound to the device key PUB.pem.
    Issue {
        #[arg(long)]
        issuer: PathBuf,
        #[arg(long)]
        holder_pub: PathBuf,
        /// JSON: {"name": "...", "id_number": "...", "photo_digest": "<64 hex>"} or "photo": "<file>"
        #[arg(long)]
        claims: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Issue as of this Unix time (default: now).
        #[arg(long)]
        at: Option<i64>,
    },
    /// Present a credential: prints the QR text, optionally writes PNG/SVG.
    Present {
        #[arg(long)]
        cred: PathBuf,
        #[arg(long)]
        holder_key: PathBuf,
        /// Comma-separated: name_masked,id_number_masked,name,id_number,birth_date,sex,region,
        /// photo_digest,network_id,age_over_N,age_under_N,age_range
        #[arg(long, default_value = "")]
        disclose: String,
        #[arg(long)]
        audience: String,
        #[arg(long)]
        nonce: Option<String>,
        /// netid | pin | biometric | pin+biometric
        #[arg(long, default_value = "netid")]
        mode: String,
        /// Seconds the code stays valid.
        #[arg(long, default_value_t = 60)]
        validity: u32,
        #[arg(long)]
        png: Option<PathBuf>,
        #[arg(long)]
        svg: Option<PathBuf>,
        #[arg(long)]
        at: Option<i64>,
    },
    /// Verify a presentation (QR text or a PNG with the code); exit 0 accepted, 1 rejected.
    Verify {
        /// Trusted issuer public key (repeatable).
        #[arg(long = "issuer-pub", required = true)]
        issuer_pub: Vec<PathBuf>,
        #[arg(long)]
        audience: String,
        #[arg(long)]
        nonce: Option<String>,
        /// Signed status list (status.cose) of the issuer.
        #[arg(long)]
        status: Option<PathBuf>,
        #[arg(long)]
        at: Option<i64>,
        #[arg(long, conflicts_with = "image", required_unless_present = "image")]
        text: Option<String>,
        #[arg(long)]
        image: Option<PathBuf>,
    },
    /// Revoke a credential: set its bit and re-sign the status list.
    Revoke {
        #[arg(long)]
        issuer: PathBuf,
        #[arg(long)]
        cred: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum LicenceCommand {
    /// Issue an e-licence (LICENCE.json, GB/T 36903 metadata) to the holder's device key.
    /// Present and verify it with `yiwang netid present|verify`.
    Issue {
        #[arg(long)]
        issuer: PathBuf,
        #[arg(long)]
        holder_pub: PathBuf,
        #[arg(long)]
        licence: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        at: Option<i64>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct IssuerSettings {
    suite: Suite,
    kid: String,
    validity_days: u32,
    status_max_age_secs: u32,
    next_status_index: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    /// person key → the person's live credential
    people: BTreeMap<String, RegistryEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RegistryEntry {
    status_index: u32,
    generation: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    name: String,
    id_number: String,
    photo_digest: Option<String>,
    photo: Option<PathBuf>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Usage(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, CliError> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

fn write_secret(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(text.as_bytes()).map_err(io(path))
}

/// An issuer directory, loaded.
struct IssuerDir {
    dir: PathBuf,
    settings: IssuerSettings,
    issuer: Issuer,
}

impl IssuerDir {
    fn load(dir: &Path) -> Result<Self, CliError> {
        let settings: IssuerSettings = read_json(&dir.join("issuer.json"))?;
        let key = SigningKey::from_pkcs8_pem(&read_text(&dir.join("issuer.pem"))?)?;
        let secret = hex::decode(read_text(&dir.join("secret.key"))?.trim())
            .ok()
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "{}: expected 64 hex characters",
                    dir.join("secret.key").display()
                ))
            })?;
        let store = Arc::new(SoftwareKeyStore::in_memory());
        let alias = KeyAlias::new("issuer")?;
        store.insert(&alias, key)?;
        let issuer = Issuer::new(store, alias, secret)?
            .with_validity_secs(i64::from(settings.validity_days) * 86_400);
        Ok(Self {
            dir: dir.to_path_buf(),
            settings,
            issuer,
        })
    }

    fn status_list(&self) -> Result<StatusList, CliError> {
        Ok(StatusList::from_bytes(&read_file(
            &self.dir.join("status.bits"),
        )?)?)
    }

    /// Saves the bits and re-signs the list as of `at`.
    fn publish_status(&self, list: &StatusList, at: i64) -> Result<(), CliError> {
        let bits = self.dir.join("status.bits");
        std::fs::write(&bits, list.to_bytes()).map_err(io(&bits))?;
        let token = self
            .issuer
            .sign_status_list(list, at, self.settings.status_max_age_secs)?;
        let cose = self.dir.join("status.cose");
        std::fs::write(&cose, token).map_err(io(&cose))
    }
}

impl From<yiwang_core::credential::CredentialError> for CliError {
    fn from(e: yiwang_core::credential::CredentialError) -> Self {
        CliError::Usage(format!("{} ({})", e, e.code()))
    }
}

pub fn run_issuer(command: IssuerCommand) -> Result<ExitCode, CliError> {
    let IssuerCommand::Init {
        suite,
        dir,
        validity_days,
        status_max_age,
    } = command;
    if dir.exists() && std::fs::read_dir(&dir).map_err(io(&dir))?.next().is_some() {
        return Err(CliError::Usage(format!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let key = SigningKey::generate(suite)?;
    let public = key.verifying_key()?;
    write_private_pem(&dir.join("issuer.pem"), &key)?;
    let public_path = dir.join("issuer.pub.pem");
    std::fs::write(&public_path, public.to_spki_pem()).map_err(io(&public_path))?;
    let mut secret = [0u8; 32];
    yiwang_core::crypto::random_bytes(&mut secret)?;
    write_secret(&dir.join("secret.key"), &hex::encode(secret))?;
    let settings = IssuerSettings {
        suite,
        kid: hex::encode(public.key_id()),
        validity_days,
        status_max_age_secs: status_max_age,
        next_status_index: 0,
    };
    write_json(&dir.join("issuer.json"), &settings)?;
    write_json(&dir.join("registry.json"), &Registry::default())?;
    let loaded = IssuerDir::load(&dir)?;
    loaded.publish_status(&StatusList::new(), now())?;
    print_json(&json!({
        "suite": suite,
        "kid": settings.kid,
        "dir": dir.display().to_string(),
        "public_key": public_path.display().to_string(),
        "status_list": dir.join("status.cose").display().to_string(),
    }));
    Ok(ExitCode::SUCCESS)
}

pub fn run_licence(command: LicenceCommand) -> Result<ExitCode, CliError> {
    let LicenceCommand::Issue {
        issuer,
        holder_pub,
        licence,
        out,
        at,
    } = command;
    let mut dir = IssuerDir::load(&issuer)?;
    let device_key = VerifyingKey::from_spki_pem(&read_text(&holder_pub)?)?;
    let licence = Licence::from_json(&read_text(&licence)?)?;
    if out.exists() {
        return Err(CliError::Usage(format!(
            "{} exists; not overwriting",
            out.display()
        )));
    }
    let status_index = dir.settings.next_status_index;
    let issued =
        dir.issuer
            .issue_licence(&licence, &device_key, status_index, at.unwrap_or_else(now))?;
    std::fs::write(&out, issued.to_bytes().as_slice()).map_err(io(&out))?;
    dir.settings.next_status_index += 1;
    write_json(&dir.dir.join("issuer.json"), &dir.settings)?;
    print_json(&json!({
        "identifier": licence.identifier.as_str(),
        "status_index": status_index,
        "valid_until": licence.valid_until.map(|d| d.to_string()),
        "expires": issued.expires(),
        "out": out.display().to_string(),
    }));
    Ok(ExitCode::SUCCESS)
}

pub fn run(command: NetidCommand) -> Result<ExitCode, CliError> {
    match command {
        NetidCommand::Issue {
            issuer,
            holder_pub,
            claims,
            out,
            at,
        } => issue(&issuer, &holder_pub, &claims, &out, at),
        NetidCommand::Present {
            cred,
            holder_key,
            disclose,
            audience,
            nonce,
            mode,
            validity,
            png,
            svg,
            at,
        } => {
            let credential = HolderCredential::from_bytes(&read_file(&cred)?)?;
            let key = SigningKey::from_pkcs8_pem(&read_text(&holder_key)?)?;
            let store = SoftwareKeyStore::in_memory();
            let alias = KeyAlias::new("device")?;
            store.insert(&alias, key)?;
            let mode = AssuranceMode::from_name(&mode).ok_or_else(|| {
                CliError::Usage("--mode: expected netid, pin, biometric or pin+biometric".into())
            })?;
            let request = PresentationRequest {
                nonce: nonce.map(String::into_bytes),
                mode,
                validity_secs: validity,
                ..PresentationRequest::new(audience).with_disclosure_list(&disclose)?
            };
            let text = credential.present(&request, &store, &alias, at.unwrap_or_else(now))?;
            if png.is_some() || svg.is_some() {
                let matrix = QrMatrix::encode(&text)
                    .map_err(|e| CliError::Usage(format!("{e} ({})", e.code())))?;
                if let Some(path) = png {
                    let bytes = matrix
                        .to_png(6)
                        .map_err(|e| CliError::Usage(format!("{e} ({})", e.code())))?;
                    std::fs::write(&path, bytes).map_err(io(&path))?;
                }
                if let Some(path) = svg {
                    std::fs::write(&path, matrix.to_svg(6)).map_err(io(&path))?;
                }
            }
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        NetidCommand::Verify {
            issuer_pub,
            audience,
            nonce,
            status,
            at,
            text,
            image,
        } => verify_command(
            &issuer_pub,
            audience,
            nonce,
            status.as_deref(),
            at,
            text,
            image.as_deref(),
        ),
        NetidCommand::Revoke { issuer, cred } => {
            let dir = IssuerDir::load(&issuer)?;
            let credential = HolderCredential::from_bytes(&read_file(&cred)?)?;
            if credential.issuer_key_id()? != dir.issuer.public_key().key_id() {
                return Err(CliError::Usage(
                    "the credential was not issued by this issuer".into(),
                ));
            }
            let mut list = dir.status_list()?;
            list.revoke(credential.status_index());
            dir.publish_status(&list, now())?;
            print_json(&json!({ "revoked": true, "status_index": credential.status_index() }));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn issue(
    issuer: &Path,
    holder_pub: &Path,
    claims: &Path,
    out: &Path,
    at: Option<i64>,
) -> Result<ExitCode, CliError> {
    let mut dir = IssuerDir::load(issuer)?;
    let device_key = VerifyingKey::from_spki_pem(&read_text(holder_pub)?)?;
    let claims: ClaimsFile = read_json(claims)?;
    let id_number = IdNumber::parse(&claims.id_number)
        .map_err(|e| CliError::Usage(format!("id_number: {e} ({})", e.code())))?;
    let photo_digest: [u8; 32] = match (claims.photo_digest, claims.photo) {
        (Some(hex_digest), None) => hex::decode(hex_digest.trim())
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| CliError::Usage("photo_digest: expected 64 hex characters".into()))?,
        (None, Some(photo)) => dir.issuer.suite().hash(&read_file(&photo)?),
        _ => {
            return Err(CliError::Usage(
                "claims: give exactly one of photo_digest and photo".into(),
            ));
        }
    };
    let enrolment = Enrolment {
        name: claims.name,
        id_number,
        photo_digest,
    };
    let at = at.unwrap_or_else(now);

    let registry_path = dir.dir.join("registry.json");
    let mut registry: Registry = read_json(&registry_path)?;
    let person = dir.issuer.person_key(&enrolment.id_number);
    let status_index = dir.settings.next_status_index;
    let credential = dir
        .issuer
        .issue(&enrolment, &device_key, status_index, at)?;
    if out.exists() {
        return Err(CliError::Usage(format!(
            "{} exists; not overwriting",
            out.display()
        )));
    }
    std::fs::write(out, credential.to_bytes().as_slice()).map_err(io(out))?;

    // One live copy per person: a new device's credential revokes the previous one.
    let previous = registry
        .people
        .get(&person)
        .map(|e| (e.status_index, e.generation));
    let generation = previous.map_or(1, |(_, g)| g + 1);
    let mut list = dir.status_list()?;
    if let Some((old_index, _)) = previous {
        list.revoke(old_index);
    }
    registry.people.insert(
        person,
        RegistryEntry {
            status_index,
            generation,
        },
    );
    dir.settings.next_status_index += 1;
    write_json(&registry_path, &registry)?;
    write_json(&dir.dir.join("issuer.json"), &dir.settings)?;
    dir.publish_status(&list, at)?;

    print_json(&json!({
        "network_id": credential.network_id(),
        "generation": generation,
        "status_index": status_index,
        "revoked_previous": previous.map(|(i, _)| i),
        "not_before": credential.not_before(),
        "expires": credential.expires(),
        "out": out.display().to_string(),
    }));
    Ok(ExitCode::SUCCESS)
}

fn verify_command(
    issuer_pub: &[PathBuf],
    audience: String,
    nonce: Option<String>,
    status: Option<&Path>,
    at: Option<i64>,
    text: Option<String>,
    image: Option<&Path>,
) -> Result<ExitCode, CliError> {
    let trusted = issuer_pub
        .iter()
        .map(|p| Ok(VerifyingKey::from_spki_pem(&read_text(p)?)?))
        .collect::<Result<Vec<_>, CliError>>()?;
    let reject = |code: &str, message: String| {
        print_json(&json!({ "valid": false, "error": { "code": code, "message": message } }));
        Ok(ExitCode::from(1))
    };
    let text = match (text, image) {
        (Some(text), _) => text,
        (None, Some(image)) => match qr::decode_png(&read_file(image)?) {
            Ok(mut texts) if !texts.is_empty() => texts.swap_remove(0),
            Ok(_) => {
                return reject(
                    qr::QrError::NotFound.code(),
                    qr::QrError::NotFound.to_string(),
                );
            }
            Err(e) => return reject(e.code(), e.to_string()),
        },
        (None, None) => return Err(CliError::Usage("give --text or --image".into())),
    };
    let mut policy = VerificationPolicy::new(trusted.clone(), audience, at.unwrap_or_else(now));
    policy.nonce = nonce.map(String::into_bytes);
    if let Some(status) = status {
        match VerifiedStatusList::verify(&read_file(status)?, &trusted) {
            Ok(list) => policy.status_lists.push(list),
            Err(e) => return reject(e.code(), e.to_string()),
        }
        policy.require_status = true;
    }
    match verify(&text, &policy) {
        Ok(verified) => {
            let mut report =
                serde_json::to_value(&verified).map_err(|e| CliError::Usage(e.to_string()))?;
            report["valid"] = json!(true);
            print_json(&report);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => reject(e.code(), e.to_string()),
    }
}
