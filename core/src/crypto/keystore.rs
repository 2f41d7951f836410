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
    /// Deletes `alias`; `Ok(false)` when there was no such key.
    fn delete(&self, alias: &KeyAlias) -> Result<bool, KeyStoreError>;
    /// Whether private keys are held in hardware (Secure Enclave, StrongBox, TEE).
    fn is_hardware_backed(&self) -> bool {
        false
    }
}

/// Keys in process memory, optionally persisted as PKCS#8 PEM files.
pub struct SoftwareKeyStore {
    keys: Mutex<HashMap<KeyAlias, SigningKey>>,
    dir: Option<PathBuf>,
}

impl SoftwareKeyStore {
    /// A store that forgets its keys when dropped.
    pub fn in_memory() -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            dir: None,
        }
    }

    /// A store persisted in `dir` (created if missing), one `<alias>.pem` per key.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, KeyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(storage_error)?;
        let mut keys = HashMap::new();
        for entry in std::fs::read_dir(&dir).map_err(storage_error)? {
            let path = entry.map_err(storage_error)?.path();
            let Some(alias) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pem"))
                .and_then(|n| KeyAlias::new(n).ok())
            else {
                continue;
            };
            let pem =
                zeroize::Zeroizing::new(std::fs::read_to_string(&path).map_err(storage_error)?);
            keys.insert(alias, SigningKey::from_pkcs8_pem(&pem)?);
        }
        Ok(Self {
            keys: Mutex::new(keys),
            dir: Some(dir),
        })
    }

    /// Imports an existing key under `alias` (for the CLI and tests).
    pub fn insert(&self, alias: &KeyAlias, key: SigningKey) -> Result<VerifyingKey, KeyStoreError> {
        let mut keys = self.lock();
        if keys.contains_key(alias) {
            return Err(KeyStoreError::AliasExists);
        }
        let public = key.verifying_key()?;
        if let Some(dir) = &self.dir {
            write_private_pem(&dir.join(format!("{alias}.pem")), &key)?;
        }
        keys.insert(alias.clone(), key);
        Ok(public)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<KeyAlias, SigningKey>> {
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
        Ok(self
            .lock()
            .get(alias)
            .ok_or(KeyStoreError::NotFound)?
            .verifying_key()?)
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        // Clone out of the lock so that concurrent signers do not serialise.
        let key = self
            .lock()
            .get(alias)
            .cloned()
            .ok_or(KeyStoreError::NotFound)?;
        Ok(key.sign(message)?)
    }

    fn delete(&self, alias: &KeyAlias) -> Result<bool, KeyStoreError> {
        let mut keys = self.lock();
        let existed = keys.remove(alias).is_some();
        if existed && let Some(dir) = &self.dir {
            std::fs::remove_file(dir.join(format!("{alias}.pem"))).map_err(storage_error)?;
        }
        Ok(existed)
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

fn storage_error(e: std::io::Error) -> KeyStoreError {
    KeyStoreError::Storage(e.kind().to_string())
}

/// Writes a private key as PKCS#8 PEM, readable by the owner only, atomically
/// (temporary file + rename), refusing to replace an existing file.
pub fn write_private_pem(path: &Path, key: &SigningKey) -> Result<(), KeyStoreError> {
    use std::io::Write;
    if path.exists() {
        return Err(KeyStoreError::AliasExists);
    }
    let pem = key.to_pkcs8_pem()?;
    let tmp = path.with_extension("pem.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(storage_error)?;
    file.write_all(pem.as_bytes())
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
