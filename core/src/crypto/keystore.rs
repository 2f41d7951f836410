//! Where private keys live.
//!
//! The apps implement [`KeyStore`] over Secure Enclave / Android Keystore
//! (StrongBox) as a foreign trait through the bindings: the key is generated in
//! hardware and only public keys and signatures come out. [`SoftwareKeyStore`]
//! is the implementation for tests, the server and the command line: keys in
//! memory, optionally persisted as PKCS#8 PEM files (mode 0600) in a directory.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use thiserror::Error;

use zeroize::Zeroizing;

use super::{CryptoError, SigningKey, Suite, VerifyingKey};

/// The name of a key in a store: 1 to 64 characters from `A-Z a-z 0-9 . _ -`,
/// not starting with a dot (it may become a file name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyAlias(String);

impl KeyAlias {
    pub fn new(alias: &str) -> Result<Self, KeyStoreError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if alias.is_empty()
            || alias.len() > 64
            || alias.starts_with('.')
            || !alias.chars().all(ok_char)
        {
            return Err(KeyStoreError::InvalidAlias);
        }
        Ok(Self(alias.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a key store operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    #[error("no key with that alias")]
    NotFound,
    #[error("a key with that alias already exists")]
    AliasExists,
    #[error("invalid key alias: 1 to 64 characters from A-Z a-z 0-9 . _ -, not starting with '.'")]
    InvalidAlias,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("key storage failed: {0}")]
    Storage(String),
    /// The platform key store (Secure Enclave, Android Keystore) refused or failed.
    #[error("platform key store error: {0}")]
    Platform(String),
}

impl KeyStoreError {
    /// Stable error code (`YW-12xx`, or the crypto error's own code).
    pub fn code(&self) -> &'static str {
        match self {
            KeyStoreError::NotFound => "YW-1201",
            KeyStoreError::AliasExists => "YW-1202",
            KeyStoreError::InvalidAlias => "YW-1203",
            KeyStoreError::Crypto(e) => e.code(),
            KeyStoreError::Storage(_) => "YW-1204",
            KeyStoreError::Platform(_) => "YW-1205",
        }
    }
}

/// A store of signing keys addressed by alias. Implementations backed by
/// hardware never reveal private key bytes; the trait has no call that would.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// Generates a key under `alias`; fails with [`KeyStoreError::AliasExists`]
    /// rather than replace a key.
    fn generate(&self, alias: &KeyAlias, suite: Suite) -> Result<VerifyingKey, KeyStoreError>;
    /// The public key of `alias`.
    fn public_key(&self, alias: &KeyAlias) -> Result<VerifyingKey, KeyStoreError>;
    /// Signs `message` with `alias`: a DER signature of the key's suite.
    fn sign(&self, alias: &KeyAlias, message: &[u8]) -> Result<Vec<u8>, KeyStoreError>;
    /// Deletes `alias` (a signing or a wrapping key); `Ok(false)` when there was no such key.
    fn delete(&self, alias: &KeyAlias) -> Result<bool, KeyStoreError>;
    /// Generates a wrapping key under `alias` for [`KeyStore::wrap`]: an
    /// AES-GCM key in Android Keystore, an ECIES key pair in the Secure
    /// Enclave, an SM4-GCM or AES-256-GCM key in software.
    fn generate_wrapping_key(&self, alias: &KeyAlias, suite: Suite) -> Result<(), KeyStoreError>;
    /// Encrypts a small secret (the wallet's data key) under the wrapping key
    /// `alias`, bound to `aad`.
    fn wrap(&self, alias: &KeyAlias, aad: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyStoreError>;
    /// Reverses [`KeyStore::wrap`]; fails (YW-1106) with another key or `aad`.
    fn unwrap(
        &self,
        alias: &KeyAlias,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyStoreError>;
    /// Whether private keys are held in hardware (Secure Enclave, StrongBox, TEE).
    fn is_hardware_backed(&self) -> bool {
        false
    }
}

/// Keys in process memory, optionally persisted in a directory: signing keys
/// as PKCS#8 PEM files (`<alias>.pem`), wrapping keys as `<alias>.wrap`
/// (`<suite>:<hex>`), both mode 0600.
pub struct SoftwareKeyStore {
    keys: Mutex<HashMap<KeyAlias, StoredKey>>,
    dir: Option<PathBuf>,
}

#[derive(Clone)]
enum StoredKey {
    Signing(SigningKey),
    Wrapping(Suite, Zeroizing<Vec<u8>>),
}

impl SoftwareKeyStore {
    /// A store that forgets its keys when dropped.
    pub fn in_memory() -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            dir: None,
        }
    }

    /// A store persisted in `dir` (created if missing).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, KeyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(storage_error)?;
        let mut keys = HashMap::new();
        for entry in std::fs::read_dir(&dir).map_err(storage_error)? {
            let path = entry.map_err(storage_error)?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let parsed = if let Some(alias) = name
                .strip_suffix(".pem")
                .and_then(|n| KeyAlias::new(n).ok())
            {
                let pem = Zeroizing::new(std::fs::read_to_string(&path).map_err(storage_error)?);
                (alias, StoredKey::Signing(SigningKey::from_pkcs8_pem(&pem)?))
            } else if let Some(alias) = name
                .strip_suffix(".wrap")
                .and_then(|n| KeyAlias::new(n).ok())
            {
                let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(storage_error)?);
                (alias, parse_wrapping_key(&text)?)
            } else {
                continue;
            };
            keys.insert(parsed.0, parsed.1);
        }
        Ok(Self {
            keys: Mutex::new(keys),
            dir: Some(dir),
        })
    }

    /// Imports an existing signing key under `alias` (for the CLI and tests).
    pub fn insert(&self, alias: &KeyAlias, key: SigningKey) -> Result<VerifyingKey, KeyStoreError> {
        let public = key.verifying_key()?;
        self.store(alias, StoredKey::Signing(key))?;
        Ok(public)
    }

    fn store(&self, alias: &KeyAlias, key: StoredKey) -> Result<(), KeyStoreError> {
        let mut keys = self.lock();
        if keys.contains_key(alias) {
            return Err(KeyStoreError::AliasExists);
        }
        if let Some(dir) = &self.dir {
            match &key {
                StoredKey::Signing(signing) => {
                    write_private_pem(&dir.join(format!("{alias}.pem")), signing)?
                }
                StoredKey::Wrapping(suite, bytes) => {
                    let text = Zeroizing::new(format!("{suite}:{}", hex_lower(bytes)));
                    write_secret_file(&dir.join(format!("{alias}.wrap")), text.as_bytes())?;
                }
            }
        }
        keys.insert(alias.clone(), key);
        Ok(())
    }

    fn signing_key(&self, alias: &KeyAlias) -> Result<SigningKey, KeyStoreError> {
        match self.lock().get(alias) {
            Some(StoredKey::Signing(key)) => Ok(key.clone()),
            _ => Err(KeyStoreError::NotFound),
        }
    }

    fn wrapping_key(&self, alias: &KeyAlias) -> Result<super::AeadKey, KeyStoreError> {
        match self.lock().get(alias) {
            Some(StoredKey::Wrapping(suite, bytes)) => Ok(suite.aead_key(bytes)?),
            _ => Err(KeyStoreError::NotFound),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<KeyAlias, StoredKey>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is a single insert/remove), so a poisoned lock is usable.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KeyStore for SoftwareKeyStore {
    fn generate(&self, alias: &KeyAlias, suite: Suite) -> Result<VerifyingKey, KeyStoreError> {
        self.insert(alias, SigningKey::generate(suite)?)
    }

    fn public_key(&self, alias: &KeyAlias) -> Result<VerifyingKey, KeyStoreError> {
        Ok(self.signing_key(alias)?.verifying_key()?)
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        // Cloned out of the lock so that concurrent signers do not serialise.
        Ok(self.signing_key(alias)?.sign(message)?)
    }

    fn delete(&self, alias: &KeyAlias) -> Result<bool, KeyStoreError> {
        let mut keys = self.lock();
        let Some(removed) = keys.remove(alias) else {
            return Ok(false);
        };
        if let Some(dir) = &self.dir {
            let file = match removed {
                StoredKey::Signing(_) => format!("{alias}.pem"),
                StoredKey::Wrapping(..) => format!("{alias}.wrap"),
            };
            std::fs::remove_file(dir.join(file)).map_err(storage_error)?;
        }
        Ok(true)
    }

    fn generate_wrapping_key(&self, alias: &KeyAlias, suite: Suite) -> Result<(), KeyStoreError> {
        let mut bytes = Zeroizing::new(vec![0u8; suite.aead_key_len()]);
        super::random_bytes(&mut bytes)?;
        self.store(alias, StoredKey::Wrapping(suite, bytes))
    }

    fn wrap(&self, alias: &KeyAlias, aad: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        Ok(self.wrapping_key(alias)?.seal(aad, secret)?)
    }

    fn unwrap(
        &self,
        alias: &KeyAlias,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        Ok(Zeroizing::new(
            self.wrapping_key(alias)?.open(aad, wrapped)?,
        ))
    }
}

impl fmt::Debug for SoftwareKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut aliases: Vec<String> = self.lock().keys().map(|a| a.to_string()).collect();
        aliases.sort();
        f.debug_struct("SoftwareKeyStore")
            .field("aliases", &aliases)
            .field("dir", &self.dir)
            .finish()
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<suite>:<hex>` as written by [`SoftwareKeyStore`].
fn parse_wrapping_key(text: &str) -> Result<StoredKey, KeyStoreError> {
    let bad = || {
        KeyStoreError::Crypto(CryptoError::KeyEncoding {
            expected: "wrapping key file",
        })
    };
    let (suite, hex) = text.trim().split_once(':').ok_or_else(bad)?;
    let suite: Suite = suite.parse().map_err(|_| bad())?;
    if hex.len() != suite.aead_key_len() * 2 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    Ok(StoredKey::Wrapping(suite, Zeroizing::new(bytes)))
}

fn storage_error(e: std::io::Error) -> KeyStoreError {
    KeyStoreError::Storage(e.kind().to_string())
}

/// Writes a private key as PKCS#8 PEM, readable by the owner only, atomically,
/// refusing to replace an existing file.
pub fn write_private_pem(path: &Path, key: &SigningKey) -> Result<(), KeyStoreError> {
    write_secret_file(path, key.to_pkcs8_pem()?.as_bytes())
}

/// Writes `contents` with mode 0600 through a temporary file and a rename;
/// refuses to replace an existing file.
fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), KeyStoreError> {
    use std::io::Write;
    if path.exists() {
        return Err(KeyStoreError::AliasExists);
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(storage_error)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(storage_error)?;
    std::fs::rename(&tmp, path).map_err(storage_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_checked() {
        for good in ["device", "issuer-2026.gm", "A_1"] {
            KeyAlias::new(good).unwrap();
        }
        for bad in [
            "",
            ".hidden",
            "../etc/passwd",
            "a/b",
            "密钥",
            &"x".repeat(65),
        ] {
            assert_eq!(KeyAlias::new(bad).unwrap_err().code(), "YW-1203", "{bad}");
        }
    }

    #[test]
    fn memory_store_lifecycle() {
        let store = SoftwareKeyStore::in_memory();
        let alias = KeyAlias::new("device").unwrap();
        assert!(matches!(
            store.public_key(&alias),
            Err(KeyStoreError::NotFound)
        ));
        let public = store.generate(&alias, Suite::Gm).unwrap();
        assert_eq!(store.public_key(&alias).unwrap(), public);
        assert!(matches!(
            store.generate(&alias, Suite::Intl),
            Err(KeyStoreError::AliasExists)
        ));
        let sig = store.sign(&alias, b"hello").unwrap();
        public.verify(b"hello", &sig).unwrap();
        assert!(store.delete(&alias).unwrap());
        assert!(!store.delete(&alias).unwrap());
        assert!(matches!(
            store.sign(&alias, b"x"),
            Err(KeyStoreError::NotFound)
        ));
        assert!(!format!("{store:?}").contains("PRIVATE"));
    }

    #[test]
    fn directory_store_persists_with_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = KeyAlias::new("a").unwrap();
        let b = KeyAlias::new("b").unwrap();
        let (pa, pb) = {
            let store = SoftwareKeyStore::open(dir.path()).unwrap();
            (
                store.generate(&a, Suite::Gm).unwrap(),
                store.generate(&b, Suite::Intl).unwrap(),
            )
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("a.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let store = SoftwareKeyStore::open(dir.path()).unwrap();
        assert_eq!(store.public_key(&a).unwrap(), pa);
        assert_eq!(store.public_key(&b).unwrap(), pb);
        pb.verify(b"m", &store.sign(&b, b"m").unwrap()).unwrap();
        store.delete(&a).unwrap();
        assert!(!dir.path().join("a.pem").exists());
    }

    #[test]
    fn wrapping_keys_wrap_and_persist() {
        for suite in Suite::ALL {
            let dir = tempfile::tempdir().unwrap();
            let alias = KeyAlias::new("wallet").unwrap();
            let wrapped = {
                let store = SoftwareKeyStore::open(dir.path()).unwrap();
                store.generate_wrapping_key(&alias, suite).unwrap();
                assert!(matches!(
                    store.generate_wrapping_key(&alias, suite),
                    Err(KeyStoreError::AliasExists)
                ));
                // A wrapping key is not a signing key.
                assert!(matches!(
                    store.sign(&alias, b"x"),
                    Err(KeyStoreError::NotFound)
                ));
                store.wrap(&alias, b"aad", b"data key").unwrap()
            };
            let store = SoftwareKeyStore::open(dir.path()).unwrap();
            assert_eq!(
                store.unwrap(&alias, b"aad", &wrapped).unwrap().as_slice(),
                b"data key"
            );
            assert_eq!(
                store.unwrap(&alias, b"other", &wrapped).unwrap_err().code(),
                "YW-1106"
            );
            let other = SoftwareKeyStore::in_memory();
            other.generate_wrapping_key(&alias, suite).unwrap();
            assert_eq!(
                other.unwrap(&alias, b"aad", &wrapped).unwrap_err().code(),
                "YW-1106"
            );
            assert!(store.delete(&alias).unwrap());
            assert!(!dir.path().join("wallet.wrap").exists());
        }
    }

    #[test]
    fn concurrent_signing() {
        let store = std::sync::Arc::new(SoftwareKeyStore::in_memory());
        let alias = KeyAlias::new("k").unwrap();
        let public = store.generate(&alias, Suite::Gm).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let store = store.clone();
                let alias = alias.clone();
                std::thread::spawn(move || {
                    let msg = format!("message {i}");
                    (msg.clone(), store.sign(&alias, msg.as_bytes()).unwrap())
                })
            })
            .collect();
        for h in handles {
            let (msg, sig) = h.join().unwrap();
            public.verify(msg.as_bytes(), &sig).unwrap();
        }
    }
}
