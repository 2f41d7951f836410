//! The wallet: open a wallet of 1,000 licences and 100 drafts and list them;
//! save a draft revision.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use time::macros::date;
use yiwang_core::credential::{HolderCode, Issuer, Licence};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::forms::{Draft, FormSchema};
use yiwang_core::identity::{IdNumber, LicenceId, RegionCode, Uscc};
use yiwang_core::wallet::{RecordKind, Wallet, WalletOptions};

const NOW: i64 = 1_795_320_000;

fn wallet(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallet.db");
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let issuer_keys = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("issuer").unwrap();
    issuer_keys.generate(&alias, Suite::Gm).unwrap();
    let issuer = Issuer::new(issuer_keys, alias, [5; 32]).unwrap();
    let device = KeyAlias::new("device").unwrap();
    let device_key = keys.generate(&device, Suite::Gm).unwrap();
    let authority = Uscc::parse("91350100M000100Y43").unwrap();
    // A draft of 60 filled fields as the forms module serialises it (~4 KB of JSON).
    let draft: String = serde_json::json!({
        "values": (0..60).map(|i| (format!("field_{i}"), format!("填写的内容 value {i}"))).collect::<std::collections::BTreeMap<_, _>>(),
    })
    .to_string();

    runtime.block_on(async {
        let wallet = Wallet::open(&path, keys.clone(), WalletOptions::default())
            .await
            .unwrap();
        for i in 0..1000 {
            let licence = Licence {
                name: "机动车驾驶证".into(),
                identifier: LicenceId::new(
                    "11100000000013338W011",
                    &authority,
                    &format!("S{i:06}"),
                    1,
                )
                .unwrap(),
                number: format!("350100{i:06}"),
                issuer_name: "福州市公安局交通警察支队".into(),
                issue_date: date!(2020 - 01 - 01),
                holder_name: "张三".into(),
                holder: HolderCode::Citizen(IdNumber::parse("11010519491231002X").unwrap()),
                valid_from: date!(2020 - 01 - 01),
                valid_until: Some(date!(2030 - 01 - 01)),
                jurisdiction: RegionCode::parse("350100").unwrap(),
            };
            let issued = issuer.issue_licence(&licence, &device_key, i, NOW).unwrap();
            wallet.put_credential(&issued, NOW).await.unwrap();
        }
        for i in 0..100 {
            wallet
                .put(
                    RecordKind::Draft,
                    Some(&format!("draft-{i}")),
                    draft.as_bytes(),
                    NOW,
                )
                .await
                .unwrap();
        }
        wallet.close().await;
    });

    let mut group = c.benchmark_group("wallet");
    group.sample_size(20);
    group.bench_function("open_and_list_1000_licences_100_drafts", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let wallet = Wallet::open(&path, keys.clone(), WalletOptions::default())
                    .await
                    .unwrap();
                let licences = wallet.licences().await.unwrap();
                let drafts = wallet.list(RecordKind::Draft).await.unwrap();
                assert_eq!((licences.len(), drafts.len()), (1000, 100));
                wallet.close().await;
                black_box((licences, drafts))
            })
        })
    });
    group.sample_size(100);
    // A real draft of the 老年人优待证 form with 20 revisions; each iteration
    // edits a field, records a revision and stores the draft.
    let schema = FormSchema::from_json(include_str!("../forms/senior-card.json")).unwrap();
    let mut draft = Draft::new(&schema, NOW).unwrap();
    for i in 0..20 {
        draft
            .set(
                &schema,
                "emergency_contact_name",
                serde_json::json!(format!("联系人{i}")),
            )
            .unwrap();
        draft.save(NOW + i);
    }
    let wallet = runtime
        .block_on(Wallet::open(&path, keys.clone(), WalletOptions::default()))
        .unwrap();
    let mut n = 0i64;
    group.bench_function("save_draft_revision", |b| {
        b.iter(|| {
            n += 1;
            let mut edited = draft.clone();
            edited
                .set(
                    &schema,
                    "phone",
                    serde_json::json!(format!("138{:08}", n % 100_000_000)),
                )
                .unwrap();
            edited.save(NOW + 100 + n);
            runtime
                .block_on(wallet.save_draft(&edited, NOW + 100 + n))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, wallet);
criterion_main!(benches);
