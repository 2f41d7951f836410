//! Form drafts, submission receipts and prefill values in the wallet.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{RecordKind, Wallet, WalletError};
use crate::credential::{Claim, ClaimValue, DocType, HolderCredential};
use crate::forms::{Draft, Submission};

impl Wallet {
    /// Stores a draft (its revisions included), replacing the stored copy of
    /// the same draft id.
    pub async fn save_draft(&self, draft: &Draft, now: i64) -> Result<i64, WalletError> {
        let payload = serde_json::to_vec(draft).map_err(|_| WalletError::Corrupted("draft"))?;
        self.put(RecordKind::Draft, Some(draft.id()), &payload, now)
            .await
    }

    fn parse_draft(payload: &[u8]) -> Result<Draft, WalletError> {
        serde_json::from_slice(payload).map_err(|_| WalletError::Corrupted("draft"))
    }

    /// The draft with this id.
    pub async fn draft(&self, id: &str) -> Result<Option<Draft>, WalletError> {
        self.find(RecordKind::Draft, id)
            .await?
            .map(|r| Self::parse_draft(&r.payload))
            .transpose()
    }

    /// Every draft, least recently saved first.
    pub async fn drafts(&self) -> Result<Vec<Draft>, WalletError> {
        self.list(RecordKind::Draft)
            .await?
            .iter()
            .map(|r| Self::parse_draft(&r.payload))
            .collect()
    }

    /// The drafts of one matter (by its standard code).
    pub async fn drafts_for_matter(&self, matter_code: &str) -> Result<Vec<Draft>, WalletError> {
        Ok(self
            .drafts()
            .await?
            .into_iter()
            .filter(|d| d.matter_code() == matter_code)
            .collect())
    }

    pub async fn delete_draft(&self, id: &str) -> Result<bool, WalletError> {
        match self.find(RecordKind::Draft, id).await? {
            Some(record) => self.delete(record.id).await,
            None => Ok(false),
        }
    }

    /// Deletes every draft unsubmitted for longer than `ttl_secs` (Myinfo:
    /// purge what was never submitted). Returns how many were deleted.
    pub async fn purge_expired_drafts(
        &self,
        now: i64,
        ttl_secs: i64,
    ) -> Result<usize, WalletError> {
        let mut purged = 0;
        for record in self.list(RecordKind::Draft).await? {
            if Self::parse_draft(&record.payload)?.is_expired(now, ttl_secs) {
                self.delete(record.id).await?;
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// Drafts due a "will be deleted soon" reminder.
    pub async fn drafts_needing_reminder(
        &self,
        now: i64,
        ttl_secs: i64,
        remind_before_secs: i64,
    ) -> Result<Vec<Draft>, WalletError> {
        Ok(self
            .drafts()
            .await?
            .into_iter()
            .filter(|d| d.expiry_reminder_due(now, ttl_secs, remind_before_secs))
            .collect())
    }

    /// After the server accepted a submission: keeps the receipt (what was
    /// submitted, and the receipt number) and removes the draft.
    pub async fn record_submission(
        &self,
        submission: &Submission,
        receipt_number: &str,
        now: i64,
    ) -> Result<i64, WalletError> {
        let receipt = json!({
            "receipt_number": receipt_number,
            "submitted_at": now,
            "submission": submission,
        });
        let payload =
            serde_json::to_vec(&receipt).map_err(|_| WalletError::Corrupted("receipt"))?;
        let id = self
            .put(RecordKind::Receipt, Some(receipt_number), &payload, now)
            .await?;
        self.delete_draft(&submission.draft_id).await?;
        Ok(id)
    }

    /// Every stored receipt: `{receipt_number, submitted_at, submission}`.
    pub async fn receipts(&self) -> Result<Vec<Value>, WalletError> {
        self.list(RecordKind::Receipt)
            .await?
            .iter()
            .map(|r| {
                serde_json::from_slice(&r.payload).map_err(|_| WalletError::Corrupted("receipt"))
            })
            .collect()
    }

    /// The values forms may be prefilled with (a `PrefillSource`): from the
    /// 网证, `credential.name|id_number|birth_date|sex|region`; from each
    /// licence, `licence.<type code>.<claim>` (e.g. `licence.<code>.number`).
    pub async fn prefill_values(&self) -> Result<BTreeMap<String, Value>, WalletError> {
        let mut values = BTreeMap::new();
        // The most recently stored 网证 wins.
        if let Some((_, credential)) = self.credentials().await?.pop() {
            for claim in [
                Claim::Name,
                Claim::IdNumber,
                Claim::BirthDate,
                Claim::Sex,
                Claim::Region,
            ] {
                if let Some(text) = credential.text(claim) {
                    values.insert(
                        format!("credential.{}", claim.name()),
                        Value::String(text.to_owned()),
                    );
                }
            }
        }
        for (_, licence) in self.licences().await? {
            add_licence(&mut values, &licence);
        }
        Ok(values)
    }
}

fn add_licence(values: &mut BTreeMap<String, Value>, licence: &HolderCredential) {
    let Some(type_code) = licence.text(Claim::TypeCode) else {
        return;
    };
    for &claim in DocType::Licence.claims() {
        if let Some(ClaimValue::Text(text)) = licence.claim(claim) {
            values.insert(
                format!("licence.{type_code}.{}", claim.name()),
                Value::String(text.clone()),
            );
        }
    }
}
