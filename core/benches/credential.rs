//! The network ID credential: issue, present (with and without the PNG),
//! verify — the standard window presentation (masked name, masked ID number,
//! age_over_18, pairwise id), both suites.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use yiwang_core::credential::{Enrolment, Issuer, PresentationRequest, VerificationPolicy, verify};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::identity::IdNumber;
use yiwang_core::qr::QrMatrix;

const NOW: i64 = 1_795_320_000;

fn credential(c: &mut Criterion) {
    for suite in Suite::ALL {
        let store = Arc::new(SoftwareKeyStore::in_memory());
        let issuer_alias = KeyAlias::new("issuer").unwrap();
        store.generate(&issuer_alias, suite).unwrap();
        let issuer = Issuer::new(store, issuer_alias, [1; 32]).unwrap();
        let device = SoftwareKeyStore::in_memory();
        let alias = KeyAlias::new("device").unwrap();
        let device_key = device.generate(&alias, suite).unwrap();
        let enrolment = Enrolment {
            name: "张三".into(),
            id_number: IdNumber::parse("11010519491231002X").unwrap(),
            photo_digest: [7; 32],
        };
        let holder = issuer
            .issue(&enrolment, &device_key, 0, NOW - 86_400)
            .unwrap();
        let request = PresentationRequest::new("window:110105-01")
            .with_disclosure_list("name_masked,id_number_masked,age_over_18")
            .unwrap();
        let qr = holder.present(&request, &device, &alias, NOW).unwrap();
        let policy =
            VerificationPolicy::new(vec![issuer.public_key().clone()], "window:110105-01", NOW);
        let over_60 = PresentationRequest::new("window:110105-01")
            .with_disclosure_list("age_over_60")
            .unwrap();
        let qr_60 = holder.present(&over_60, &device, &alias, NOW).unwrap();

        let mut group = c.benchmark_group(format!("credential_{suite}"));
        group.bench_function("issue", |b| {
            b.iter(|| {
                issuer
                    .issue(black_box(&enrolment), &device_key, 0, NOW)
                    .unwrap()
            })
        });
        group.bench_function("present", |b| {
            b.iter(|| {
                holder
                    .present(black_box(&request), &device, &alias, NOW)
                    .unwrap()
            })
        });
        group.bench_function("present_png", |b| {
            b.iter(|| {
                let text = holder
                    .present(black_box(&request), &device, &alias, NOW)
                    .unwrap();
                QrMatrix::encode(&text).unwrap().to_png(4).unwrap()
            })
        });
        group.bench_function("verify", |b| {
            b.iter(|| verify(black_box(&qr), &policy).unwrap())
        });
        group.bench_function("verify_age_over_60", |b| {
            b.iter(|| verify(black_box(&qr_60), &policy).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, credential);
criterion_main!(benches);
