//! The issuer's signed status list: one bit per issued credential (set =
//! revoked), in the spirit of the IETF Token Status List, as a COSE_Sign1
//! whose payload says when it was made and for how long it may be trusted.

use ciborium::Value;

use super::{CredentialError, Sign1, cbor, trusted_key};
use crate::crypto::VerifyingKey;

/// Largest list accepted (bits), to bound memory when inflating: 64 Mi credentials.
const MAX_BITS: u64 = 1 << 26;
const STATUS_VERSION: u64 = 1;

/// A revocation bitstring. Index `i` is bit `i % 8` (least significant first)
/// of byte `i / 8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusList {
    bits: Vec<u8>,
    len: u32,
}

impl StatusList {
    /// An empty list (no credential revoked).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of indices the list covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marks `index` revoked, growing the list as needed.
    pub fn revoke(&mut self, index: u32) {
        if index >= self.len {
            self.len = index + 1;
            self.bits.resize(self.len.div_ceil(8) as usize, 0);
        }
        self.bits[(index / 8) as usize] |= 1 << (index % 8);
    }

    pub fn is_revoked(&self, index: u32) -> bool {
        index < self.len && self.bits[(index / 8) as usize] & (1 << (index % 8)) != 0
    }

    /// The raw bitstring for the issuer's own storage: 4-byte big-endian length, then the bits.
    pub fn to_bytes(&self) -> Vec<u8> {
        [self.len.to_be_bytes().as_slice(), &self.bits].concat()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CredentialError> {
        let malformed = || CredentialError::Malformed("status list");
        let (len, bits) = bytes.split_first_chunk::<4>().ok_or_else(malformed)?;
        let len = u32::from_be_bytes(*len);
        if bits.len() != len.div_ceil(8) as usize || u64::from(len) > MAX_BITS {
            return Err(malformed());
        }
        Ok(Self {
            bits: bits.to_vec(),
            len,
        })
    }

    /// The COSE payload: `[1, issued_at, max_age_secs, len, zlib(bits)]`.
    pub(crate) fn payload(&self, issued_at: i64, max_age_secs: u32) -> Vec<u8> {
        cbor::encode(&Value::Array(vec![
            cbor::uint(STATUS_VERSION),
            cbor::uint(issued_at.max(0) as u64),
            cbor::uint(max_age_secs),
            cbor::uint(self.len),
            Value::Bytes(miniz_oxide::deflate::compress_to_vec_zlib(&self.bits, 9)),
        ]))
    }
}

/// A status list whose issuer signature has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedStatusList {
    pub issuer_key_id: Vec<u8>,
    pub issued_at: i64,
    pub max_age_secs: u32,
    pub list: StatusList,
}

impl VerifiedStatusList {
    /// Checks a signed status list against the trusted issuer keys.
    pub fn verify(token: &[u8], trusted_issuers: &[VerifyingKey]) -> Result<Self, CredentialError> {
        let sign1 =
            Sign1::parse(token, "status list").map_err(|_| CredentialError::BadStatusList)?;
        let key = trusted_key(trusted_issuers, &sign1.kid).ok_or(CredentialError::UnknownIssuer)?;
        if !sign1.verify(key) {
            return Err(CredentialError::BadStatusList);
        }
        let bad = |_| CredentialError::BadStatusList;
        let mut items = cbor::Items::new(
            cbor::decode(sign1.payload(), "status list").map_err(bad)?,
            "status list",
        )
        .map_err(bad)?;
        if items.uint().map_err(bad)? != STATUS_VERSION {
            return Err(CredentialError::BadStatusList);
        }
        let issued_at = i64::try_from(items.uint().map_err(bad)?)
            .map_err(|_| CredentialError::BadStatusList)?;
        let max_age_secs = u32::try_from(items.uint().map_err(bad)?)
            .map_err(|_| CredentialError::BadStatusList)?;
        let len = items.uint().map_err(bad)?;
        let compressed = items.bytes().map_err(bad)?;
        items.end().map_err(bad)?;
        if len > MAX_BITS {
            return Err(CredentialError::BadStatusList);
        }
        let expected = len.div_ceil(8) as usize;
        let bits = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, expected)
            .map_err(|_| CredentialError::BadStatusList)?;
        if bits.len() != expected {
            return Err(CredentialError::BadStatusList);
        }
        let len = u32::try_from(len).map_err(|_| CredentialError::BadStatusList)?;
        Ok(Self {
            issuer_key_id: sign1.kid,
            issued_at,
            max_age_secs,
            list: StatusList { bits, len },
        })
    }

    /// Fails closed: a list past its maximum age is an error, not "not revoked".
    pub fn check(&self, index: u32, now: i64) -> Result<(), CredentialError> {
        if now > self.issued_at.saturating_add(i64::from(self.max_age_secs)) {
            return Err(CredentialError::StatusListTooOld);
        }
        if self.list.is_revoked(index) {
            return Err(CredentialError::Revoked);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bits_grow_and_round_trip() {
        let mut list = StatusList::new();
        assert!(!list.is_revoked(0));
        list.revoke(9);
        list.revoke(0);
        assert_eq!(list.len(), 10);
        assert!(
            list.is_revoked(9)
                && list.is_revoked(0)
                && !list.is_revoked(1)
                && !list.is_revoked(1000)
        );
        assert_eq!(StatusList::from_bytes(&list.to_bytes()).unwrap(), list);
        assert!(StatusList::from_bytes(&[0, 0, 0, 9, 0]).is_err());
        assert!(StatusList::from_bytes(&[1]).is_err());
    }
}
