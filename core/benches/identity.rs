//! Benchmarks for `yiwang_core::identity` parsing.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use yiwang_core::identity::{IdNumber, LicenceId, Uscc, recognise};

const ID_NUMBER: &str = "11010519491231002X";
const USCC: &str = "91350100M000100Y43";

fn licence_id() -> String {
    let issuer = Uscc::parse(USCC).unwrap();
    LicenceId::new("11100000000013338W011", &issuer, "2024FJ000123", 1)
        .unwrap()
        .as_str()
        .to_owned()
}

fn bench_parse(c: &mut Criterion) {
    let licence = licence_id();
    c.bench_function("id_number/parse", |b| {
        b.iter(|| IdNumber::parse(black_box(ID_NUMBER)))
    });
    c.bench_function("uscc/parse", |b| b.iter(|| Uscc::parse(black_box(USCC))));
    c.bench_function("licence_id/parse", |b| {
        b.iter(|| LicenceId::parse(black_box(&licence)))
    });
    c.bench_function("recognise", |b| {
        b.iter(|| {
            (
                recognise(black_box(ID_NUMBER)),
                recognise(black_box(USCC)),
                recognise(black_box(&licence)),
            )
        })
    });
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
