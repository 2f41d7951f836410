//! Benchmarks for `yiwang_core::forms`: validating and merging a 60-field
//! draft that mixes every field type, and an autosave that adds a revision.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use time::macros::date;
use yiwang_core::forms::{Draft, FormSchema, merge};
use yiwang_core::identity::{LicenceId, Uscc};

const TYPES: [&str; 10] = [
    "text",
    "number",
    "date",
    "enum",
    "id_number",
    "uscc",
    "phone",
    "address",
    "licence_ref",
    "attachment",
];
const ID_NUMBER: &str = "11010519491231002X";
const USCC: &str = "91350100M000100Y43";
const LICENCE_TYPE: &str = "11100000000013338W011";

/// 6 sections × 10 fields, one of each type per section, all required, with
/// two cross-field rules; returns the schema and a fully valid set of values.
fn sixty_fields() -> (FormSchema, BTreeMap<String, Value>) {
    let issuer = Uscc::parse(USCC).unwrap();
    let licence_id = LicenceId::new(LICENCE_TYPE, &issuer, "2024FJ000123", 1).unwrap();
    let mut sections = Vec::new();
    let mut values = BTreeMap::new();
    for s in 0..6 {
        let mut fields = Vec::new();
        for (t, ty) in TYPES.iter().enumerate() {
            let id = format!("f{s}_{t}");
            let (mut field, value) = match *ty {
                "text" => (
                    json!({"max_length": 32, "pattern": "[\\x{4e00}-\\x{9fff}A-Za-z0-9 ]+"}),
                    json!("测试 Test 123"),
                ),
                "number" => (json!({"min": 0, "max": 1000, "integer": true}), json!(42)),
                "date" => (
                    json!({"min": "2000-01-01", "max": "today"}),
                    json!(format!("2024-05-2{s}")),
                ),
                "enum" => (
                    json!({"options": [
                        {"value": "a", "label": {"zh": "甲", "en": "A"}},
                        {"value": "b", "label": {"zh": "乙", "en": "B"}}]}),
                    json!("b"),
                ),
                "id_number" => (json!({}), json!(ID_NUMBER)),
                "uscc" => (json!({}), json!(USCC)),
                "phone" => (json!({}), json!(format!("1380013800{s}"))),
                "address" => (
                    json!({}),
                    json!({"region": "350102", "detail": "鼓楼区五四路100号"}),
                ),
                "licence_ref" => (
                    json!({"licence_type": LICENCE_TYPE}),
                    json!({"licence_id": licence_id.as_str(), "reason": "测试"}),
                ),
                _ => (
                    json!({}),
                    json!({"sha256": "3f".repeat(32), "media_type": "image/png", "size": 1024}),
                ),
            };
            field["id"] = json!(id);
            field["type"] = json!(ty);
            field["label"] = json!({"zh": format!("字段{s}{t}"), "en": format!("Field {s}{t}")});
            field["required"] = json!(true);
            fields.push(field);
            values.insert(id, value);
        }
        sections.push(json!({
            "id": format!("s{s}"),
            "title": {"zh": format!("第{s}部分"), "en": format!("Part {s}")},
            "fields": fields,
        }));
    }
    let schema = json!({
        "matter_code": "BENCH-60",
        "version": 1,
        "title": {"zh": "六十项", "en": "Sixty fields"},
        "sections": sections,
        "rules": [
            {"kind": "not_equal", "field": "f1_6", "other": "f0_6"},
            {"kind": "date_after", "field": "f1_2", "after": "f0_2"}
        ],
    });
    (FormSchema::from_json(&schema.to_string()).unwrap(), values)
}

fn filled_draft(schema: &FormSchema, values: &BTreeMap<String, Value>) -> Draft {
    let mut draft = Draft::new(schema, 0).unwrap();
    for (k, v) in values {
        draft.set(schema, k, v.clone()).unwrap();
    }
    draft
}

fn bench_forms(c: &mut Criterion) {
    let (schema, values) = sixty_fields();
    let today = date!(2025 - 06 - 15);
    let draft = filled_draft(&schema, &values);
    assert!(draft.validate(&schema, today).is_empty());

    c.bench_function("forms/validate_60_fields", |b| {
        b.iter(|| black_box(&draft).validate(&schema, black_box(today)))
    });

    // One edit then an autosave: compares against the last snapshot and
    // clones 60 values into a new revision.
    c.bench_function("forms/save_revision", |b| {
        b.iter_batched(
            || {
                let mut d = draft.clone();
                d.save(1);
                d.set(&schema, "f0_0", json!("已修改")).unwrap();
                d
            },
            |mut d| {
                let n = d.save(2);
                (d, n)
            },
            BatchSize::SmallInput,
        )
    });

    // Every field edited on one side or the other, a quarter on both.
    let base = values.clone();
    let mut local = values.clone();
    let mut remote = values.clone();
    for (i, key) in values.keys().enumerate() {
        match i % 4 {
            0 => drop(local.insert(key.clone(), json!(format!("local {i}")))),
            1 => drop(remote.insert(key.clone(), json!(format!("remote {i}")))),
            2 => {
                local.insert(key.clone(), json!(i));
                remote.insert(key.clone(), json!(i + 1));
            }
            _ => drop(remote.remove(key)),
        }
    }
    assert_eq!(merge(&base, &local, &remote).conflicts.len(), 15);
    c.bench_function("forms/merge_60_fields", |b| {
        b.iter(|| merge(black_box(&base), black_box(&local), black_box(&remote)))
    });
}

criterion_group!(benches, bench_forms);
criterion_main!(benches);
