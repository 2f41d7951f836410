//! The matcher: turns pending events into recommendations and pushes. Any
//! number of processes may run one. A batch is one transaction: it claims
//! pending events (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's writer
//! turn), loads the citizens' profiles, settings, licences and history in a
//! few queries, matches each event against the rule set in force, stores
//! each recommendation (unique per citizen, rule and event, so an event is
//! offered once however it is retried), queues its notification through the
//! push pipeline (template `service.recommended`, or `service.granted` for
//! 免申即领; caps, opt-outs and quiet hours apply there) and marks the
//! events matched. A process killed mid-batch rolls the batch back; another
//! takes the events.

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
        let templates = (
            load_template(&self.inner.db, "service.recommended").await?,
            load_template(&self.inner.db, "service.granted").await?,
        );
        let db = &self.inner.db;
        let started = std::time::Instant::now();
        let mut write = db.begin_write().await?;
        let tx = &mut write.tx;
        let lock = match db.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT id, network_id, event_type, data FROM events WHERE status = 'pending' \
             ORDER BY id LIMIT {BATCH} {lock}"
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
                "UPDATE events SET status = 'matched', matched_ms = $1 WHERE id IN ({})",
                chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
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

pub(super) async fn load_template(db: &Db, id: &str) -> Result<templates::Template, ApiError> {
    templates::load(db.pool(), id, None)
        .await?
        .ok_or_else(|| ApiError::internal(format!("template {id} is missing")))
}

/// A rule fired for a citizen on one occurrence, to be recorded.
#[derive(Debug)]
pub(super) struct Due {
    pub(super) network_id: String,
    pub(super) rule: Rule,
    pub(super) source: String,
}

/// Stores the recommendations (those not recorded before: unique per
/// citizen, rule and source) and queues their notifications, a few
/// statements per [`Backend::rows_per_statement`] rows; returns how many were new.
pub(super) async fn record_all(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    push: &PushSettings,
    rules: &Compiled,
    (recommended, granted): &(templates::Template, templates::Template),
    due: &[Due],
    now: i64,
) -> Result<usize, ApiError> {
    let mut sends = Vec::new();
    let backend = Backend::of(tx);
    for chunk in due.chunks(backend.rows_per_statement(10)) {
        let mut ids = Vec::with_capacity(chunk.len());
        for _ in chunk {
            ids.push(crate::push::new_notification_id()?);
        }
        let mut params = Params::new(backend);
        let rows: Vec<String> = (0..chunk.len())
            .map(|_| format!("({}, 'active')", params.list(10)))
            .collect();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO recommendations (network_id, matter_code, rule_id, action, priority, \
             reason_zh, reason_en, source, notification_id, created_ms, status) VALUES {} \
             ON CONFLICT (network_id, rule_id, source) DO NOTHING RETURNING notification_id",
            rows.join(", ")
        )));
        for (d, id) in chunk.iter().zip(&ids) {
            query = query
                .bind(d.network_id.as_str())
                .bind(d.rule.matter.as_str())
                .bind(d.rule.id.as_str())
                .bind(d.rule.action.as_str())
                .bind(i64::from(d.rule.priority))
                .bind(d.rule.reason.zh.as_str())
                .bind(d.rule.reason.en.as_str())
                .bind(d.source.as_str())
                .bind(id.as_str())
                .bind(now);
        }
        let inserted: HashSet<String> = query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.try_get("notification_id"))
            .collect::<Result<_, _>>()?;
        for (d, id) in chunk.iter().zip(ids) {
            if !inserted.contains(&id) {
                continue;
            }
            let (name_zh, name_en) = rules
                .names
                .get(&d.rule.matter)
                .cloned()
                .unwrap_or_else(|| (d.rule.matter.clone(), d.rule.matter.clone()));
            let params = BTreeMap::from([
                ("matter_zh".to_owned(), name_zh),
                ("matter_en".to_owned(), name_en),
                ("reason_zh".to_owned(), d.rule.reason.zh.clone()),
                ("reason_en".to_owned(), d.rule.reason.en.clone()),
            ]);
            let template = match d.rule.action {
                Action::Offer => recommended.clone(),
                Action::Grant => granted.clone(),
            };
            templates::check_params(&template, &params)?;
            sends.push(AccountSend {
                id,
                network_id: d.network_id.clone(),
                send: Send::to_account(&d.network_id, template, params),
                idempotency_key: None,
                request_hash: String::new(),
            });
        }
    }
    enqueue_accounts(tx, push, "recommendations", &sends).await?;
    Ok(sends.len())
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
