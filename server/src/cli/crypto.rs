use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;
use yiwang_core::crypto::{SigningKey, Suite, VerifyingKey};

use super::{CliError, print_json, read_file, read_text};

#[derive(Debug, clap::Subcommand)]
pub enum CryptoCommand {
    /// Generate a key pair: KEY.pem (PKCS#8, mode 0600) and KEY.pub.pem (SubjectPublicKeyInfo).
    Keygen {
        #[arg(long, default_value = "gm", value_parser = parse_suite)]
        suite: Suite,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign FILE (or - for stdin); prints the DER signature as hex.
    Sign {
        #[arg(long)]
        key: PathBuf,
        file: PathBuf,
    },
    /// Verify a hex DER signature over FILE; exit 0 valid, 1 invalid.
    Verify {
        #[arg(long = "pub")]
        public: PathBuf,
        #[arg(long)]
        sig: String,
        file: PathBuf,
    },
}

pub(crate) fn parse_suite(s: &str) -> Result<Suite, String> {
    s.parse().map_err(|_| "expected `gm` or `intl`".to_string())
}

pub fn run(command: CryptoCommand) -> Result<ExitCode, CliError> {
    match command {
        CryptoCommand::Keygen { suite, out } => keygen(suite, &out),
        CryptoCommand::Sign { key, file } => {
            let key = SigningKey::from_pkcs8_pem(&read_text(&key)?)?;
            println!("{}", hex::encode(key.sign(&read_file(&file)?)?));
            Ok(ExitCode::SUCCESS)
        }
        CryptoCommand::Verify { public, sig, file } => {
            let key = VerifyingKey::from_spki_pem(&read_text(&public)?)?;
            let message = read_file(&file)?;
            let outcome = hex::decode(sig.trim())
                .map_err(|_| yiwang_core::crypto::CryptoError::SignatureEncoding)
                .and_then(|sig| key.verify(&message, &sig));
            match outcome {
                Ok(()) => {
                    print_json(&json!({ "valid": true, "suite": key.suite() }));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    print_json(&json!({
                        "valid": false,
                        "suite": key.suite(),
                        "error": { "code": e.code(), "message": e.to_string() },
                    }));
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// `KEY.pem` → `KEY.pub.pem`; any other name gets `.pub.pem` appended.
fn public_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".pem").unwrap_or(&name);
    out.with_file_name(format!("{stem}.pub.pem"))
}

fn keygen(suite: Suite, out: &Path) -> Result<ExitCode, CliError> {
    let public_out = public_path(out);
    if public_out.exists() {
        return Err(CliError::Usage(format!(
            "{} exists; not overwriting",
            public_out.display()
        )));
    }
    let key = SigningKey::generate(suite)?;
    yiwang_core::crypto::write_private_pem(out, &key).map_err(|e| match e {
        yiwang_core::crypto::KeyStoreError::AliasExists => {
            CliError::Usage(format!("{} exists; not overwriting", out.display()))
        }
        other => other.into(),
    })?;
    let public_pem = key.verifying_key()?.to_spki_pem();
    std::fs::write(&public_out, public_pem).map_err(|source| CliError::Io {
        path: public_out.display().to_string(),
        source,
    })?;
    print_json(&json!({
        "suite": suite,
        "private_key": out.display().to_string(),
        "public_key": public_out.display().to_string(),
    }));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_path_next_to_private() {
        assert_eq!(
            public_path(Path::new("/k/issuer.pem")),
            PathBuf::from("/k/issuer.pub.pem")
        );
        assert_eq!(public_path(Path::new("key")), PathBuf::from("key.pub.pem"));
    }
}
