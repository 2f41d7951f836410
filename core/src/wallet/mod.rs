//! The on-device wallet: one SQLite file (sqlx, bundled SQLite, WAL) holding
//! the network ID credential(s), e-licences, form drafts, submitted-application
//! receipts and cached inbox messages — every value sealed.
//!
//! - One random *data key* per wallet (SM4-GCM or AES-256-GCM), wrapped by the
//!   platform [`KeyStore`] (`wrap`/`unwrap`), so a hardware key protects
//!   everything at rest. The wrapped key is in the `meta` table.
//! - Each record's body is sealed with associated data
//!   `yiwang-wallet/v1 ‖ 0 ‖ table ‖ 0 ‖ row id ‖ 0 ‖ column`: a body swapped to
//!   another row, or copied from another wallet, does not open.
//! - Lookups (a draft by its id) go through a keyed hash, so no index holds
//!   plaintext personal data. `secure_delete` overwrites deleted content.
//! - WAL with `synchronous = NORMAL`: a killed process loses nothing that was
//!   committed (power loss may lose the last transactions).
//! - Opening refuses, without writing anything: a wrong key (YW-1701), a file
//!   that is not a database or fails `quick_check` (YW-1702), a truncated file
//!   (YW-1703), a schema newer than this build (YW-1704).

mod backup;
mod drafts;
mod error;

pub use backup::{BackupParams, ImportSummary};
pub use error::WalletError;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use zeroize::Zeroizing;

use time::Date;

use crate::credential::{Claim, DocType, HolderCredential};
use crate::crypto::{AeadKey, KeyAlias, KeyStore, KeyStoreError, Suite, random_bytes};
use crate::identity::LicenceId;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/wallet");

/// What a record is. Stored as a small integer (not personal data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordKind {
    Credential,
    Licence,
    Draft,
    Receipt,
    InboxMessage,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Credential,
        RecordKind::Licence,
        RecordKind::Draft,
        RecordKind::Receipt,
        RecordKind::InboxMessage,
    ];

    fn code(self) -> i64 {
        match self {
            RecordKind::Credential => 1,
            RecordKind::Licence => 2,
            RecordKind::Draft => 3,
            RecordKind::Receipt => 4,
            RecordKind::InboxMessage => 5,
        }
    }

    fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A stored record, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    pub id: i64,
    pub kind: RecordKind,
    /// The caller's natural key (a draft id, a licence identifier), if any.
    pub key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// How to open a wallet.
#[derive(Clone, Debug)]
pub struct WalletOptions {
    /// The key store alias of the wrapping key (created on first open).
    pub key_alias: KeyAlias,
    /// Suite of the data key and of new wrapping keys.
    pub suite: Suite,
}

impl Default for WalletOptions {
    fn default() -> Self {
        Self {
            key_alias: KeyAlias::new("yiwang-wallet")
                .unwrap_or_else(|_| unreachable!("a valid literal alias")),
            suite: Suite::Gm,
        }
    }
}

/// An open wallet. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Wallet {
    pool: SqlitePool,
    data_key: AeadKey,
    lookup_key: Zeroizing<[u8; 32]>,
    suite: Suite,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Checks an existing file before SQLite touches it, so that a damaged wallet
/// is reported and left as it is.
fn inspect_existing(path: &Path) -> Result<(), WalletError> {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let len = file
        .metadata()
        .map_err(|e| WalletError::Storage(e.kind().to_string()))?
        .len();
    let mut header = [0u8; 100];
    if len == 0 {
        return Err(WalletError::Truncated);
    }
    if len < 100 || file.read_exact(&mut header).is_err() {
        return Err(if len < 16 {
            WalletError::Truncated
        } else {
            WalletError::Corrupted("not a database")
        });
    }
    if &header[..16] != SQLITE_MAGIC {
        return Err(WalletError::Corrupted("not a database"));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    // The in-header page count is valid when the change counter matches
    // "version valid for". With a non-empty write-ahead log beside the file,
    // a checkpoint may have been cut short (the header already counts pages
    // the log still holds): SQLite recovers from the log, so the size says
    // nothing; the integrity check after opening still applies.
    let wal = path.with_file_name(format!(
        "{}-wal",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let wal_in_use = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    let valid = header[24..28] == header[92..96] && !wal_in_use;
    if valid && pages > 0 && len < pages * page_size {
        return Err(WalletError::Truncated);
    }
    Ok(())
}

impl Wallet {
    /// Opens the wallet at `path`, creating it (and its wrapping key) on first use.
    pub async fn open(
        path: &Path,
        store: Arc<dyn KeyStore>,
        options: WalletOptions,
    ) -> Result<Self, WalletError> {
        inspect_existing(path)?;
        let connect = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(WalletError::from)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("secure_delete", "ON")
            .pragma("temp_store", "MEMORY")
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(connect)
            .await?;
        match Self::prepare(pool.clone(), store, options).await {
            Ok(wallet) => Ok(wallet),
            Err(e) => {
                pool.close().await;
                Err(e)
            }
        }
    }

    async fn prepare(
        pool: SqlitePool,
        store: Arc<dyn KeyStore>,
        options: WalletOptions,
    ) -> Result<Self, WalletError> {
        let check: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&pool)
            .await?;
        if check != "ok" {
            return Err(WalletError::Corrupted("integrity check failed"));
        }
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let has_migrations: bool =
            sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_one(&pool)
                .await?;
        if has_migrations {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
                    .fetch_one(&pool)
                    .await?;
            if let Some(found) = found.filter(|f| *f > known) {
                return Err(WalletError::NewerSchema { found, known });
            }
        }
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| WalletError::Storage(e.to_string()))?;

        let wrapped: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'data_key'")
                .fetch_optional(&pool)
                .await?;
        let (suite, data_key) = match wrapped {
            Some(wrapped) => {
                let suite: Vec<u8> =
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'suite'")
                        .fetch_one(&pool)
                        .await?;
                let suite = std::str::from_utf8(&suite)
                    .ok()
                    .and_then(|s| s.parse::<Suite>().ok())
                    .ok_or(WalletError::Corrupted("meta"))?;
                let key = store
                    .unwrap(&options.key_alias, DATA_KEY_AAD, &wrapped)
                    .map_err(|e| match e {
                        KeyStoreError::Crypto(_) | KeyStoreError::NotFound => WalletError::WrongKey,
                        other => WalletError::KeyStore(other),
                    })?;
                (suite, key)
            }
            None => {
                let suite = options.suite;
                if let Err(e) = store.generate_wrapping_key(&options.key_alias, suite)
                    && !matches!(e, KeyStoreError::AliasExists)
                {
                    return Err(e.into());
                }
                let mut key = Zeroizing::new(vec![0u8; suite.aead_key_len()]);
                random_bytes(&mut key)?;
                let wrapped = store.wrap(&options.key_alias, DATA_KEY_AAD, &key)?;
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO meta (key, value) VALUES ('suite', ?), ('data_key', ?)")
                    .bind(suite.name().as_bytes())
                    .bind(wrapped)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                (suite, key)
            }
        };
        let mut lookup_key = Zeroizing::new([0u8; 32]);
        suite.kdf(
            &data_key,
            b"",
            b"yiwang-wallet/v1 lookup",
            lookup_key.as_mut(),
        )?;
        let data_key = suite
            .aead_key(&data_key)
            .map_err(|_| WalletError::Corrupted("data key"))?;
        Ok(Self {
            pool,
            data_key,
            lookup_key,
            suite,
        })
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Closes the pool; pending writes are finished first.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// SQLite's full integrity check, plus every record opening under its own
    /// associated data.
    pub async fn integrity_check(&self) -> Result<(), WalletError> {
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        if check != "ok" {
            return Err(WalletError::Corrupted("integrity check failed"));
        }
        for kind in RecordKind::ALL {
            self.list(kind).await?;
        }
        Ok(())
    }

    fn lookup(&self, kind: RecordKind, key: &str) -> Vec<u8> {
        let tag = self.suite.mac(
            self.lookup_key.as_ref(),
            &[&kind.code().to_be_bytes()[..], key.as_bytes()].concat(),
        );
        tag[..16].to_vec()
    }

    fn seal_body(
        &self,
        id: i64,
        key: Option<&str>,
        payload: &[u8],
    ) -> Result<Vec<u8>, WalletError> {
        let plain = Zeroizing::new(encode_body(key, payload));
        Ok(self.data_key.seal(&record_aad(id), &plain)?)
    }

    fn open_body(&self, id: i64, sealed: &[u8]) -> Result<(Option<String>, Vec<u8>), WalletError> {
        let plain = Zeroizing::new(
            self.data_key
                .open(&record_aad(id), sealed)
                .map_err(|_| WalletError::RecordDamaged)?,
        );
        decode_body(&plain).ok_or(WalletError::RecordDamaged)
    }

    /// Stores a new record; with `key`, replaces the record of the same kind
    /// and key (keeping its id and creation time). Returns the record id.
    pub async fn put(
        &self,
        kind: RecordKind,
        key: Option<&str>,
        payload: &[u8],
        now: i64,
    ) -> Result<i64, WalletError> {
        let lookup = key.map(|k| self.lookup(kind, k));
        let mut tx = self.pool.begin().await?;
        if let Some(lookup) = &lookup {
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT id FROM records WHERE kind = ? AND lookup = ?")
                    .bind(kind.code())
                    .bind(lookup)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = existing {
                sqlx::query("UPDATE records SET body = ?, updated_at = ? WHERE id = ?")
                    .bind(self.seal_body(id, key, payload)?)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(id);
            }
        }
        let id = random_row_id()?;
        sqlx::query("INSERT INTO records (id, kind, lookup, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(id)
            .bind(kind.code())
            .bind(lookup)
            .bind(now)
            .bind(now)
            .bind(self.seal_body(id, key, payload)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    fn record_from_row(&self, row: &sqlx::sqlite::SqliteRow) -> Result<Record, WalletError> {
        let id: i64 = row.try_get("id")?;
        let kind = RecordKind::from_code(row.try_get("kind")?)
            .ok_or(WalletError::Corrupted("record kind"))?;
        let body: Vec<u8> = row.try_get("body")?;
        let (key, payload) = self.open_body(id, &body)?;
        Ok(Record {
            id,
            kind,
            key,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            payload,
        })
    }

    /// Every record of `kind`, oldest update first.
    pub async fn list(&self, kind: RecordKind) -> Result<Vec<Record>, WalletError> {
        let rows = sqlx::query("SELECT id, kind, created_at, updated_at, body FROM records WHERE kind = ? ORDER BY updated_at, id")
            .bind(kind.code())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| self.record_from_row(row)).collect()
    }

    /// The record of `kind` stored under `key`.
    pub async fn find(&self, kind: RecordKind, key: &str) -> Result<Option<Record>, WalletError> {
        let row = sqlx::query("SELECT id, kind, created_at, updated_at, body FROM records WHERE kind = ? AND lookup = ?")
            .bind(kind.code())
            .bind(self.lookup(kind, key))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(|row| self.record_from_row(row))
            .transpose()
    }

    pub async fn get(&self, id: i64) -> Result<Record, WalletError> {
        let row =
            sqlx::query("SELECT id, kind, created_at, updated_at, body FROM records WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(WalletError::NotFound)?;
        self.record_from_row(&row)
    }

    /// Deletes a record (its bytes are overwritten: `secure_delete`).
    pub async fn delete(&self, id: i64) -> Result<bool, WalletError> {
        let done = sqlx::query("DELETE FROM records WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a signed document: a 网证 (keyed by its 网号, so a re-issued
    /// credential replaces the previous copy) or an e-licence (keyed by its
    /// GB/T 36904 identifier, replacing the same identifier; an updated
    /// licence comes with the next version of the identifier, and the
    /// wallet's other versions of it are deleted).
    pub async fn put_credential(
        &self,
        credential: &HolderCredential,
        now: i64,
    ) -> Result<i64, WalletError> {
        let (kind, key) = match credential.doctype() {
            DocType::NetworkId => (RecordKind::Credential, credential.network_id()),
            DocType::Licence => (RecordKind::Licence, credential.text(Claim::Identifier)),
        };
        let key = key
            .ok_or(WalletError::Corrupted("document without its key claim"))?
            .to_owned();
        let id = self
            .put(kind, Some(&key), &credential.to_bytes(), now)
            .await?;
        if kind == RecordKind::Licence
            && let Ok(stored) = LicenceId::parse(&key)
        {
            for record in self.list(RecordKind::Licence).await? {
                let other = record.key.as_deref().and_then(|k| LicenceId::parse(k).ok());
                if record.id != id && other.is_some_and(|o| o.same_licence(&stored)) {
                    self.delete(record.id).await?;
                }
            }
        }
        Ok(id)
    }

    async fn documents(
        &self,
        kind: RecordKind,
    ) -> Result<Vec<(i64, HolderCredential)>, WalletError> {
        self.list(kind)
            .await?
            .into_iter()
            .map(|r| Ok((r.id, HolderCredential::from_bytes(&r.payload)?)))
            .collect()
    }

    /// Every stored network ID credential.
    pub async fn credentials(&self) -> Result<Vec<(i64, HolderCredential)>, WalletError> {
        self.documents(RecordKind::Credential).await
    }

    /// Every stored e-licence.
    pub async fn licences(&self) -> Result<Vec<(i64, HolderCredential)>, WalletError> {
        self.documents(RecordKind::Licence).await
    }

    /// The licence with this GB/T 36904 identifier, with its record id.
    pub async fn licence(
        &self,
        identifier: &str,
    ) -> Result<Option<(i64, HolderCredential)>, WalletError> {
        match self.find(RecordKind::Licence, identifier).await? {
            Some(record) => Ok(Some((
                record.id,
                HolderCredential::from_bytes(&record.payload)?,
            ))),
            None => Ok(None),
        }
    }

    /// Licences whose validity ends on or before `today + within_days`
    /// (already expired ones included), soonest first: what reminders are
    /// raised for. Long-term (长期) licences never appear.
    pub async fn licences_expiring(
        &self,
        today: Date,
        within_days: u32,
    ) -> Result<Vec<(i64, HolderCredential)>, WalletError> {
        let horizon = today
            .checked_add(time::Duration::days(i64::from(within_days)))
            .unwrap_or(Date::MAX);
        let mut expiring: Vec<(Date, i64, HolderCredential)> = self
            .licences()
            .await?
            .into_iter()
            .filter_map(|(id, licence)| {
                licence
                    .valid_until()
                    .filter(|end| *end <= horizon)
                    .map(|end| (end, id, licence))
            })
            .collect();
        expiring.sort_by_key(|(end, id, _)| (*end, *id));
        Ok(expiring
            .into_iter()
            .map(|(_, id, licence)| (id, licence))
            .collect())
    }
}

const DATA_KEY_AAD: &[u8] = b"yiwang-wallet/v1\0meta\0data_key";

fn record_aad(id: i64) -> Vec<u8> {
    [
        b"yiwang-wallet/v1\0records\0".as_slice(),
        id.to_string().as_bytes(),
        b"\0body",
    ]
    .concat()
}

fn random_row_id() -> Result<i64, WalletError> {
    let mut bytes = [0u8; 8];
    random_bytes(&mut bytes)?;
    // Positive, non-zero 63-bit ids: collisions are negligible and refused by the primary key.
    Ok((i64::from_be_bytes(bytes) & i64::MAX).max(1))
}

/// Body plaintext: `u16 key length ‖ key ‖ payload` (key length 0xFFFF = no key).
fn encode_body(key: Option<&str>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + key.map_or(0, str::len) + payload.len());
    match key {
        Some(k) => {
            out.extend_from_slice(&(k.len().min(0xFFFE) as u16).to_be_bytes());
            out.extend_from_slice(&k.as_bytes()[..k.len().min(0xFFFE)]);
        }
        None => out.extend_from_slice(&0xFFFFu16.to_be_bytes()),
    }
    out.extend_from_slice(payload);
    out
}

fn decode_body(plain: &[u8]) -> Option<(Option<String>, Vec<u8>)> {
    let (len, rest) = plain.split_first_chunk::<2>()?;
    let len = u16::from_be_bytes(*len);
    if len == 0xFFFF {
        return Some((None, rest.to_vec()));
    }
    let (key, payload) = rest.split_at_checked(usize::from(len))?;
    Some((
        Some(String::from_utf8(key.to_vec()).ok()?),
        payload.to_vec(),
    ))
}
