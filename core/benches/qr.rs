//! Benchmarks for `yiwang_core::qr`: a 600-character presentation-sized code.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use yiwang_core::qr::{QrMatrix, decode_png};

/// Module size used by the app for on-screen codes.
const MODULE_PX: u32 = 4;

/// `YW1:` followed by 596 Base45 characters (600 in total).
fn text_600() -> String {
    const BASE45: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut text = String::from("YW1:");
    let mut state = 0x2545_F491_u32;
    while text.len() < 600 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        text.push(char::from(BASE45[state as usize % BASE45.len()]));
    }
    text
}

fn bench_qr(c: &mut Criterion) {
    let text = text_600();
    let png = QrMatrix::encode(&text).unwrap().to_png(MODULE_PX).unwrap();
    assert_eq!(decode_png(&png).unwrap(), vec![text.clone()]);

    let mut group = c.benchmark_group("qr");
    group.bench_function("encode_600", |b| {
        b.iter(|| QrMatrix::encode(black_box(&text)).unwrap())
    });
    group.bench_function("png_600", |b| {
        b.iter(|| {
            QrMatrix::encode(black_box(&text))
                .unwrap()
                .to_png(MODULE_PX)
                .unwrap()
        })
    });
    group.bench_function("decode_png_600", |b| {
        b.iter(|| decode_png(black_box(&png)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_qr);
criterion_main!(benches);
