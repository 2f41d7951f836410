//! Signatures and AEAD of both suites. Compare with `openssl speed` on the
//! same machine (docs/performance.md has both and the commands).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use yiwang_core::crypto::{SigningKey, Suite};

fn signatures(c: &mut Criterion) {
    let msg = [0x5au8; 64];
    for (suite, name) in [(Suite::Gm, "sm2"), (Suite::Intl, "p256")] {
        let key = SigningKey::generate(suite).unwrap();
        let public = key.verifying_key().unwrap();
        let sig = key.sign(&msg).unwrap();
        let mut group = c.benchmark_group(name.to_string());
        group.bench_function("sign", |b| b.iter(|| key.sign(black_box(&msg)).unwrap()));
        group.bench_function("verify", |b| {
            b.iter(|| public.verify(black_box(&msg), black_box(&sig)).unwrap())
        });
        group.finish();
    }
}

fn aead(c: &mut Criterion) {
    let plaintext = vec![0xa5u8; 1024];
    let nonce = [7u8; 12];
    let aad = b"wallet/licences/1/claims";
    for (suite, name) in [(Suite::Gm, "sm4_gcm"), (Suite::Intl, "aes256_gcm")] {
        let key = suite.generate_aead_key().unwrap();
        let sealed = key.seal_with_nonce(&nonce, aad, &plaintext).unwrap();
        let mut group = c.benchmark_group(format!("{name}_1KiB"));
        group.throughput(Throughput::Bytes(1024));
        group.bench_function("seal", |b| {
            b.iter(|| {
                key.seal_with_nonce(&nonce, aad, black_box(&plaintext))
                    .unwrap()
            })
        });
        group.bench_function("open", |b| {
            b.iter(|| {
                key.open_with_nonce(&nonce, aad, black_box(&sealed))
                    .unwrap()
            })
        });
        group.finish();
    }
}

fn hashes(c: &mut Criterion) {
    let data = vec![0x3cu8; 1024];
    let mut group = c.benchmark_group("hash_1KiB");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("sm3", |b| b.iter(|| Suite::Gm.hash(black_box(&data))));
    group.bench_function("sha256", |b| b.iter(|| Suite::Intl.hash(black_box(&data))));
    group.finish();
}

criterion_group!(benches, signatures, aead, hashes);
criterion_main!(benches);
