//! The rule language of proactive recommendations, and the matcher.
//!
//! A rule set is one JSON document, `{"rules": [rule, …]}`, loaded whole: it
//! is checked completely (each error with the JSON path of the value at
//! fault) before it replaces the one in force, so a bad rule set is never
//! half applied. See docs/formats.md, "Recommendation rules".
//!
//! Matching is pure: an event (or a scheduled occurrence), the citizen's
//! profile and history in, the rules that fire out, highest priority first,
//! one per matter.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::Bilingual;
use crate::events::{self, EVENT_TYPES, Kind};

/// Most rules in a set.
pub const MAX_RULES: usize = 10_000;

/// A rule set error: where (a JSON path such as `rules[3].on.where[0].field`)
/// and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

fn error(path: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError {
        path: path.into(),
        message: message.into(),
    }
}

/// What the catalog says about a matter a rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterInfo {
    /// Its life event: the category citizens opt out of.
    pub life_event: String,
    /// `online`, `window` or `automatic`.
    pub delivery: String,
}

// ---- the document ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    rules: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: String,
    matter: String,
    on: OnDoc,
    #[serde(default, rename = "if")]
    conditions: Option<ConditionsDoc>,
    #[serde(default)]
    window: Option<WindowDoc>,
    #[serde(default)]
    cooldown_days: u32,
    #[serde(default = "default_priority")]
    priority: u8,
    action: String,
    #[serde(default)]
    required_by_law: bool,
    reason: Bilingual,
    #[serde(default)]
    after: Vec<String>,
}

fn default_priority() -> u8 {
    50
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDoc {
    #[serde(default)]
    event: Option<String>,
    #[serde(default, rename = "where")]
    conditions: Vec<FieldConditionDoc>,
    #[serde(default)]
    age: Option<AgeDoc>,
    #[serde(default)]
    licence_expiry: Option<ExpiryDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldConditionDoc {
    field: String,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default, rename = "in")]
    any_of: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgeDoc {
    years: u32,
    #[serde(default)]
    days_before: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpiryDoc {
    licence_type: String,
    days_before: Vec<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionsDoc {
    #[serde(default)]
    age_min: Option<u32>,
    #[serde(default)]
    age_max: Option<u32>,
    #[serde(default)]
    region_prefix: Option<String>,
    #[serde(default)]
    holds: Vec<String>,
    #[serde(default)]
    lacks: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowDoc {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
}

// ---- the compiled rules ----

/// What fires a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An event of this type whose data fields match every condition.
    Event {
        event_type: &'static str,
        conditions: Vec<FieldCondition>,
    },
    /// The citizen's `years`-th birthday, from `days_before` before it.
    Age { years: u32, days_before: u32 },
    /// A licence of this type expiring: once at each of `days_before`.
    LicenceExpiry {
        licence_type: String,
        days_before: Vec<u32>,
    },
}

/// `data.<field>` is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCondition {
    pub field: String,
    pub values: Vec<String>,
}

/// Profile predicates (they need the citizen's consent to profile matching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    pub region_prefix: Option<String>,
    pub holds: Vec<String>,
    pub lacks: Vec<String>,
}

impl Conditions {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Recommend the matter: the citizen applies.
    Offer,
    /// 免申即领: the matter is granted; the citizen gets a notice.
    Grant,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Offer => "offer",
            Action::Grant => "grant",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub matter: String,
    /// The matter's life event.
    pub category: String,
    pub trigger: Trigger,
    pub conditions: Conditions,
    /// Active from (inclusive) / until (exclusive), as `YYYYMMDD`.
    pub window: (Option<i64>, Option<i64>),
    pub cooldown_days: u32,
    pub priority: u8,
    pub action: Action,
    pub required_by_law: bool,
    pub reason: Bilingual,
    /// Rules (indices) that must have fired for this citizen first.
    pub after: Vec<usize>,
}

/// A checked rule set, indexed for matching.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    ids: HashMap<String, usize>,
    by_event: HashMap<&'static str, Vec<usize>>,
}

fn is_rule_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'_')
        })
}

/// `YYYY-MM-DD` → `YYYYMMDD`.
fn date_number(text: &str) -> Option<i64> {
    let date = jiff::civil::Date::strptime("%Y-%m-%d", text).ok()?;
    (text.len() == 10).then(|| {
        i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
    })
}

impl RuleSet {
    /// Checks and compiles a rule set document. `matter` says what the
    /// catalog knows of a matter code (`None`: no such current matter).
    pub fn load(
        json: &str,
        matter: &dyn Fn(&str) -> Option<MatterInfo>,
    ) -> Result<RuleSet, RuleError> {
        let document: Document =
            serde_json::from_str(json).map_err(|e| error("", serde_message(&e)))?;
        if document.rules.len() > MAX_RULES {
            return Err(error("rules", format!("at most {MAX_RULES} rules")));
        }
        let mut docs = Vec::with_capacity(document.rules.len());
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (i, value) in document.rules.into_iter().enumerate() {
            let doc: RuleDoc = serde_json::from_value(value)
                .map_err(|e| error(format!("rules[{i}]"), serde_message(&e)))?;
            if !is_rule_id(&doc.id) {
                return Err(error(
                    format!("rules[{i}].id"),
                    "1-64 characters of a-z 0-9 . - _, starting with a letter or digit",
                ));
            }
            if let Some(first) = ids.insert(doc.id.clone(), i) {
                return Err(error(
                    format!("rules[{i}].id"),
                    format!("the same id as rules[{first}]"),
                ));
            }
            docs.push(doc);
        }
        let mut rules = Vec::with_capacity(docs.len());
        for (i, doc) in docs.into_iter().enumerate() {
            rules.push(compile(i, doc, &ids, matter)?);
        }
        check_cycles(&rules)?;
        check_conflicts(&rules)?;
        let mut by_event: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            if let Trigger::Event { event_type, .. } = rule.trigger {
                by_event.entry(event_type).or_default().push(i);
            }
        }
        Ok(RuleSet {
            rules,
            ids,
            by_event,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.ids.get(id).map(|&i| &self.rules[i])
    }

    /// The rules `event` fires for a citizen, highest priority first and one
    /// per matter. `today` is `YYYYMMDD` (the citizen's local date).
    pub fn match_event<'r>(
        &'r self,
        event_type: &str,
        data: &Map<String, Value>,
        citizen: &Citizen<'_>,
        history: &dyn History,
        now_ms: i64,
        today: i64,
    ) -> Vec<&'r Rule> {
        let Some(candidates) = self.by_event.get(event_type) else {
            return Vec::new();
        };
        let mut fired: Vec<&Rule> = Vec::new();
        for &i in candidates {
            let rule = &self.rules[i];
            let Trigger::Event { conditions, .. } = &rule.trigger else {
                continue;
            };
            if data_matches(conditions, data) && self.applies(rule, citizen, history, now_ms, today)
            {
                fired.push(rule);
            }
        }
        best_per_matter(fired)
    }

    /// Whether `rule`, triggered, applies to the citizen now: consent, the
    /// window, opt-outs, profile predicates, rules it comes after, cooldown.
    pub fn applies(
        &self,
        rule: &Rule,
        citizen: &Citizen<'_>,
        history: &dyn History,
        now_ms: i64,
        today: i64,
    ) -> bool {
        self.refusal(rule, citizen, history, now_ms, today)
            .is_none()
    }

    /// Why `rule`, triggered, does not apply to the citizen now (the first
    /// reason, in the order [`Self::applies`] checks), or `None` if it does.
    pub fn refusal(
        &self,
        rule: &Rule,
        citizen: &Citizen<'_>,
        history: &dyn History,
        now_ms: i64,
        today: i64,
    ) -> Option<Refusal> {
        if !citizen.consent && !rule.required_by_law {
            return Some(Refusal::NoConsent);
        }
        if rule.window.0.is_some_and(|from| today < from)
            || rule.window.1.is_some_and(|until| today >= until)
        {
            return Some(Refusal::OutsideWindow);
        }
        if citizen.opted_out.contains(&rule.category) {
            return Some(Refusal::OptedOut);
        }
        let c = &rule.conditions;
        if !c.is_empty() {
            let age = citizen.birth_date.map(|birth| (today - birth) / 10_000);
            if c.age_min
                .is_some_and(|min| age.is_none_or(|a| a < i64::from(min)))
                || c.age_max
                    .is_some_and(|max| age.is_none_or(|a| a > i64::from(max)))
            {
                return Some(Refusal::Age);
            }
            if let Some(prefix) = &c.region_prefix
                && !citizen
                    .region_code
                    .is_some_and(|r| r.starts_with(prefix.as_str()))
            {
                return Some(Refusal::Region);
            }
            if !c.holds.iter().all(|t| citizen.licences.contains(t)) {
                return Some(Refusal::LacksLicence);
            }
            if c.lacks.iter().any(|t| citizen.licences.contains(t)) {
                return Some(Refusal::HoldsLicence);
            }
        }
        if !rule
            .after
            .iter()
            .all(|&i| history.has_fired(&self.rules[i].id))
        {
            return Some(Refusal::After);
        }
        if let Some(last) = history.last_recommended(&rule.matter)
            && now_ms - last < i64::from(rule.cooldown_days) * 86_400_000
        {
            return Some(Refusal::Cooldown);
        }
        None
    }

    /// A dry run: every rule `event_type` triggers, with what it does for
    /// this citizen — fires, or why not — in the order [`Self::match_event`]
    /// ranks them.
    pub fn explain_event<'r>(
        &'r self,
        event_type: &str,
        data: &Map<String, Value>,
        citizen: &Citizen<'_>,
        history: &dyn History,
        now_ms: i64,
        today: i64,
    ) -> Vec<(&'r Rule, Option<Refusal>)> {
        let fired = self.match_event(event_type, data, citizen, history, now_ms, today);
        let mut out: Vec<(&Rule, Option<Refusal>)> = fired.iter().map(|r| (*r, None)).collect();
        for &i in self.by_event.get(event_type).into_iter().flatten() {
            let rule = &self.rules[i];
            if fired.iter().any(|f| std::ptr::eq(*f, rule)) {
                continue;
            }
            let Trigger::Event { conditions, .. } = &rule.trigger else {
                continue;
            };
            let why = if data_matches(conditions, data) {
                self.refusal(rule, citizen, history, now_ms, today)
                    .unwrap_or(Refusal::Outranked)
            } else {
                Refusal::EventData
            };
            out.push((rule, Some(why)));
        }
        out
    }
}

/// Whether an event's data meets every condition of a rule's `where`.
fn data_matches(conditions: &[FieldCondition], data: &Map<String, Value>) -> bool {
    conditions.iter().all(|c| {
        data.get(&c.field)
            .and_then(Value::as_str)
            .is_some_and(|v| c.values.iter().any(|want| want == v))
    })
}

/// Why a triggered rule makes no recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The event's data does not meet the rule's `where`.
    EventData,
    /// Profile matching needs consent, and the rule is not required by law.
    NoConsent,
    OutsideWindow,
    /// The citizen opted out of the matter's life event.
    OptedOut,
    Age,
    Region,
    /// A licence the rule needs (`holds`) is missing.
    LacksLicence,
    /// The citizen holds a licence the rule excludes (`lacks`).
    HoldsLicence,
    /// A rule this one comes `after` has not fired for the citizen.
    After,
    Cooldown,
    /// Another rule for the same matter ranks higher.
    Outranked,
}

impl Refusal {
    /// In plain Chinese, for the console's dry run.
    pub fn zh(self) -> &'static str {
        match self {
            Refusal::EventData => "事件数据不满足规则的条件（where）",
            Refusal::NoConsent => "群众未同意画像匹配，且该规则并非法定必须告知",
            Refusal::OutsideWindow => "不在规则的生效期内",
            Refusal::OptedOut => "群众已关闭此类人生事件的推荐",
            Refusal::Age => "年龄不在规则范围内",
            Refusal::Region => "户籍地区不符",
            Refusal::LacksLicence => "缺少规则要求持有的证照",
            Refusal::HoldsLicence => "已持有规则排除的证照",
            Refusal::After => "前置规则尚未对该群众生效",
            Refusal::Cooldown => "冷却期内已推荐过该事项",
            Refusal::Outranked => "同一事项已有优先级更高的规则",
        }
    }
}

/// Highest priority first; of several rules for one matter, the first.
fn best_per_matter(mut fired: Vec<&Rule>) -> Vec<&Rule> {
    fired.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    let mut seen = Vec::new();
    fired.retain(|r| {
        if seen.contains(&r.matter) {
            false
        } else {
            seen.push(r.matter.clone());
            true
        }
    });
    fired
}

/// What matching knows of a citizen.
#[derive(Debug, Clone, Default)]
pub struct Citizen<'a> {
    /// `YYYYMMDD`, from the ID number at enrolment.
    pub birth_date: Option<i64>,
    pub region_code: Option<&'a str>,
    /// Licence types the citizen holds.
    pub licences: &'a [String],
    /// Consent to profile-based matching.
    pub consent: bool,
    /// Life events the citizen opted out of.
    pub opted_out: &'a [String],
}

/// The citizen's past recommendations.
pub trait History {
    /// When the matter was last recommended (Unix ms).
    fn last_recommended(&self, matter: &str) -> Option<i64>;
    /// Whether the rule fired for this citizen before.
    fn has_fired(&self, rule_id: &str) -> bool;
}

/// No history: a citizen never recommended anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn last_recommended(&self, _: &str) -> Option<i64> {
        None
    }
    fn has_fired(&self, _: &str) -> bool {
        false
    }
}

fn serde_message(e: &serde_json::Error) -> String {
    // serde's "at line 1 column 40" is of no use for a path-addressed error.
    let text = e.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn check_text(path: &str, text: &Bilingual) -> Result<(), RuleError> {
    for (lang, value) in [("zh", &text.zh), ("en", &text.en)] {
        if value.trim().is_empty() || value.chars().count() > 200 {
            return Err(error(format!("{path}.{lang}"), "1-200 characters"));
        }
    }
    Ok(())
}

fn licence_types(path: &str, codes: &[String]) -> Result<(), RuleError> {
    for (k, code) in codes.iter().enumerate() {
        if !yiwang_core::forms::is_licence_type_code(code) {
            return Err(error(
                format!("{path}[{k}]"),
                "a 21-character licence type code",
            ));
        }
    }
    Ok(())
}

fn compile(
    i: usize,
    doc: RuleDoc,
    ids: &HashMap<String, usize>,
    matter: &dyn Fn(&str) -> Option<MatterInfo>,
) -> Result<Rule, RuleError> {
    let at = |key: &str| format!("rules[{i}].{key}");
    let info = if yiwang_core::forms::is_matter_code(&doc.matter) {
        matter(&doc.matter)
    } else {
        None
    };
    let info = info.ok_or_else(|| error(at("matter"), "no such current matter in the catalog"))?;

    let OnDoc {
        event,
        conditions: where_,
        age,
        licence_expiry,
    } = doc.on;
    if event.is_none() && !where_.is_empty() {
        return Err(error(at("on.where"), "only with an event"));
    }
    let trigger = match (event, age, licence_expiry) {
        (Some(name), None, None) => {
            let (event_type, fields) = EVENT_TYPES
                .iter()
                .find(|(t, _)| *t == name)
                .ok_or_else(|| error(at("on.event"), "unknown event type"))?;
            let mut conditions = Vec::new();
            for (k, c) in where_.into_iter().enumerate() {
                let path = at(&format!("on.where[{k}]"));
                let Some((_, kind, _)) = fields.iter().find(|(f, _, _)| *f == c.field) else {
                    return Err(error(
                        format!("{path}.field"),
                        format!("`{}` is not a field of {event_type}", truncate(&c.field)),
                    ));
                };
                let (values, key) = match (c.equals, c.any_of) {
                    (Some(v), None) => (vec![v], "equals"),
                    (None, Some(vs)) if !vs.is_empty() => (vs, "in"),
                    _ => return Err(error(path, "exactly one of equals, in (non-empty)")),
                };
                for (n, v) in values.iter().enumerate() {
                    check_field_value(*kind, v).map_err(|wanted| {
                        let at = if key == "in" {
                            format!("{path}.in[{n}]")
                        } else {
                            format!("{path}.equals")
                        };
                        error(at, wanted)
                    })?;
                }
                conditions.push(FieldCondition {
                    field: c.field,
                    values,
                });
            }
            Trigger::Event {
                event_type,
                conditions,
            }
        }
        (None, Some(age), None) => {
            if !(1..=120).contains(&age.years) || age.days_before > 366 {
                return Err(error(at("on.age"), "years 1-120, days_before 0-366"));
            }
            Trigger::Age {
                years: age.years,
                days_before: age.days_before,
            }
        }
        (None, None, Some(expiry)) => {
            if !yiwang_core::forms::is_licence_type_code(&expiry.licence_type) {
                return Err(error(
                    at("on.licence_expiry.licence_type"),
                    "a 21-character licence type code",
                ));
            }
            let mut days = expiry.days_before;
            if days.is_empty() || days.len() > 10 || days.iter().any(|d| *d > 366) {
                return Err(error(
                    at("on.licence_expiry.days_before"),
                    "1-10 days, each 0-366",
                ));
            }
            days.sort_unstable_by(|a, b| b.cmp(a));
            if days.windows(2).any(|w| w[0] == w[1]) {
                return Err(error(
                    at("on.licence_expiry.days_before"),
                    "a day is listed twice",
                ));
            }
            Trigger::LicenceExpiry {
                licence_type: expiry.licence_type,
                days_before: days,
            }
        }
        _ => {
            return Err(error(at("on"), "exactly one of event, age, licence_expiry"));
        }
    };

    let conditions = match doc.conditions {
        None => Conditions::default(),
        Some(c) => {
            if let (Some(min), Some(max)) = (c.age_min, c.age_max)
                && min > max
            {
                return Err(error(at("if.age_min"), "must not exceed age_max"));
            }
            if c.age_min.is_some_and(|a| a > 150) || c.age_max.is_some_and(|a| a > 150) {
                return Err(error(at("if"), "ages 0-150"));
            }
            if let Some(prefix) = &c.region_prefix
                && !((2..=6).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(error(at("if.region_prefix"), "2-6 digits"));
            }
            licence_types(&at("if.holds"), &c.holds)?;
            licence_types(&at("if.lacks"), &c.lacks)?;
            if let Some(both) = c.holds.iter().find(|t| c.lacks.contains(t)) {
                return Err(error(
                    at("if.lacks"),
                    format!("{both} is also in holds: the rule could never fire"),
                ));
            }
            Conditions {
                age_min: c.age_min,
                age_max: c.age_max,
                region_prefix: c.region_prefix,
                holds: c.holds,
                lacks: c.lacks,
            }
        }
    };

    let window = match doc.window {
        None => (None, None),
        Some(w) => {
            let from = w
                .from
                .map(|d| {
                    date_number(&d).ok_or_else(|| error(at("window.from"), "a date YYYY-MM-DD"))
                })
                .transpose()?;
            let until = w
                .until
                .map(|d| {
                    date_number(&d).ok_or_else(|| error(at("window.until"), "a date YYYY-MM-DD"))
                })
                .transpose()?;
            if let (Some(f), Some(u)) = (from, until)
                && f >= u
            {
                return Err(error(at("window"), "from must be before until"));
            }
            (from, until)
        }
    };
    if doc.cooldown_days > 3650 {
        return Err(error(at("cooldown_days"), "0-3650"));
    }
    if doc.priority > 100 {
        return Err(error(at("priority"), "0-100"));
    }
    let action = match doc.action.as_str() {
        "offer" => Action::Offer,
        "grant" => Action::Grant,
        _ => return Err(error(at("action"), "offer or grant")),
    };
    match (action, info.delivery.as_str()) {
        (Action::Grant, "automatic") | (Action::Offer, "online" | "window") => {}
        (Action::Grant, delivery) => {
            return Err(error(
                at("action"),
                format!(
                    "grant needs a matter delivered automatic (免申即领); this one is {delivery}"
                ),
            ));
        }
        (Action::Offer, _) => {
            return Err(error(
                at("action"),
                "an automatic (免申即领) matter is granted, not offered",
            ));
        }
    }
    if doc.required_by_law {
        if !matches!(trigger, Trigger::Event { .. }) {
            return Err(error(
                at("required_by_law"),
                "only event-driven rules can be required by law",
            ));
        }
        if !conditions.is_empty() {
            return Err(error(
                at("if"),
                "a rule required by law applies without consent, so it cannot use the profile",
            ));
        }
    }
    check_text(&at("reason"), &doc.reason)?;
    let mut after = Vec::new();
    for (k, id) in doc.after.iter().enumerate() {
        let &j = ids.get(id).ok_or_else(|| {
            error(
                at(&format!("after[{k}]")),
                format!("no rule `{}`", truncate(id)),
            )
        })?;
        after.push(j);
    }
    Ok(Rule {
        id: doc.id,
        matter: doc.matter,
        category: info.life_event,
        trigger,
        conditions,
        window,
        cooldown_days: doc.cooldown_days,
        priority: doc.priority,
        action,
        required_by_law: doc.required_by_law,
        reason: doc.reason,
        after,
    })
}

fn check_field_value(kind: Kind, value: &str) -> Result<(), String> {
    events::check_value(kind, &Value::String(value.to_owned()))
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

/// A rule that comes `after` itself, directly or through others, never fires.
fn check_cycles(rules: &[Rule]) -> Result<(), RuleError> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; rules.len()];
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        rules: &[Rule],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Result<(), RuleError> {
        state[i] = 1;
        path.push(i);
        for &j in &rules[i].after {
            match state[j] {
                1 => {
                    let start = path.iter().position(|&p| p == j).unwrap_or(0);
                    let cycle: Vec<&str> = path[start..]
                        .iter()
                        .chain(std::iter::once(&j))
                        .map(|&p| rules[p].id.as_str())
                        .collect();
                    return Err(error(
                        format!("rules[{i}].after"),
                        format!("a cycle: {}", cycle.join(" → ")),
                    ));
                }
                0 => visit(j, rules, state, path)?,
                _ => {}
            }
        }
        path.pop();
        state[i] = 2;
        Ok(())
    }
    for i in 0..rules.len() {
        if state[i] == 0 {
            visit(i, rules, &mut state, &mut path)?;
        }
    }
    Ok(())
}

/// Two rules for the same matter and the same trigger must not disagree
/// on whether it is offered or granted.
fn check_conflicts(rules: &[Rule]) -> Result<(), RuleError> {
    let mut seen: BTreeMap<(String, String), (usize, Action)> = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let trigger = match &rule.trigger {
            Trigger::Event { event_type, .. } => format!("event {event_type}"),
            Trigger::Age { years, .. } => format!("age {years}"),
            Trigger::LicenceExpiry { licence_type, .. } => format!("expiry {licence_type}"),
        };
        match seen.get(&(rule.matter.clone(), trigger.clone())) {
            Some(&(j, action)) if action != rule.action => {
                return Err(error(
                    format!("rules[{i}]"),
                    format!(
                        "conflicts with rules[{j}]: the same matter and trigger, {} here and {} there",
                        rule.action.as_str(),
                        action.as_str()
                    ),
                ));
            }
            Some(_) => {}
            None => {
                seen.insert((rule.matter.clone(), trigger), (i, rule.action));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const BIRTH: &str = "11100000000013338W3110000000001";
    const SUBSIDY: &str = "11100000000014064D3110000000004";
    const SENIOR: &str = "11100000MB0143028R3210000000001";

    fn catalog(code: &str) -> Option<MatterInfo> {
        let (life_event, delivery) = match code {
            BIRTH => ("birth", "online"),
            SUBSIDY => ("birth", "automatic"),
            SENIOR => ("old_age", "online"),
            _ => return None,
        };
        Some(MatterInfo {
            life_event: life_event.into(),
            delivery: delivery.into(),
        })
    }

    fn birth_rule() -> Value {
        json!({"id": "birth.one-thing", "matter": BIRTH,
            "on": {"event": "birth_registered"},
            "cooldown_days": 365, "priority": 90, "action": "offer", "required_by_law": true,
            "reason": {"zh": "您的孩子出生登记已完成，可办理出生一件事",
                       "en": "Your child's birth is registered: apply for the newborn services"}})
    }

    fn load(rules: Value) -> Result<RuleSet, RuleError> {
        RuleSet::load(&json!({"rules": rules}).to_string(), &catalog)
    }

    fn err(rules: Value) -> RuleError {
        load(rules).unwrap_err()
    }

    fn with(mut rule: Value, key: &str, value: Value) -> Value {
        rule[key] = value;
        rule
    }

    fn data(pairs: Value) -> Map<String, Value> {
        pairs.as_object().unwrap().clone()
    }

    #[test]
    fn an_event_fires_its_rules_by_priority_and_one_per_matter() {
        let set = load(json!([
            birth_rule(),
            {"id": "birth.subsidy", "matter": SUBSIDY, "on": {"event": "birth_registered"},
             "priority": 70, "action": "grant",
             "reason": {"zh": "育儿补贴已为您发放", "en": "Childcare subsidy granted"}},
            with(with(birth_rule(), "id", json!("birth.low")), "priority", json!(10)),
        ]))
        .unwrap();
        let citizen = Citizen {
            consent: true,
            ..Citizen::default()
        };
        let fired = set.match_event(
            "birth_registered",
            &data(json!({"child_birth_date": "2026-11-01"})),
            &citizen,
            &NoHistory,
            0,
            20261123,
        );
        let ids: Vec<&str> = fired.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["birth.one-thing", "birth.subsidy"]);
        assert!(
            set.match_event(
                "marriage_registered",
                &Map::new(),
                &citizen,
                &NoHistory,
                0,
                20261123
            )
            .is_empty()
        );
    }

    #[test]
    fn consent_opt_outs_profile_window_and_cooldown_decide() {
        let senior = json!({"id": "senior", "matter": SENIOR,
            "on": {"event": "residence_changed", "where": [{"field": "region_code", "in": ["330106", "330108"]}]},
            "if": {"age_min": 60, "region_prefix": "33", "lacks": ["11100000MB0143028R005"]},
            "window": {"from": "2026-01-01", "until": "2027-01-01"},
            "cooldown_days": 30, "action": "offer",
            "reason": {"zh": "您已年满60周岁，可申领老年人优待证", "en": "You are 60 or over: apply for the senior card"}});
        let set = load(json!([birth_rule(), senior])).unwrap();
        let rule = set.rule("senior").unwrap();
        let licences = vec![];
        let base = Citizen {
            birth_date: Some(19600301),
            region_code: Some("330106"),
            licences: &licences,
            consent: true,
            opted_out: &[],
        };
        let moved = data(json!({"region_code": "330106"}));
        let fires = |c: &Citizen<'_>, h: &dyn History, now_ms: i64, today: i64| {
            !set.match_event("residence_changed", &moved, c, h, now_ms, today)
                .is_empty()
        };
        assert!(fires(&base, &NoHistory, 0, 20261123));
        // The event's field must match.
        assert!(
            set.match_event(
                "residence_changed",
                &data(json!({"region_code": "110105"})),
                &base,
                &NoHistory,
                0,
                20261123
            )
            .is_empty()
        );
        // Without consent, only rules required by law.
        assert!(!fires(
            &Citizen {
                consent: false,
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123
        ));
        let fired = set.match_event(
            "birth_registered",
            &data(json!({"child_birth_date": "2026-11-01"})),
            &Citizen {
                consent: false,
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123,
        );
        assert_eq!(fired.len(), 1, "the birth rule is required by law");
        // Age: 59 the day before the birthday.
        assert!(!fires(
            &Citizen {
                birth_date: Some(19661124),
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123
        ));
        assert!(fires(
            &Citizen {
                birth_date: Some(19661123),
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123
        ));
        // Region, held licence, opt-out, window.
        assert!(!fires(
            &Citizen {
                region_code: Some("110105"),
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123
        ));
        let held = vec!["11100000MB0143028R005".to_owned()];
        assert!(!fires(
            &Citizen {
                licences: &held,
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123
        ));
        let out = vec!["old_age".to_owned()];
        assert!(!fires(
            &Citizen {
                opted_out: &out,
                ..base.clone()
            },
            &NoHistory,
            0,
            20261123
        ));
        assert!(!fires(&base, &NoHistory, 0, 20270101));
        assert!(!fires(&base, &NoHistory, 0, 20251231));
        // Cooldown: offered 29 days ago → not again; 30 days → again.
        struct Offered(i64);
        impl History for Offered {
            fn last_recommended(&self, _: &str) -> Option<i64> {
                Some(self.0)
            }
            fn has_fired(&self, _: &str) -> bool {
                true
            }
        }
        let day = 86_400_000;
        assert!(!set.applies(rule, &base, &Offered(0), 29 * day, 20261123));
        assert!(set.applies(rule, &base, &Offered(0), 30 * day, 20261123));
    }

    #[test]
    fn rules_that_come_after_others_need_them_to_have_fired() {
        let set = load(json!([
            birth_rule(),
            {"id": "subsidy", "matter": SUBSIDY, "on": {"event": "birth_registered"},
             "action": "grant", "after": ["birth.one-thing"],
             "reason": {"zh": "育儿补贴已为您发放", "en": "Childcare subsidy granted"}}
        ]))
        .unwrap();
        let citizen = Citizen {
            consent: true,
            ..Citizen::default()
        };
        let rule = set.rule("subsidy").unwrap();
        assert!(!set.applies(rule, &citizen, &NoHistory, 0, 20261123));
        struct Fired;
        impl History for Fired {
            fn last_recommended(&self, _: &str) -> Option<i64> {
                None
            }
            fn has_fired(&self, id: &str) -> bool {
                id == "birth.one-thing"
            }
        }
        assert!(set.applies(rule, &citizen, &Fired, 0, 20261123));
    }

    #[test]
    fn bad_rules_are_refused_with_the_path_of_the_error() {
        let cases: Vec<(Value, &str)> = vec![
            (
                with(birth_rule(), "colour", json!(1)),
                "rules[0]: unknown field `colour`",
            ),
            (with(birth_rule(), "id", json!("Birth")), "rules[0].id"),
            (
                with(
                    birth_rule(),
                    "matter",
                    json!("11100000000013338W3119999999999"),
                ),
                "rules[0].matter",
            ),
            (
                with(birth_rule(), "on", json!({"event": "colour_changed"})),
                "rules[0].on.event",
            ),
            (
                with(birth_rule(), "on", json!({})),
                "rules[0].on: exactly one",
            ),
            (
                with(
                    birth_rule(),
                    "on",
                    json!({"event": "birth_registered", "age": {"years": 60}}),
                ),
                "rules[0].on: exactly one",
            ),
            (
                with(
                    birth_rule(),
                    "on",
                    json!({"event": "birth_registered", "where": [{"field": "child_name", "equals": "x"}]}),
                ),
                "rules[0].on.where[0].field: `child_name` is not a field of birth_registered",
            ),
            (
                with(
                    birth_rule(),
                    "on",
                    json!({"event": "birth_registered", "where": [{"field": "child_sex", "in": ["male", "boy"]}]}),
                ),
                "rules[0].on.where[0].in[1]",
            ),
            (
                with(birth_rule(), "on", json!({"age": {"years": 200}})),
                "rules[0].on.age",
            ),
            (
                with(
                    birth_rule(),
                    "on",
                    json!({"licence_expiry": {"licence_type": "11100000000013338W011", "days_before": [30, 30]}}),
                ),
                "rules[0].on.licence_expiry.days_before",
            ),
            (
                with(
                    with(birth_rule(), "required_by_law", json!(false)),
                    "if",
                    json!({"age_min": 70, "age_max": 60}),
                ),
                "rules[0].if.age_min",
            ),
            (
                with(
                    with(birth_rule(), "required_by_law", json!(false)),
                    "if",
                    json!({"holds": ["11100000000013338W011"], "lacks": ["11100000000013338W011"]}),
                ),
                "rules[0].if.lacks",
            ),
            (
                with(birth_rule(), "if", json!({"age_min": 18})),
                "rules[0].if: a rule required by law",
            ),
            (
                with(
                    birth_rule(),
                    "window",
                    json!({"from": "2027-01-01", "until": "2026-01-01"}),
                ),
                "rules[0].window",
            ),
            (
                with(birth_rule(), "window", json!({"from": "2027-02-30"})),
                "rules[0].window.from",
            ),
            (
                with(birth_rule(), "priority", json!(101)),
                "rules[0].priority",
            ),
            (
                with(birth_rule(), "action", json!("grant")),
                "rules[0].action: grant needs",
            ),
            (
                with(birth_rule(), "reason", json!({"zh": "", "en": "x"})),
                "rules[0].reason.zh",
            ),
            (
                with(birth_rule(), "after", json!(["nothing"])),
                "rules[0].after[0]",
            ),
        ];
        for (rule, expected) in cases {
            let e = err(json!([rule]));
            assert!(
                e.to_string().starts_with(expected),
                "{e} (expected {expected})"
            );
        }
        // Across rules: duplicate ids, cycles, conflicts.
        let e = err(json!([birth_rule(), birth_rule()]));
        assert_eq!(e.path, "rules[1].id");
        let a = with(with(birth_rule(), "id", json!("a")), "after", json!(["c"]));
        let b = with(with(birth_rule(), "id", json!("b")), "after", json!(["a"]));
        let c = with(with(birth_rule(), "id", json!("c")), "after", json!(["b"]));
        let e = err(json!([a, b, c]));
        assert!(e.message.contains("cycle: a → c → b → a"), "{e}");
        let own = with(
            with(birth_rule(), "id", json!("own")),
            "after",
            json!(["own"]),
        );
        assert!(err(json!([own])).message.contains("cycle"));
        let subsidy = |id: &str, action: &str| {
            json!({"id": id, "matter": SUBSIDY, "on": {"event": "birth_registered"}, "action": action,
                "reason": {"zh": "育儿补贴", "en": "Childcare subsidy"}})
        };
        let e = err(json!([subsidy("x", "grant"), subsidy("y", "offer")]));
        assert!(e.message.contains("automatic"), "{e}");
        assert_eq!(e.path, "rules[1].action");
        // Not a document at all.
        assert_eq!(RuleSet::load("[]", &catalog).unwrap_err().path, "");
        assert_eq!(
            RuleSet::load(r#"{"rules": [], "x": 1}"#, &catalog)
                .unwrap_err()
                .path,
            ""
        );
    }

    #[test]
    fn two_rules_disagreeing_on_offer_or_grant_conflict() {
        // The catalog would refuse this pair through delivery, so use an
        // online matter and an automatic one with one code each.
        let both = |code: &str| match code {
            BIRTH => Some(MatterInfo {
                life_event: "birth".into(),
                delivery: "online".into(),
            }),
            _ => None,
        };
        let offer = birth_rule();
        let set = RuleSet::load(&json!({"rules": [offer]}).to_string(), &both);
        assert!(set.is_ok());
        let mut rules = set.unwrap().rules;
        let mut grant = rules[0].clone();
        grant.id = "grant".into();
        grant.action = Action::Grant;
        rules.push(grant);
        let e = check_conflicts(&rules).unwrap_err();
        assert_eq!(e.path, "rules[1]");
        assert!(e.message.contains("conflicts with rules[0]"), "{e}");
    }
}
