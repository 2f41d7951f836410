//! The matcher: turns pending events into recommendations and pushes. Any
//! number of processes may run one. A batch is one transaction: it claims
//! pending events from the queue `pending_events` (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL; SQLite's writer turn), loads the citizens' profiles,
//! settings, licences and history in a few queries, matches each event
//! against the rule set in force, stores each recommendation (unique per
//! citizen, rule and event, so an event is offered once however it is
//! retried), queues one notification per citizen through the push pipeline
//! (template `service.recommended`, `service.granted` for 免申即领, or
//! `service.several`; caps, opt-outs and quiet hours apply there) and
//! deletes the events from the queue. A process killed mid-batch rolls the
//! batch back; another takes the events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::Row;
use tokio::sync::Notify;

use super::rules::{Action, Citizen, History, MatterInfo, Rule, RuleSet};
use crate::config::PushSettings;
use crate::db::{Backend, Db, Params};
use crate::error::ApiError;
use crate::push::now_ms;
use crate::push::send::{AccountSend, Send, enqueue_accounts, today_in_china};
use crate::push::templates;

/// Events per batch. On SQLite a batch's cost is mostly the B-tree pages it
/// dirties, and inserts keyed by citizen dirty a page each until most pages
/// of the index are dirty: 1,000 events per batch matched about a quarter
/// more per second on warm tables than 500, and 2,000 starved the posting of events
/// of the writer turn (docs/performance.md).
pub const BATCH: i64 = 1000;

/// Counts of one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchReport {
    pub events: usize,
    pub recommendations: usize,
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) db: Db,
    pub(super) push: PushSettings,
    pub(super) push_wake: Arc<Notify>,
    /// The compiled rule set and its version, reloaded when a new one is
    /// published.
    rules: Mutex<Option<Compiled>>,
}

#[derive(Debug, Clone)]
pub(super) struct Compiled {
    version: i64,
    pub(super) set: Arc<RuleSet>,
    /// Matters retired since the set was published: their rules are skipped.
    pub(super) retired: Arc<HashSet<String>>,
    names: Arc<HashMap<String, (String, String)>>,
}

impl Matcher {
    pub fn new(db: Db, push: PushSettings, push_wake: Arc<Notify>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                push,
                push_wake,
                rules: Mutex::new(None),
            }),
        }
    }

    /// Runs until `shutdown`: a batch after another while there are pending
    /// events, else waits for `wake` or `poll`; and the daily scan
    /// ([`super::schedule`]).
    pub async fn run(
        self,
        wake: Arc<Notify>,
        poll: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        // The daily scan is tried once a minute: after the day's run is
        // done (here or elsewhere) the try is one conflicting insert.
        let mut next_scan = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_scan {
                next_scan += Duration::from_secs(60);
                if let Err(e) = self.scan_day(today_in_china()).await {
                    tracing::warn!(error = %e.message, "daily scan failed");
                }
            }
            let waiting = wake.notified();
            let outcome = tokio::select! {
                () = &mut shutdown => break,
                outcome = self.run_once() => outcome,
            };
            match outcome {
                Ok(report) if report.events > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.message, "event matching batch failed"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = waiting => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// The rule set in force, compiled (cached by version).
    pub(super) async fn rules(&self) -> Result<Option<Compiled>, ApiError> {
        let db = &self.inner.db;
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM rule_sets")
            .fetch_one(db.pool())
            .await?;
        let Some(version) = version else {
            return Ok(None);
        };
        if let Ok(cached) = self.inner.rules.lock()
            && let Some(compiled) = cached.as_ref()
            && compiled.version == version
        {
            return Ok(Some(compiled.clone()));
        }
        let document: String =
            sqlx::query_scalar("SELECT document FROM rule_sets WHERE version = $1")
                .bind(version)
                .fetch_one(db.pool())
                .await?;
        // Against every matter, retired or not: a set valid when published
        // stays loadable; rules of retired matters are skipped when matching.
        let rows = sqlx::query(
            "SELECT code, name_zh, name_en, life_event, delivery, retired_ms FROM matters",
        )
        .fetch_all(db.pool())
        .await?;
        let mut matters = HashMap::new();
        let mut retired = HashSet::new();
        let mut names = HashMap::new();
        for row in &rows {
            let code: String = row.try_get("code")?;
            if row.try_get::<Option<i64>, _>("retired_ms")?.is_some() {
                retired.insert(code.clone());
            }
            names.insert(
                code.clone(),
                (row.try_get("name_zh")?, row.try_get("name_en")?),
            );
            matters.insert(
                code,
                MatterInfo {
                    life_event: row.try_get("life_event")?,
                    delivery: row.try_get("delivery")?,
                },
            );
        }
        let set = RuleSet::load(&document, &|code| matters.get(code).cloned())
            .map_err(|e| ApiError::internal(format!("rule set {version} no longer loads: {e}")))?;
        let compiled = Compiled {
            version,
            set: Arc::new(set),
            retired: Arc::new(retired),
            names: Arc::new(names),
        };
        if let Ok(mut cached) = self.inner.rules.lock() {
            *cached = Some(compiled.clone());
        }
        Ok(Some(compiled))
    }

    /// Matches one batch of pending events.
    pub async fn run_once(&self) -> Result<MatchReport, ApiError> {
        let Some(rules) = self.rules().await? else {
            return Ok(MatchReport::default());
        };
        let templates = Templates::load(&self.inner.db).await?;
        let db = &self.inner.db;
        let started = std::time::Instant::now();
        let mut write = db.begin_write().await?;
        let tx = &mut write.tx;
        let lock = match db.backend() {
            Backend::Postgres => "FOR UPDATE OF q SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT e.id, e.network_id, e.event_type, e.data FROM pending_events q \
             JOIN events e ON e.id = q.id ORDER BY q.id LIMIT {BATCH} {lock}"
        );
        let events = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut **tx)
            .await?;
        if events.is_empty() {
            return Ok(MatchReport::default());
        }
        let mut citizens: Vec<String> = Vec::new();
        for row in &events {
            let id: String = row.try_get("network_id")?;
            if !citizens.contains(&id) {
                citizens.push(id);
            }
        }
        let claimed = started.elapsed();
        let mut profiles = load_profiles(tx, &citizens).await?;
        let loaded = started.elapsed();
        let today = today_in_china();
        let now = now_ms();
        let mut report = MatchReport {
            events: events.len(),
            ..MatchReport::default()
        };
        let mut ids = Vec::with_capacity(events.len());
        let mut pending = Vec::new();
        for row in &events {
            let event_id: i64 = row.try_get("id")?;
            ids.push(event_id);
            let network_id: String = row.try_get("network_id")?;
            let event_type: String = row.try_get("event_type")?;
            let data: String = row.try_get("data")?;
            let data: Map<String, Value> = serde_json::from_str(&data).unwrap_or_default();
            let Some(profile) = profiles.get_mut(&network_id) else {
                continue;
            };
            let fired: Vec<Rule> = {
                let citizen = profile.citizen();
                rules
                    .set
                    .match_event(&event_type, &data, &citizen, &profile.history, now, today)
                    .into_iter()
                    .filter(|rule| !rules.retired.contains(&rule.matter))
                    .cloned()
                    .collect()
            };
            for rule in fired {
                profile.history.fired(&rule, now);
                pending.push(Due {
                    network_id: network_id.clone(),
                    rule,
                    source: format!("event:{event_id}"),
                });
            }
        }
        let matched = started.elapsed();
        report.recommendations =
            record_all(tx, &self.inner.push, &rules, &templates, &pending, now).await?;
        let recorded = started.elapsed();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "DELETE FROM pending_events WHERE id IN ({})",
                chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut **tx)
                .await?;
        }
        write.tx.commit().await?;
        // Where a batch's time goes (docs/performance.md).
        tracing::debug!(
            events = report.events,
            recommendations = report.recommendations,
            claim_ms = claimed.as_millis() as u64,
            profiles_ms = (loaded - claimed).as_millis() as u64,
            match_ms = (matched - loaded).as_millis() as u64,
            record_ms = (recorded - matched).as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "matcher batch"
        );
        if report.recommendations > 0 {
            self.inner.push_wake.notify_waiters();
        }
        Ok(report)
    }
}

/// The templates of the matcher's notifications.
#[derive(Debug)]
pub(super) struct Templates {
    /// One offer: `service.recommended` (matter and reason).
    recommended: templates::Template,
    /// One 免申即领 grant: `service.granted` (matter and reason).
    granted: templates::Template,
    /// Several recommendations for one citizen in one batch:
    /// `service.several` (the first matter, the count, the list).
    several: templates::Template,
}

impl Templates {
    pub(super) async fn load(db: &Db) -> Result<Self, ApiError> {
        let one = |id: &'static str| async move {
            templates::load(db.pool(), id, None)
                .await?
                .ok_or_else(|| ApiError::internal(format!("template {id} is missing")))
        };
        Ok(Self {
            recommended: one("service.recommended").await?,
            granted: one("service.granted").await?,
            several: one("service.several").await?,
        })
    }
}

/// A rule fired for a citizen on one occurrence, to be recorded.
#[derive(Debug)]
pub(super) struct Due {
    pub(super) network_id: String,
    pub(super) rule: Rule,
    pub(super) source: String,
}

/// Longest list of matters in a `service.several` notice, in characters
/// (a template parameter holds at most 500).
const LIST_CHARS: usize = 400;

/// Stores the recommendations (those not recorded before: unique per
/// citizen, rule and source) a few statements per
/// [`Backend::rows_per_statement`] rows, and queues one notification per
/// citizen for the new ones: the matter and its reason when there is one,
/// else the list (`service.several`). A birth registration that offers
/// 出生一件事 and grants the childcare subsidy is one push, not two: vendors
/// allow a device a few pushes a day, and the daily cap counts each.
/// Returns how many recommendations were new.
pub(super) async fn record_all(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    push: &PushSettings,
    rules: &Compiled,
    templates: &Templates,
    due: &[Due],
    now: i64,
) -> Result<usize, ApiError> {
    let backend = Backend::of(tx);
    // One notification id per citizen, given to each of their rows.
    let mut ids: HashMap<&str, String> = HashMap::new();
    for d in due {
        if !ids.contains_key(d.network_id.as_str()) {
            ids.insert(&d.network_id, crate::push::new_notification_id()?);
        }
    }
    let mut inserted: HashSet<(String, String, String)> = HashSet::new();
    for chunk in due.chunks(backend.rows_per_statement(10)) {
        let mut params = Params::new(backend);
        let rows: Vec<String> = (0..chunk.len())
            .map(|_| format!("({}, 'active')", params.list(10)))
            .collect();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO recommendations (network_id, matter_code, rule_id, action, priority, \
             reason_zh, reason_en, source, notification_id, created_ms, status) VALUES {} \
             ON CONFLICT (network_id, rule_id, source) DO NOTHING \
             RETURNING network_id, rule_id, source",
            rows.join(", ")
        )));
        for d in chunk {
            query = query
                .bind(d.network_id.as_str())
                .bind(d.rule.matter.as_str())
                .bind(d.rule.id.as_str())
                .bind(d.rule.action.as_str())
                .bind(i64::from(d.rule.priority))
                .bind(d.rule.reason.zh.as_str())
                .bind(d.rule.reason.en.as_str())
                .bind(d.source.as_str())
                .bind(ids[d.network_id.as_str()].as_str())
                .bind(now);
        }
        for row in query.fetch_all(&mut **tx).await? {
            inserted.insert((
                row.try_get("network_id")?,
                row.try_get("rule_id")?,
                row.try_get("source")?,
            ));
        }
    }
    // The new ones per citizen, in the order of `due` (by priority within
    // an occurrence).
    let mut order: Vec<&str> = Vec::new();
    let mut new: HashMap<&str, Vec<&Due>> = HashMap::new();
    for d in due {
        let key = (d.network_id.clone(), d.rule.id.clone(), d.source.clone());
        if !inserted.contains(&key) {
            continue;
        }
        let list = new.entry(&d.network_id).or_default();
        if list.is_empty() {
            order.push(&d.network_id);
        }
        list.push(d);
    }
    let mut sends = Vec::with_capacity(order.len());
    for network_id in order {
        let list = &new[network_id];
        let (template, params) = notice(rules, templates, list);
        templates::check_params(&template, &params)?;
        sends.push(AccountSend {
            id: ids[network_id].clone(),
            network_id: network_id.to_owned(),
            send: Send::to_account(network_id, template, params),
            idempotency_key: None,
            request_hash: String::new(),
        });
    }
    enqueue_accounts(tx, push, "recommendations", &sends).await?;
    Ok(inserted.len())
}

/// The notice of one citizen's new recommendations (at least one).
fn notice(
    rules: &Compiled,
    templates: &Templates,
    list: &[&Due],
) -> (templates::Template, BTreeMap<String, String>) {
    let names = |d: &Due| {
        rules
            .names
            .get(&d.rule.matter)
            .cloned()
            .unwrap_or_else(|| (d.rule.matter.clone(), d.rule.matter.clone()))
    };
    if let [d] = list {
        let (name_zh, name_en) = names(d);
        let template = match d.rule.action {
            Action::Offer => templates.recommended.clone(),
            Action::Grant => templates.granted.clone(),
        };
        let params = BTreeMap::from([
            ("matter_zh".to_owned(), name_zh),
            ("matter_en".to_owned(), name_en),
            ("reason_zh".to_owned(), d.rule.reason.zh.clone()),
            ("reason_en".to_owned(), d.rule.reason.en.clone()),
        ]);
        return (template, params);
    }
    let (first_zh, first_en) = names(list[0]);
    let (mut list_zh, mut list_en) = (String::new(), String::new());
    for d in list {
        let (name_zh, name_en) = names(d);
        let (zh, en) = match d.rule.action {
            Action::Offer => (
                format!("为您推荐：{name_zh}"),
                format!("Suggested: {name_en}"),
            ),
            Action::Grant => (
                format!("已为您办理：{name_zh}"),
                format!("Granted: {name_en}"),
            ),
        };
        if list_zh.chars().count() + zh.chars().count() > LIST_CHARS
            || list_en.chars().count() + en.chars().count() > LIST_CHARS
        {
            list_zh.push_str("；…");
            list_en.push_str("; …");
            break;
        }
        if !list_zh.is_empty() {
            list_zh.push('；');
            list_en.push_str("; ");
        }
        list_zh.push_str(&zh);
        list_en.push_str(&en);
    }
    let params = BTreeMap::from([
        ("first_zh".to_owned(), first_zh),
        ("first_en".to_owned(), first_en),
        ("count".to_owned(), list.len().to_string()),
        ("more".to_owned(), (list.len() - 1).to_string()),
        ("list_zh".to_owned(), list_zh),
        ("list_en".to_owned(), list_en),
    ]);
    (templates.several.clone(), params)
}

/// What matching needs of one citizen.
#[derive(Debug, Default)]
pub(super) struct Profile {
    birth_date: Option<i64>,
    region_code: Option<String>,
    licences: Vec<String>,
    consent: bool,
    opted_out: Vec<String>,
    pub(super) history: Past,
}

impl Profile {
    pub(super) fn citizen(&self) -> Citizen<'_> {
        Citizen {
            birth_date: self.birth_date,
            region_code: self.region_code.as_deref(),
            licences: &self.licences,
            consent: self.consent,
            opted_out: &self.opted_out,
        }
    }
}

/// A citizen's past recommendations: last time per matter, rules fired.
#[derive(Debug, Default)]
pub(super) struct Past {
    last: HashMap<String, i64>,
    rules: HashSet<String>,
}

impl Past {
    pub(super) fn fired(&mut self, rule: &Rule, at: i64) {
        let last = self.last.entry(rule.matter.clone()).or_insert(at);
        *last = (*last).max(at);
        self.rules.insert(rule.id.clone());
    }
}

impl History for Past {
    fn last_recommended(&self, matter: &str) -> Option<i64> {
        self.last.get(matter).copied()
    }
    fn has_fired(&self, rule_id: &str) -> bool {
        self.rules.contains(rule_id)
    }
}

/// Profiles of `citizens` (accounts that exist), in five queries per 200.
pub(super) async fn load_profiles(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    citizens: &[String],
) -> Result<HashMap<String, Profile>, ApiError> {
    let mut profiles: HashMap<String, Profile> = HashMap::new();
    let backend = Backend::of(tx);
    for chunk in citizens.chunks(backend.rows_per_statement(1)) {
        let list = Params::new(backend).list(chunk.len());
        let query = |sql: String| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.as_str());
            }
            q
        };
        for row in query(format!(
            "SELECT network_id, birth_date, region_code FROM accounts WHERE network_id IN ({list})"
        ))
        .fetch_all(&mut **tx)
        .await?
        {
            profiles.insert(
                row.try_get("network_id")?,
                Profile {
                    birth_date: row.try_get("birth_date")?,
                    region_code: row.try_get("region_code")?,
                    ..Profile::default()
                },
            );
        }
        for row in query(format!(
            "SELECT network_id, profile_consent, opted_out FROM recommendation_settings \
             WHERE network_id IN ({list})"
        ))
        .fetch_all(&mut **tx)
        .await?
        {
            let id: String = row.try_get("network_id")?;
            if let Some(p) = profiles.get_mut(&id) {
                p.consent = row.try_get::<i64, _>("profile_consent")? == 1;
                let opted: String = row.try_get("opted_out")?;
                p.opted_out = opted
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        // Licences held: the library's active ones, and those another
        // library's issue was reported for as an event.
        for row in query(format!(
            "SELECT network_id, type_code FROM licences WHERE status = 'active' \
             AND network_id IN ({list})"
        ))
        .fetch_all(&mut **tx)
        .await?
        {
            let id: String = row.try_get("network_id")?;
            let licence: String = row.try_get("type_code")?;
            if let Some(p) = profiles.get_mut(&id)
                && !p.licences.contains(&licence)
            {
                p.licences.push(licence);
            }
        }
        for row in query(format!(
            "SELECT network_id, data FROM events WHERE event_type = 'licence_issued' \
             AND source <> 'library' AND network_id IN ({list})"
        ))
        .fetch_all(&mut **tx)
        .await?
        {
            let id: String = row.try_get("network_id")?;
            let data: String = row.try_get("data")?;
            let licence = serde_json::from_str::<Value>(&data)
                .ok()
                .and_then(|d| d["licence_type"].as_str().map(str::to_owned));
            if let (Some(p), Some(licence)) = (profiles.get_mut(&id), licence)
                && !p.licences.contains(&licence)
            {
                p.licences.push(licence);
            }
        }
        for row in query(format!(
            "SELECT network_id, matter_code, rule_id, MAX(created_ms) AS last FROM recommendations \
             WHERE network_id IN ({list}) GROUP BY network_id, matter_code, rule_id"
        ))
        .fetch_all(&mut **tx)
        .await?
        {
            let id: String = row.try_get("network_id")?;
            if let Some(p) = profiles.get_mut(&id) {
                let matter: String = row.try_get("matter_code")?;
                let last: i64 = row.try_get("last")?;
                let entry = p.history.last.entry(matter).or_insert(last);
                *entry = (*entry).max(last);
                p.history.rules.insert(row.try_get("rule_id")?);
            }
        }
    }
    Ok(profiles)
}
