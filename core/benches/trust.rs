//! The trust list and the library's licence attestations: reading a signed
//! list of 100 authorities (2 keys each), verifying a licence presentation
//! against it (a window), and verifying an attestation (a department using a
//! shared licence) — both suites.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use yiwang_core::credential::{
    Authority, HolderCode, Issuer, Licence, PresentationRequest, TrustList, TrustedKey,
    VerificationPolicy, verify_attestation, verify_trusted,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::identity::{IdNumber, LicenceId, RegionCode, Uscc};

const NOW: i64 = 1_795_320_000;
const AUTHORITY: &str = "91350100M000100Y43";
const MARRIAGE: &str = "11100000MB0143028R002";
const DEPARTMENT: &str = "11100000000013338W";
const WINDOW: &str = "window:350102-01";

fn issuer(suite: Suite, seed: u8) -> Issuer {
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("issuer").unwrap();
    store.generate(&alias, suite).unwrap();
    Issuer::new(store, alias, [seed; 32]).unwrap()
}

fn trust(c: &mut Criterion) {
    for suite in Suite::ALL {
        let anchor = issuer(suite, 1);
        let authority = issuer(suite, 2);
        // 99 other authorities with an old and a current key; ours last.
        let mut authorities: Vec<Authority> = (0..99u8)
            .map(|i| Authority {
                uscc: None,
                name: format!("authority {i}"),
                region: "110000".into(),
                network_id: false,
                licence_types: vec!["11100000000013338W001".into()],
                keys: vec![
                    TrustedKey::new(issuer(suite, i).public_key().clone(), 0, Some(NOW - 1000)),
                    TrustedKey::new(
                        issuer(suite, i.wrapping_add(100)).public_key().clone(),
                        NOW - 1000,
                        None,
                    ),
                ],
            })
            .collect();
        authorities.push(Authority {
            uscc: Some(Uscc::parse(AUTHORITY).unwrap()),
            name: "福州市鼓楼区民政局".into(),
            region: "350100".into(),
            network_id: false,
            licence_types: vec![MARRIAGE.into()],
            keys: vec![TrustedKey::new(authority.public_key().clone(), 0, None)],
        });
        let list = TrustList {
            issued_at: NOW,
            max_age_secs: 86_400,
            authorities,
        };
        let token = anchor.sign_trust_list(&list).unwrap();
        let licence = Licence {
            name: "结婚证".into(),
            identifier: LicenceId::new(
                MARRIAGE,
                &Uscc::parse(AUTHORITY).unwrap(),
                "J350102202600123",
                1,
            )
            .unwrap(),
            number: "J350102-2026-00123".into(),
            issuer_name: "福州市鼓楼区民政局".into(),
            issue_date: time::macros::date!(2026 - 05 - 20),
            holder_name: "王芳".into(),
            holder: HolderCode::Citizen(IdNumber::parse("110108198807154325").unwrap()),
            valid_from: time::macros::date!(2026 - 05 - 20),
            valid_until: None,
            jurisdiction: RegionCode::parse("350102").unwrap(),
        };
        let device = SoftwareKeyStore::in_memory();
        let alias = KeyAlias::new("device").unwrap();
        let device_key = device.generate(&alias, suite).unwrap();
        let holder = authority
            .issue_licence(&licence, &device_key, 7, NOW - 60)
            .unwrap();
        let request = PresentationRequest::new(WINDOW)
            .with_disclosure_list("licence_name,type_code,identifier,holder_name_masked")
            .unwrap();
        let qr = holder.present(&request, &device, &alias, NOW).unwrap();
        let policy = VerificationPolicy::new(Vec::new(), WINDOW, NOW);
        let attestation = authority
            .attest_licence(&licence, 7, DEPARTMENT, "YW2026112312345678", NOW)
            .unwrap();

        let mut group = c.benchmark_group(format!("trust_{suite}"));
        group.bench_function("trust_list_verify_100_authorities", |b| {
            b.iter(|| TrustList::verify(black_box(&token), anchor.public_key(), NOW).unwrap())
        });
        group.bench_function("verify_trusted_licence_presentation", |b| {
            b.iter(|| verify_trusted(black_box(&qr), &list, &policy).unwrap())
        });
        group.bench_function("verify_attestation", |b| {
            b.iter(|| verify_attestation(black_box(&attestation), &list, DEPARTMENT, NOW).unwrap())
        });
        group.bench_function("attest_licence", |b| {
            b.iter(|| {
                authority
                    .attest_licence(
                        black_box(&licence),
                        7,
                        DEPARTMENT,
                        "YW2026112312345678",
                        NOW,
                    )
                    .unwrap()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, trust);
criterion_main!(benches);
