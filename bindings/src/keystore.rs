use std::fmt;
use std::sync::Arc;

use yiwang_core::crypto::{
    CryptoError, KeyAlias, KeyStore, KeyStoreError, SoftwareKeyStore, Suite, VerifyingKey,
};
use zeroize::Zeroizing;

use crate::YiwangError;

/// The two cryptographic suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CryptoSuite {
    /// SM2 / SM3 / SM4 (商用密码), the default.
    Gm,
    /// ECDSA P-256 / SHA-256 / AES-256-GCM. Secure Enclave and StrongBox keys are this suite.
    Intl,
}

impl From<CryptoSuite> for Suite {
    fn from(s: CryptoSuite) -> Self {
        match s {
            CryptoSuite::Gm => Suite::Gm,
            CryptoSuite::Intl => Suite::Intl,
        }
    }
}

impl From<Suite> for CryptoSuite {
    fn from(s: Suite) -> Self {
        match s {
            Suite::Gm => CryptoSuite::Gm,
            Suite::Intl => CryptoSuite::Intl,
        }
    }
}

/// The platform key store, implemented by the app (Secure Enclave, Android
/// Keystore/StrongBox). Private keys never cross this interface: only public
/// keys (SubjectPublicKeyInfo DER), DER signatures and wrapped secrets do.
/// Throw `YiwangException.KeyStore` with code `YW-1201` for a missing alias,
/// `YW-1202` for an existing one, and `YiwangException.Crypto` with `YW-1106`
/// when `unwrap` fails to authenticate.
#[uniffi::export(with_foreign)]
pub trait PlatformKeyStore: Send + Sync {
    /// Generates a signing key; returns its public key (SPKI DER).
    fn generate(&self, alias: String, suite: CryptoSuite) -> Result<Vec<u8>, YiwangError>;
    /// The public key of `alias` (SPKI DER).
    fn public_key(&self, alias: String) -> Result<Vec<u8>, YiwangError>;
    /// A DER signature of `message` (SM2 with the default ID, or ECDSA P-256/SHA-256).
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, YiwangError>;
    fn delete(&self, alias: String) -> Result<bool, YiwangError>;
    /// Generates a wrapping key (AES-GCM in Android Keystore, ECIES in the Secure Enclave).
    fn generate_wrapping_key(&self, alias: String, suite: CryptoSuite) -> Result<(), YiwangError>;
    fn wrap(&self, alias: String, aad: Vec<u8>, secret: Vec<u8>) -> Result<Vec<u8>, YiwangError>;
    fn unwrap(&self, alias: String, aad: Vec<u8>, wrapped: Vec<u8>)
    -> Result<Vec<u8>, YiwangError>;
    fn is_hardware_backed(&self) -> bool;
}

/// An in-memory software key store (tests, tools, devices without hardware keys).
#[uniffi::export]
pub fn software_key_store() -> Arc<dyn PlatformKeyStore> {
    Arc::new(SoftwareStore(SoftwareKeyStore::in_memory()))
}

/// A software key store persisted in `directory` (PKCS#8 files, mode 0600).
#[uniffi::export]
pub fn software_key_store_in(directory: String) -> Result<Arc<dyn PlatformKeyStore>, YiwangError> {
    Ok(Arc::new(SoftwareStore(SoftwareKeyStore::open(directory)?)))
}

fn alias(text: &str) -> Result<KeyAlias, YiwangError> {
    Ok(KeyAlias::new(text)?)
}

struct SoftwareStore(SoftwareKeyStore);

impl PlatformKeyStore for SoftwareStore {
    fn generate(&self, name: String, suite: CryptoSuite) -> Result<Vec<u8>, YiwangError> {
        Ok(self.0.generate(&alias(&name)?, suite.into())?.to_spki_der())
    }
    fn public_key(&self, name: String) -> Result<Vec<u8>, YiwangError> {
        Ok(self.0.public_key(&alias(&name)?)?.to_spki_der())
    }
    fn sign(&self, name: String, message: Vec<u8>) -> Result<Vec<u8>, YiwangError> {
        Ok(self.0.sign(&alias(&name)?, &message)?)
    }
    fn delete(&self, name: String) -> Result<bool, YiwangError> {
        Ok(self.0.delete(&alias(&name)?)?)
    }
    fn generate_wrapping_key(&self, name: String, suite: CryptoSuite) -> Result<(), YiwangError> {
        Ok(self.0.generate_wrapping_key(&alias(&name)?, suite.into())?)
    }
    fn wrap(&self, name: String, aad: Vec<u8>, secret: Vec<u8>) -> Result<Vec<u8>, YiwangError> {
        Ok(self.0.wrap(&alias(&name)?, &aad, &secret)?)
    }
    fn unwrap(&self, name: String, aad: Vec<u8>, wrapped: Vec<u8>) -> Result<Vec<u8>, YiwangError> {
        Ok(self.0.unwrap(&alias(&name)?, &aad, &wrapped)?.to_vec())
    }
    fn is_hardware_backed(&self) -> bool {
        false
    }
}

/// The core's `KeyStore` over a platform key store.
pub(crate) struct ForeignKeyStore(pub(crate) Arc<dyn PlatformKeyStore>);

impl fmt::Debug for ForeignKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForeignKeyStore").finish_non_exhaustive()
    }
}

fn from_foreign(e: YiwangError) -> KeyStoreError {
    match e.code() {
        "YW-1201" => KeyStoreError::NotFound,
        "YW-1202" => KeyStoreError::AliasExists,
        "YW-1203" => KeyStoreError::InvalidAlias,
        "YW-1106" => KeyStoreError::Crypto(CryptoError::Decrypt),
        _ => KeyStoreError::Platform(crate::error::first_line(&e.to_string())),
    }
}

impl KeyStore for ForeignKeyStore {
    fn generate(&self, alias: &KeyAlias, suite: Suite) -> Result<VerifyingKey, KeyStoreError> {
        let der = self
            .0
            .generate(alias.to_string(), suite.into())
            .map_err(from_foreign)?;
        Ok(VerifyingKey::from_spki_der(&der)?)
    }
    fn public_key(&self, alias: &KeyAlias) -> Result<VerifyingKey, KeyStoreError> {
        let der = self.0.public_key(alias.to_string()).map_err(from_foreign)?;
        Ok(VerifyingKey::from_spki_der(&der)?)
    }
    fn sign(&self, alias: &KeyAlias, message: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        self.0
            .sign(alias.to_string(), message.to_vec())
            .map_err(from_foreign)
    }
    fn delete(&self, alias: &KeyAlias) -> Result<bool, KeyStoreError> {
        self.0.delete(alias.to_string()).map_err(from_foreign)
    }
    fn generate_wrapping_key(&self, alias: &KeyAlias, suite: Suite) -> Result<(), KeyStoreError> {
        self.0
            .generate_wrapping_key(alias.to_string(), suite.into())
            .map_err(from_foreign)
    }
    fn wrap(&self, alias: &KeyAlias, aad: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        self.0
            .wrap(alias.to_string(), aad.to_vec(), secret.to_vec())
            .map_err(from_foreign)
    }
    fn unwrap(
        &self,
        alias: &KeyAlias,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        self.0
            .unwrap(alias.to_string(), aad.to_vec(), wrapped.to_vec())
            .map(Zeroizing::new)
            .map_err(from_foreign)
    }
    fn is_hardware_backed(&self) -> bool {
        self.0.is_hardware_backed()
    }
}
