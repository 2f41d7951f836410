//! Property-based fuzzing of everything a verifier or wallet parses: QR text,
//! presentation bytes, holder files, status lists. Never a panic; a mutated
//! presentation is accepted only if it still means exactly the same thing.
//! `PROPTEST_CASES=200000 cargo test --release --test credential_fuzz` runs
//! the long version (see docs/performance.md for the recorded run).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use yiwang_core::credential::{
    Enrolment, HolderCredential, Issuer, PresentationRequest, VerificationPolicy,
    VerifiedStatusList, base45, verify,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_core::identity::IdNumber;

const NOW: i64 = 1_795_320_000;

struct Sample {
    issuer_key: VerifyingKey,
    presentation: Vec<u8>,
    holder_file: Vec<u8>,
    status: Vec<u8>,
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let store = Arc::new(SoftwareKeyStore::in_memory());
        let alias = KeyAlias::new("issuer").unwrap();
        store.generate(&alias, Suite::Gm).unwrap();
        let issuer = Issuer::new(store, alias, [3; 32]).unwrap();
        let device = SoftwareKeyStore::in_memory();
        let device_alias = KeyAlias::new("device").unwrap();
        let device_key = device.generate(&device_alias, Suite::Gm).unwrap();
        let enrolment = Enrolment {
            name: "张三".into(),
            id_number: IdNumber::parse("11010519491231002X").unwrap(),
            photo_digest: [7; 32],
        };
        let holder = issuer
            .issue(&enrolment, &device_key, 0, NOW - 3600)
            .unwrap();
        let request = PresentationRequest::new("window")
            .with_disclosure_list("name_masked,id_number_masked,age_over_18,age_range,sex")
            .unwrap();
        let qr = holder
            .present(&request, &device, &device_alias, NOW)
            .unwrap();
        Sample {
            issuer_key: issuer.public_key().clone(),
            presentation: base45::decode(&qr[4..]).unwrap(),
            holder_file: holder.to_bytes().to_vec(),
            status: issuer
                .sign_status_list(&Default::default(), NOW, 3600)
                .unwrap(),
        }
    })
}

fn policy() -> VerificationPolicy {
    VerificationPolicy::new(vec![sample().issuer_key.clone()], "window", NOW)
}

fn cbor_value(bytes: &[u8]) -> Option<ciborium::Value> {
    ciborium::from_reader(bytes).ok()
}

proptest! {
    #[test]
    fn any_text_is_refused_without_panic(text in any::<String>()) {
        prop_assert!(verify(&text, &policy()).is_err());
    }

    #[test]
    fn any_base45_after_the_prefix_is_refused(text in "[0-9A-Z $%*+./:-]{0,700}") {
        let presented = format!("YW1:{text}");
        prop_assert!(verify(&presented, &policy()).is_err());
    }

    #[test]
    fn mutated_presentations_never_verify_with_another_meaning(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let original = &sample().presentation;
        let mut bytes = original.clone();
        for (index, mask) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= mask;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let text = format!("YW1:{}", base45::encode(&bytes));
        if verify(&text, &policy()).is_ok() {
            prop_assert_eq!(cbor_value(&bytes), cbor_value(original));
        }
    }

    #[test]
    fn mutated_holder_files_do_not_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut bytes = sample().holder_file.clone();
        for (index, mask) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= mask;
        }
        let _ = HolderCredential::from_bytes(&bytes);
    }

    #[test]
    fn mutated_status_lists_do_not_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        junk in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = sample().status.clone();
        for (index, mask) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= mask;
        }
        let trusted = [sample().issuer_key.clone()];
        prop_assert!(VerifiedStatusList::verify(&bytes, &trusted).is_err());
        let _ = VerifiedStatusList::verify(&junk, &trusted);
    }
}
