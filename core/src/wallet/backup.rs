//! Export and import of the whole wallet as one passphrase-encrypted file.
//!
//! ```text
//! "YWBK" ‖ version (1) ‖ suite (0 gm, 1 intl) ‖ m_kib (u32) ‖ t (u32) ‖ p (u32) ‖ salt (16)
//! ‖ AEAD_k(nonce ‖ ciphertext ‖ tag), associated data = everything before it
//! k = Argon2id(passphrase, salt, m_kib, t, p), truncated to the suite's key length
//! plaintext = u32 count ‖ count × (kind i64 ‖ created i64 ‖ updated i64 ‖ body_len u32 ‖ body)
//! where body = the record's plaintext body (key and payload).
//! ```
//! Parameters travel in the file, so a later build with stronger defaults
//! still reads old backups.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::{RecordKind, Wallet, WalletError, decode_body, encode_body};
use crate::crypto::{Suite, random_bytes};

const MAGIC: &[u8; 4] = b"YWBK";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 1 + 12 + 16;

/// Argon2id cost. The default follows OWASP's minimum (19 MiB, 2 passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for BackupParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// What an import added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub records: usize,
}

fn derive_key(
    suite: Suite,
    passphrase: &str,
    salt: &[u8],
    params: BackupParams,
) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    // Refuse absurd parameters from a file before allocating.
    if params.memory_kib > 1 << 21
        || params.iterations > 64
        || params.parallelism == 0
        || params.parallelism > 16
    {
        return Err(WalletError::BackupMalformed(
            "key derivation parameters out of range",
        ));
    }
    let argon = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|_| WalletError::BackupMalformed("key derivation parameters out of range"))?;
    let mut out = Zeroizing::new(vec![0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|_| WalletError::BackupMalformed("key derivation failed"))?;
    out.truncate(suite.aead_key_len());
    Ok(out)
}

impl Wallet {
    /// Every record, encrypted under `passphrase`.
    pub async fn export_backup(
        &self,
        passphrase: &str,
        params: BackupParams,
    ) -> Result<Vec<u8>, WalletError> {
        let mut plain = Zeroizing::new(Vec::new());
        let mut count = 0u32;
        for kind in RecordKind::ALL {
            for record in self.list(kind).await? {
                let body = Zeroizing::new(encode_body(record.key.as_deref(), &record.payload));
                plain.extend_from_slice(&kind.code().to_be_bytes());
                plain.extend_from_slice(&record.created_at.to_be_bytes());
                plain.extend_from_slice(&record.updated_at.to_be_bytes());
                plain.extend_from_slice(&(body.len() as u32).to_be_bytes());
                plain.extend_from_slice(&body);
                count += 1;
            }
        }
        let mut salt = [0u8; 16];
        random_bytes(&mut salt)?;
        let suite = self.suite;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        header.push(if suite == Suite::Gm { 0 } else { 1 });
        for n in [params.memory_kib, params.iterations, params.parallelism] {
            header.extend_from_slice(&n.to_be_bytes());
        }
        header.extend_from_slice(&salt);
        let key = suite.aead_key(&derive_key(suite, passphrase, &salt, params)?)?;
        let body = Zeroizing::new([count.to_be_bytes().as_slice(), &plain].concat());
        let sealed = key.seal(&header, &body)?;
        Ok([header, sealed].concat())
    }

    /// Adds every record of a backup (made on any device) to this wallet,
    /// sealed under this wallet's data key. Records with a key replace the
    /// record of the same kind and key.
    pub async fn import_backup(
        &self,
        backup: &[u8],
        passphrase: &str,
    ) -> Result<ImportSummary, WalletError> {
        if backup.len() < HEADER_LEN || &backup[..4] != MAGIC {
            return Err(WalletError::BackupMalformed("not a yiwang backup"));
        }
        if backup[4] != VERSION {
            return Err(WalletError::BackupMalformed("unsupported backup version"));
        }
        let suite = match backup[5] {
            0 => Suite::Gm,
            1 => Suite::Intl,
            _ => return Err(WalletError::BackupMalformed("unknown suite")),
        };
        let word =
            |i: usize| u32::from_be_bytes([backup[i], backup[i + 1], backup[i + 2], backup[i + 3]]);
        let params = BackupParams {
            memory_kib: word(6),
            iterations: word(10),
            parallelism: word(14),
        };
        let (header, sealed) = backup.split_at(HEADER_LEN);
        let key = suite.aead_key(&derive_key(suite, passphrase, &header[18..34], params)?)?;
        let plain = Zeroizing::new(
            key.open(header, sealed)
                .map_err(|_| WalletError::BackupPassphrase)?,
        );

        let malformed = || WalletError::BackupMalformed("record list");
        let (count, mut rest) = plain.split_first_chunk::<4>().ok_or_else(malformed)?;
        let mut records = Vec::new();
        for _ in 0..u32::from_be_bytes(*count) {
            let (kind, r) = rest.split_first_chunk::<8>().ok_or_else(malformed)?;
            let (_created, r) = r.split_first_chunk::<8>().ok_or_else(malformed)?;
            let (updated, r) = r.split_first_chunk::<8>().ok_or_else(malformed)?;
            let (len, r) = r.split_first_chunk::<4>().ok_or_else(malformed)?;
            let (body, r) = r
                .split_at_checked(u32::from_be_bytes(*len) as usize)
                .ok_or_else(malformed)?;
            let kind = RecordKind::from_code(i64::from_be_bytes(*kind)).ok_or_else(malformed)?;
            let (record_key, payload) = decode_body(body).ok_or_else(malformed)?;
            records.push((kind, record_key, payload, i64::from_be_bytes(*updated)));
            rest = r;
        }
        if !rest.is_empty() {
            return Err(malformed());
        }
        for (kind, record_key, payload, updated) in &records {
            self.put(*kind, record_key.as_deref(), payload, *updated)
                .await?;
        }
        Ok(ImportSummary {
            records: records.len(),
        })
    }
}
