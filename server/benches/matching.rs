//! In-process recommendation matching (issue 9): events matched per second
//! against 1,000 rules and 1,000,000 citizen profiles.
//!
//!     cargo bench -p yiwang-server --bench matching
//!
//! The rules spread over the eight event types (≈125 candidates per event),
//! each with a condition on the event's data and most with profile
//! predicates (age range, region prefix, a licence held or lacked). Each
//! iteration takes 10,000 events for random citizens: the profile looked up
//! in a hash map by 网号, then every candidate rule checked.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use yiwang_server::recommend::rules::{Citizen, MatterInfo, NoHistory, RuleSet};

const RULES: usize = 1_000;
const CITIZENS: usize = 1_000_000;
const EVENTS: usize = 10_000;
const TYPES: [&str; 8] = [
    "birth_registered",
    "marriage_registered",
    "licence_issued",
    "licence_expiring",
    "residence_changed",
    "retired",
    "death_registered",
    "application_status_changed",
];
const REGIONS: [&str; 6] = ["330106", "330108", "110105", "440304", "310115", "510104"];
const LICENCES: [&str; 4] = [
    "11100000000013338W011",
    "11100000MB0143028R001",
    "11100000MB0143028R002",
    "11100000000013338W002",
];
const LIFE_EVENTS: [&str; 6] = [
    "birth",
    "marriage",
    "housing",
    "driving",
    "old_age",
    "daily_life",
];

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn matter_code(i: usize) -> String {
    format!("11100000MB0143028R39{i:011}")
}

fn data_for(event_type: &str, rng: &mut Rng) -> Value {
    match event_type {
        "birth_registered" => {
            let sex = ["male", "female"][rng.below(2)];
            json!({"child_birth_date": "2026-11-01", "child_sex": sex})
        }
        "marriage_registered" => json!({"registered_on": "2026-05-20"}),
        "licence_issued" => {
            let licence = LICENCES[rng.below(4)];
            json!({"licence_type": licence})
        }
        "licence_expiring" => {
            let licence = LICENCES[rng.below(4)];
            json!({"licence_type": licence, "expires_on": "2027-02-01"})
        }
        "residence_changed" => {
            let region = REGIONS[rng.below(6)];
            json!({"region_code": region})
        }
        "retired" => json!({"retired_on": "2026-10-01"}),
        "death_registered" => {
            let relation = ["spouse", "child", "parent", "sibling", "other"][rng.below(5)];
            json!({"died_on": "2026-10-01", "relation": relation})
        }
        _ => {
            let status = ["accepted", "approved", "completed"][rng.below(3)];
            json!({"receipt": "R-1", "status": status})
        }
    }
}

fn condition_for(event_type: &str, rng: &mut Rng) -> Value {
    match event_type {
        "birth_registered" => {
            let sex = ["male", "female"][rng.below(2)];
            json!([{"field": "child_sex", "equals": sex}])
        }
        "licence_issued" | "licence_expiring" => {
            let licence = LICENCES[rng.below(4)];
            json!([{"field": "licence_type", "equals": licence}])
        }
        "residence_changed" => {
            let (a, b) = (REGIONS[rng.below(6)], REGIONS[rng.below(6)]);
            let regions = if a == b { vec![a] } else { vec![a, b] };
            json!([{"field": "region_code", "in": regions}])
        }
        "death_registered" => json!([{"field": "relation", "in": ["spouse", "child"]}]),
        "application_status_changed" => json!([{"field": "status", "equals": "approved"}]),
        _ => json!([]),
    }
}

fn rule_set(rng: &mut Rng) -> (RuleSet, HashMap<String, MatterInfo>) {
    let mut matters = HashMap::new();
    let mut rules = Vec::new();
    for i in 0..RULES {
        let code = matter_code(i);
        matters.insert(
            code.clone(),
            MatterInfo {
                life_event: LIFE_EVENTS[i % LIFE_EVENTS.len()].to_owned(),
                delivery: "online".to_owned(),
            },
        );
        let event_type = TYPES[i % TYPES.len()];
        let min = 18 + rng.below(50) as u32;
        let mut conditions = json!({"age_min": min, "age_max": min + 10 + rng.below(40) as u32});
        if rng.below(2) == 0 {
            conditions["region_prefix"] = json!(&REGIONS[rng.below(6)][..2]);
        }
        match rng.below(3) {
            0 => conditions["holds"] = json!([LICENCES[rng.below(4)]]),
            1 => conditions["lacks"] = json!([LICENCES[rng.below(4)]]),
            _ => {}
        }
        rules.push(json!({"id": format!("r{i}"), "matter": code,
            "on": {"event": event_type, "where": condition_for(event_type, rng)},
            "if": conditions, "cooldown_days": 30, "priority": rng.below(101),
            "action": "offer", "reason": {"zh": "可办理", "en": "You can apply"}}));
    }
    let document = json!({"rules": rules}).to_string();
    let set = RuleSet::load(&document, &|code| matters.get(code).cloned()).expect("rule set loads");
    (set, matters)
}

struct Profile {
    birth_date: i64,
    region_code: &'static str,
    licences: Vec<String>,
    opted_out: Vec<String>,
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (set, _) = rule_set(&mut rng);
    let mut profiles: HashMap<String, Profile> = HashMap::with_capacity(CITIZENS);
    for i in 0..CITIZENS {
        let year = 1930 + rng.below(90) as i64;
        let licences = (0..rng.below(3))
            .map(|_| LICENCES[rng.below(4)].to_owned())
            .collect();
        profiles.insert(
            format!("YW{i:030}"),
            Profile {
                birth_date: year * 10_000 + 101 + rng.below(12) as i64 * 100,
                region_code: REGIONS[rng.below(6)],
                licences,
                opted_out: Vec::new(),
            },
        );
    }
    let events: Vec<(String, &str, Map<String, Value>)> = (0..EVENTS)
        .map(|_| {
            let event_type = TYPES[rng.below(TYPES.len())];
            let Value::Object(data) = data_for(event_type, &mut rng) else {
                unreachable!("data is an object")
            };
            (format!("YW{:030}", rng.below(CITIZENS)), event_type, data)
        })
        .collect();

    let mut group = c.benchmark_group("matching");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    group.bench_function("10k events, 1k rules, 1M profiles", |b| {
        b.iter(|| {
            let mut fired = 0usize;
            for (network_id, event_type, data) in &events {
                let Some(profile) = profiles.get(network_id) else {
                    continue;
                };
                let citizen = Citizen {
                    birth_date: Some(profile.birth_date),
                    region_code: Some(profile.region_code),
                    licences: &profile.licences,
                    consent: true,
                    opted_out: &profile.opted_out,
                };
                fired += set
                    .match_event(event_type, data, &citizen, &NoHistory, 0, 20261123)
                    .len();
            }
            black_box(fired)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
