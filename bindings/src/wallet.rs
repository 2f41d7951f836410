use std::sync::Arc;

use yiwang_core::wallet::{self as core, BackupParams, WalletOptions};

use crate::YiwangError;
use crate::credential::Credential;
use crate::forms::{Draft, parse_date};
use crate::keystore::{CryptoSuite, ForeignKeyStore, PlatformKeyStore};

/// The on-device wallet (encrypted SQLite). All calls are async.
#[derive(Debug, uniffi::Object)]
pub struct Wallet {
    pub(crate) inner: core::Wallet,
}

fn credentials(
    list: Vec<(i64, yiwang_core::credential::HolderCredential)>,
) -> Vec<Arc<Credential>> {
    list.into_iter()
        .map(|(_, inner)| Arc::new(Credential { inner }))
        .collect()
}

/// Deletes the wallet's copy of a licence; whether there was one.
pub(crate) async fn delete_licence(
    wallet: &core::Wallet,
    identifier: &str,
) -> Result<bool, YiwangError> {
    match wallet.licence(identifier).await? {
        Some((id, _)) => Ok(wallet.delete(id).await?),
        None => Ok(false),
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Opens (or creates) the wallet file at `path`; its data key is wrapped
    /// by `key_store` under `key_alias`.
    #[uniffi::constructor]
    pub async fn open(
        path: String,
        key_store: Arc<dyn PlatformKeyStore>,
        key_alias: String,
        suite: CryptoSuite,
    ) -> Result<Arc<Self>, YiwangError> {
        let options = WalletOptions {
            key_alias: yiwang_core::crypto::KeyAlias::new(&key_alias)?,
            suite: suite.into(),
        };
        let store = Arc::new(ForeignKeyStore(key_store));
        Ok(Arc::new(Self {
            inner: core::Wallet::open(std::path::Path::new(&path), store, options).await?,
        }))
    }

    /// Stores a 网证 or licence (replacing an older copy of the same one).
    pub async fn store_credential(
        &self,
        credential: Arc<Credential>,
        now: i64,
    ) -> Result<(), YiwangError> {
        self.inner.put_credential(&credential.inner, now).await?;
        Ok(())
    }

    pub async fn credentials(&self) -> Result<Vec<Arc<Credential>>, YiwangError> {
        Ok(credentials(self.inner.credentials().await?))
    }

    pub async fn licences(&self) -> Result<Vec<Arc<Credential>>, YiwangError> {
        Ok(credentials(self.inner.licences().await?))
    }

    /// The licence with this GB/T 36904 identifier, if stored.
    pub async fn licence(
        &self,
        identifier: String,
    ) -> Result<Option<Arc<Credential>>, YiwangError> {
        Ok(self
            .inner
            .licence(&identifier)
            .await?
            .map(|(_, inner)| Arc::new(Credential { inner })))
    }

    /// Deletes the licence with this identifier (its bytes overwritten);
    /// false when none was stored.
    pub async fn delete_licence(&self, identifier: String) -> Result<bool, YiwangError> {
        delete_licence(&self.inner, &identifier).await
    }

    /// Licences ending within `within_days` of `today` (`YYYY-MM-DD`), soonest first.
    pub async fn licences_expiring(
        &self,
        today: String,
        within_days: u32,
    ) -> Result<Vec<Arc<Credential>>, YiwangError> {
        let today = parse_date(&today)?;
        Ok(credentials(
            self.inner.licences_expiring(today, within_days).await?,
        ))
    }

    /// The prefill values (a JSON object) for `Draft.prefill`.
    pub async fn prefill_values(&self) -> Result<String, YiwangError> {
        Ok(serde_json::Value::from_iter(self.inner.prefill_values().await?).to_string())
    }

    pub async fn save_draft(&self, draft: Arc<Draft>, now: i64) -> Result<(), YiwangError> {
        let snapshot = draft.lock().clone();
        self.inner.save_draft(&snapshot, now).await?;
        Ok(())
    }

    pub async fn draft(&self, id: String) -> Result<Option<Arc<Draft>>, YiwangError> {
        Ok(self.inner.draft(&id).await?.map(Draft::wrap))
    }

    pub async fn drafts_for_matter(
        &self,
        matter_code: String,
    ) -> Result<Vec<Arc<Draft>>, YiwangError> {
        Ok(self
            .inner
            .drafts_for_matter(&matter_code)
            .await?
            .into_iter()
            .map(Draft::wrap)
            .collect())
    }

    pub async fn delete_draft(&self, id: String) -> Result<bool, YiwangError> {
        Ok(self.inner.delete_draft(&id).await?)
    }

    /// Deletes drafts not saved for `ttl_secs` (default policy: 30 days).
    pub async fn purge_expired_drafts(&self, now: i64, ttl_secs: i64) -> Result<u32, YiwangError> {
        Ok(self.inner.purge_expired_drafts(now, ttl_secs).await? as u32)
    }

    /// The whole wallet encrypted under `passphrase` (Argon2id).
    pub async fn export_backup(&self, passphrase: String) -> Result<Vec<u8>, YiwangError> {
        Ok(self
            .inner
            .export_backup(&passphrase, BackupParams::default())
            .await?)
    }

    /// Adds a backup's records; returns how many.
    pub async fn import_backup(
        &self,
        backup: Vec<u8>,
        passphrase: String,
    ) -> Result<u32, YiwangError> {
        Ok(self
            .inner
            .import_backup(&backup, &passphrase)
            .await?
            .records as u32)
    }

    /// Finishes pending writes and closes the database (then `close()` /
    /// `destroy()` frees the object). Named `shutdown` because uniffi objects
    /// already have a `close()`.
    pub async fn shutdown(&self) {
        self.inner.close().await;
    }
}
