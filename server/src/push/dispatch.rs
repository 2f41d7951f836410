//! The outbox dispatcher. Any number of processes may run one: each claims
//! due rows (on PostgreSQL by locking them, `FOR UPDATE SKIP LOCKED`, for
//! the batch's transaction; on SQLite, which has one writer and no row
//! locks, with a lease), sends them through the providers, and records the
//! outcome. A process that dies mid-batch leaves its rows to another (at
//! once on PostgreSQL, when the lease expires on SQLite), which sends them
//! again with the same delivery id, which the providers use to drop the
//! repeat.
//!
//! Per row: expired → failed; device gone or category turned off →
//! suppressed; in the device's quiet hours (not `security`) or outside
//! vivo's 07:00-23:00 window (campaigns) → deferred to the end of it; else
//! sent. Outcomes: delivered; retry with exponential backoff and full
//! jitter, at least the provider's `Retry-After`, until the row expires;
//! permanent → failed; dead token → failed and the device's registration
//! removed (for APNs only if the token was registered before Apple's
//! timestamp). A provider that keeps asking to retry is paused as a whole
//! (its rows are not claimed) while the others go on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Row;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use super::providers::{
    ApnsEnvironment, Category, Outcome, Priority, ProviderKind, Providers, PushRequest,
};
use super::{neutral_text, now_ms};
use crate::db::{Backend, Db};
use crate::error::ApiError;

/// Tuning of a [`Dispatcher`]; `Default` is what `yiwang serve` uses
/// unless `[push]` says otherwise.
#[derive(Clone, Debug)]
pub struct DispatchSettings {
    pub lease: Duration,
    pub batch_size: u32,
    pub poll: Duration,
    /// First retry delay (before jitter); doubles with each attempt…
    pub backoff_base: Duration,
    /// …up to this.
    pub backoff_max: Duration,
    /// Retries in a row after which a provider is paused.
    pub breaker_threshold: u32,
    /// Longest pause of a failing provider.
    pub breaker_max_pause: Duration,
    /// Concurrent claim-send-record loops in this process.
    pub loops: usize,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            batch_size: 500,
            poll: Duration::from_millis(500),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(3600),
            breaker_threshold: 20,
            breaker_max_pause: Duration::from_secs(60),
            loops: 2,
        }
    }
}

impl DispatchSettings {
    pub fn from_config(push: &crate::config::PushSettings) -> Self {
        Self {
            lease: Duration::from_secs(push.lease_secs),
            batch_size: push.batch_size,
            poll: Duration::from_millis(push.poll_ms),
            loops: push.dispatch_loops as usize,
            ..Self::default()
        }
    }
}

/// A provider's pacing: at most `concurrency` sends in flight and
/// `rate` per second, and its circuit breaker.
#[derive(Debug)]
struct Lane {
    in_flight: Arc<Semaphore>,
    interval: Duration,
    next_slot: Mutex<Instant>,
    breaker: Mutex<Breaker>,
}

#[derive(Debug, Default)]
struct Breaker {
    retries_in_a_row: u32,
    paused_until_ms: i64,
}

impl Lane {
    fn new(concurrency: usize, rate: u32) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(concurrency.max(1))),
            interval: Duration::from_secs(1) / rate.max(1),
            next_slot: Mutex::new(Instant::now()),
            breaker: Mutex::new(Breaker::default()),
        }
    }

    /// Reserves this provider's next send slot: one per `interval`.
    fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (*next).max(now);
        *next = slot + self.interval;
        slot
    }

    /// Waits for this provider's next send slot.
    async fn pace(&self) {
        let now = Instant::now();
        let slot = self.reserve(now);
        if slot > now {
            tokio::time::sleep_until(slot.into()).await;
        }
    }

    fn paused(&self, now: i64) -> bool {
        self.breaker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .paused_until_ms
            > now
    }

    fn record(&self, outcome: &Outcome, settings: &DispatchSettings, kind: ProviderKind) {
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(outcome, Outcome::Retry { .. }) {
            breaker.retries_in_a_row += 1;
            if breaker.retries_in_a_row >= settings.breaker_threshold {
                let over = breaker.retries_in_a_row - settings.breaker_threshold;
                let pause =
                    Duration::from_millis(250 << over.min(16)).min(settings.breaker_max_pause);
                breaker.paused_until_ms = now_ms() + pause.as_millis() as i64;
                tracing::warn!(
                    provider = kind.as_str(),
                    retries = breaker.retries_in_a_row,
                    pause_ms = pause.as_millis() as u64,
                    "push provider keeps failing: paused"
                );
            }
        } else {
            breaker.retries_in_a_row = 0;
            breaker.paused_until_ms = 0;
        }
    }
}

/// What happened to one claimed row.
#[derive(Debug)]
enum Step {
    Delivered,
    Defer {
        due_ms: i64,
    },
    Retry {
        due_ms: i64,
        reason: String,
    },
    Failed {
        reason: String,
    },
    Suppressed {
        reason: String,
    },
    DeadToken {
        reason: String,
        device_id: String,
        token: String,
        before_ms: Option<i64>,
    },
}

/// One claimed row with what sending it needs.
#[derive(Debug)]
struct Claimed {
    id: i64,
    notification_id: String,
    attempts: i64,
    expires_ms: i64,
    category: Category,
    priority: Priority,
    ttl_secs: i64,
    collapse_key: Option<String>,
    device: Option<Device>,
}

#[derive(Debug)]
struct Device {
    device_id: String,
    provider: ProviderKind,
    token: String,
    apns_environment: Option<ApnsEnvironment>,
    app_id: String,
    locale: String,
    time_zone: String,
    quiet: Option<(i64, i64)>,
    opted_out: String,
}

/// Counts of one batch, for tests and the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub claimed: usize,
    pub delivered: usize,
    pub deferred: usize,
    pub retried: usize,
    pub failed: usize,
    pub suppressed: usize,
}

/// A dispatcher over one database and one set of providers.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    providers: Arc<Providers>,
    worker: String,
    settings: DispatchSettings,
    lanes: HashMap<ProviderKind, Lane>,
}

impl Dispatcher {
    pub fn new(
        db: Db,
        providers: Arc<Providers>,
        settings: DispatchSettings,
    ) -> Result<Self, ApiError> {
        let mut id = [0u8; 6];
        yiwang_core::crypto::random_bytes(&mut id).map_err(ApiError::internal)?;
        let lanes = ProviderKind::ALL
            .into_iter()
            .map(|kind| {
                let (concurrency, rate) = providers.limits(kind);
                (kind, Lane::new(concurrency, rate))
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                providers,
                worker: format!("w-{}", hex::encode(id)),
                settings,
                lanes,
            }),
        })
    }

    /// This dispatcher's lease owner name.
    pub fn worker(&self) -> &str {
        &self.inner.worker
    }

    /// Runs until `shutdown` resolves: `loops` concurrent loops (so one
    /// batch's database work overlaps another's sending), each claiming one
    /// batch after another while there is work, else waiting for `wake` or
    /// the poll interval.
    pub async fn run(self, wake: Arc<Notify>, shutdown: impl std::future::Future<Output = ()>) {
        tracing::info!(worker = %self.inner.worker, loops = self.inner.settings.loops, "push dispatcher started");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut loops = JoinSet::new();
        for _ in 0..self.inner.settings.loops.max(1) {
            let this = self.clone();
            let wake = wake.clone();
            let mut stopped = stopped.clone();
            loops.spawn(async move {
                this.run_loop(wake, async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
            });
        }
        shutdown.await;
        let _ = stop.send(true);
        while loops.join_next().await.is_some() {}
        tracing::info!(worker = %self.inner.worker, "push dispatcher stopped");
    }

    async fn run_loop(&self, wake: Arc<Notify>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let waiting = wake.notified();
            let outcome = tokio::select! {
                () = &mut shutdown => break,
                outcome = self.run_once() => outcome,
            };
            match outcome {
                Ok(report) if report.claimed > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.message, "push dispatch batch failed"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = waiting => {}
                () = tokio::time::sleep(self.inner.settings.poll) => {}
            }
        }
    }

    /// Claims one batch of due rows, sends them and records the outcomes.
    ///
    /// PostgreSQL: the batch's rows stay locked (`FOR UPDATE SKIP LOCKED`)
    /// in one transaction from the claim to the recorded outcomes, so a
    /// claim writes nothing; a process that dies drops its connection and
    /// PostgreSQL releases the rows at once. SQLite has one writer and no row
    /// locks: a claim writes a lease, and the outcomes are recorded in a
    /// second write turn, so the sends do not hold the writer.
    pub async fn run_once(&self) -> Result<BatchReport, ApiError> {
        match self.inner.db.backend() {
            Backend::Postgres => {
                let mut tx = self.inner.db.pool().begin().await?;
                let claimed = self.claim_locked(&mut tx).await?;
                let (report, steps) = self.send_batch(claimed).await;
                if report.claimed > 0 {
                    self.record(&mut tx, steps, Guard::Locked).await?;
                }
                tx.commit().await?;
                Ok(report)
            }
            Backend::Sqlite => {
                let claimed = self.claim_leased().await?;
                let (report, steps) = self.send_batch(claimed).await;
                if report.claimed > 0 {
                    let mut write = self.inner.db.begin_write().await?;
                    self.record(&mut write.tx, steps, Guard::Lease).await?;
                    write.tx.commit().await?;
                }
                Ok(report)
            }
        }
    }

    async fn send_batch(&self, claimed: Vec<Claimed>) -> (BatchReport, Vec<(i64, Step)>) {
        let mut report = BatchReport {
            claimed: claimed.len(),
            ..BatchReport::default()
        };
        if claimed.is_empty() {
            return (report, Vec::new());
        }
        let steps = self.process(claimed).await;
        for (_, step) in &steps {
            match step {
                Step::Delivered => report.delivered += 1,
                Step::Defer { .. } => report.deferred += 1,
                Step::Retry { .. } => report.retried += 1,
                Step::Failed { .. } | Step::DeadToken { .. } => report.failed += 1,
                Step::Suppressed { .. } => report.suppressed += 1,
            }
        }
        (report, steps)
    }

    /// `AND provider NOT IN (…)` for the providers paused now.
    fn not_paused(&self) -> String {
        let now = now_ms();
        let paused: Vec<String> = self
            .inner
            .lanes
            .iter()
            .filter(|(_, lane)| lane.paused(now))
            // Provider names are our own constants: safe to inline.
            .map(|(kind, _)| format!("'{}'", kind.as_str()))
            .collect();
        if paused.is_empty() {
            String::new()
        } else {
            format!("AND provider NOT IN ({})", paused.join(", "))
        }
    }

    /// PostgreSQL: locks a batch of due rows in `tx` and reads them.
    async fn claim_locked(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<Vec<Claimed>, ApiError> {
        let sql = format!(
            "{CLAIMED_COLUMNS} WHERE o.id IN (\
             SELECT id FROM push_outbox WHERE status = 'queued' AND due_ms <= $1 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $1) {} \
             ORDER BY due_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
            self.not_paused()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms())
            .bind(i64::from(self.inner.settings.batch_size))
            .fetch_all(&mut **tx)
            .await?;
        rows.iter().map(claimed_from_row).collect()
    }

    /// SQLite: writes this worker's lease on a batch of due rows, then reads them.
    async fn claim_leased(&self) -> Result<Vec<Claimed>, ApiError> {
        let inner = &self.inner;
        let now = now_ms();
        let sql = format!(
            "UPDATE push_outbox SET lease_owner = $1, lease_until_ms = $2 WHERE id IN (\
             SELECT id FROM push_outbox WHERE status = 'queued' AND due_ms <= $3 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $3) {} \
             ORDER BY due_ms LIMIT $4) RETURNING id",
            self.not_paused()
        );
        let lease_until = now + inner.settings.lease.as_millis() as i64;
        let ids: Vec<i64> = {
            // The writer turn ends with this block.
            let mut write = inner.db.begin_write().await?;
            let ids = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(&inner.worker)
                .bind(lease_until)
                .bind(now)
                .bind(i64::from(inner.settings.batch_size))
                .fetch_all(&mut *write.tx)
                .await?;
            write.tx.commit().await?;
            ids
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{CLAIMED_COLUMNS} WHERE o.id IN ({}) AND o.lease_owner = $1",
            id_list(&ids)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&inner.worker)
            .fetch_all(inner.db.pool())
            .await?;
        rows.iter().map(claimed_from_row).collect()
    }

    async fn process(&self, claimed: Vec<Claimed>) -> Vec<(i64, Step)> {
        let now = now_ms();
        let mut steps = Vec::with_capacity(claimed.len());
        let mut sends = JoinSet::new();
        for row in claimed {
            let id = row.id;
            match self.before_sending(&row, now) {
                Some(step) => steps.push((id, step)),
                None => {
                    let this = self.clone();
                    sends.spawn(async move {
                        let step = this.send(row).await;
                        (id, step)
                    });
                }
            }
        }
        while let Some(done) = sends.join_next().await {
            match done {
                Ok(step) => steps.push(step),
                // A send task panicked: its row's lease expires and it is retried.
                Err(e) => tracing::error!(error = %e, "push send task failed"),
            }
        }
        steps
    }

    /// The decision made without sending, if any.
    fn before_sending(&self, row: &Claimed, now: i64) -> Option<Step> {
        if now > row.expires_ms {
            return Some(Step::Failed {
                reason: "expired before it could be delivered".to_owned(),
            });
        }
        let Some(device) = &row.device else {
            return Some(Step::Suppressed {
                reason: "device unregistered".to_owned(),
            });
        };
        if device
            .opted_out
            .contains(&format!(",{},", row.category.as_str()))
        {
            return Some(Step::Suppressed {
                reason: "category turned off by the citizen".to_owned(),
            });
        }
        if let Some(lane) = self.inner.lanes.get(&device.provider) {
            if lane.paused(now) {
                return Some(Step::Defer { due_ms: now + 1000 });
            }
        }
        let tz = jiff::tz::TimeZone::get(&device.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        if row.category != Category::Security {
            if let Some((start, end)) = device.quiet {
                if let Some(due_ms) = window_end(now, &tz, start, end) {
                    return Some(Step::Defer { due_ms });
                }
            }
            // vivo sends operational (marketing) messages only 07:00-23:00.
            if device.provider == ProviderKind::Vivo && row.category == Category::Campaign {
                if let Some(due_ms) = window_end(now, &tz, 23 * 60, 7 * 60) {
                    return Some(Step::Defer { due_ms });
                }
            }
        }
        None
    }

    async fn send(&self, row: Claimed) -> Step {
        let Some(device) = row.device else {
            return Step::Suppressed {
                reason: "device unregistered".to_owned(),
            };
        };
        let inner = &self.inner;
        let (title, body) = neutral_text(row.category, &device.locale);
        let request = PushRequest {
            delivery_id: format!("{}-{}", row.notification_id, row.id),
            message_id: row.notification_id.clone(),
            token: device.token.clone(),
            apns_environment: device.apns_environment,
            app_id: device.app_id.clone(),
            category: row.category,
            priority: row.priority,
            ttl_secs: u32::try_from(row.ttl_secs).unwrap_or(86_400),
            collapse_key: row.collapse_key.clone(),
            title: title.to_owned(),
            body: body.to_owned(),
        };
        let outcome = match inner.lanes.get(&device.provider) {
            Some(lane) => {
                let _permit = lane.in_flight.clone().acquire_owned().await;
                lane.pace().await;
                let outcome = inner.providers.send(device.provider, &request).await;
                lane.record(&outcome, &inner.settings, device.provider);
                outcome
            }
            None => inner.providers.send(device.provider, &request).await,
        };
        match outcome {
            Outcome::Delivered => Step::Delivered,
            Outcome::Permanent { reason } => Step::Failed { reason },
            Outcome::DeadToken {
                unregistered_at_ms,
                reason,
            } => Step::DeadToken {
                reason,
                device_id: device.device_id,
                token: device.token,
                before_ms: unregistered_at_ms,
            },
            Outcome::Retry { after, reason } => {
                let now = now_ms();
                let delay = backoff(&inner.settings, row.attempts).max(after.unwrap_or_default());
                let due_ms = now + delay.as_millis() as i64;
                if due_ms > row.expires_ms {
                    Step::Failed {
                        reason: format!("gave up: {reason}"),
                    }
                } else {
                    Step::Retry { due_ms, reason }
                }
            }
        }
    }

    /// Writes the outcomes of a batch in `tx`. Under a lease, rows whose
    /// lease this worker lost meanwhile are left to their new owner.
    async fn record(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        steps: Vec<(i64, Step)>,
        guard: Guard,
    ) -> Result<(), ApiError> {
        let inner = &self.inner;
        let now = now_ms();
        let mut delivered = Vec::new();
        let mut deferred: HashMap<i64, Vec<i64>> = HashMap::new();
        for (id, step) in steps {
            match step {
                Step::Delivered => delivered.push(id),
                Step::Defer { due_ms } => deferred.entry(due_ms).or_default().push(id),
                Step::Retry { due_ms, reason } => {
                    let sql = format!(
                        "UPDATE push_outbox SET attempts = attempts + 1, sent_ms = COALESCE(sent_ms, $1), \
                         due_ms = $2, last_error = $3, lease_owner = NULL, lease_until_ms = NULL \
                         WHERE id = $4 {}",
                        guard.sql(5)
                    );
                    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(now)
                        .bind(due_ms)
                        .bind(reason)
                        .bind(id);
                    guard.bind(query, &inner.worker).execute(&mut **tx).await?;
                }
                Step::Failed { reason } => {
                    self.finish(tx, id, "failed", &reason, now, guard).await?
                }
                Step::Suppressed { reason } => {
                    self.finish(tx, id, "suppressed", &reason, now, guard)
                        .await?
                }
                Step::DeadToken {
                    reason,
                    device_id,
                    token,
                    before_ms,
                } => {
                    let reason = format!("dead token: {reason}");
                    self.finish(tx, id, "failed", &reason, now, guard).await?;
                    // APNs: forget the token only if it was registered before
                    // Apple saw it unregistered (a newer registration wins).
                    sqlx::query(
                        "DELETE FROM push_devices WHERE device_id = $1 AND token = $2 AND registered_ms < $3",
                    )
                    .bind(&device_id)
                    .bind(&token)
                    .bind(before_ms.unwrap_or(i64::MAX))
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        for chunk in delivered.chunks(500) {
            let sql = format!(
                "UPDATE push_outbox SET status = 'delivered', attempts = attempts + 1, \
                 sent_ms = COALESCE(sent_ms, $1), delivered_ms = $1, last_error = NULL, \
                 lease_owner = NULL, lease_until_ms = NULL WHERE id IN ({}) {}",
                id_list(chunk),
                guard.sql(2)
            );
            let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
            guard.bind(query, &inner.worker).execute(&mut **tx).await?;
        }
        for (due_ms, ids) in deferred {
            for chunk in ids.chunks(500) {
                let sql = format!(
                    "UPDATE push_outbox SET due_ms = $1, lease_owner = NULL, lease_until_ms = NULL \
                     WHERE id IN ({}) {}",
                    id_list(chunk),
                    guard.sql(2)
                );
                let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(due_ms);
                guard.bind(query, &inner.worker).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    async fn finish(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
        status: &str,
        reason: &str,
        now: i64,
        guard: Guard,
    ) -> Result<(), ApiError> {
        let reason: String = reason.chars().take(200).collect();
        let sql = format!(
            "UPDATE push_outbox SET status = $1, last_error = $2, sent_ms = COALESCE(sent_ms, $3), \
             lease_owner = NULL, lease_until_ms = NULL WHERE id = $4 {}",
            guard.sql(5)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status)
            .bind(reason)
            .bind(now)
            .bind(id);
        guard
            .bind(query, &self.inner.worker)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// How a batch's rows are held while they are sent.
#[derive(Clone, Copy, Debug)]
enum Guard {
    /// Row locks in the transaction that records the outcomes (PostgreSQL).
    Locked,
    /// This worker's lease: an outcome is written only while it holds it.
    Lease,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl Guard {
    /// The condition to append, its parameter numbered `n`.
    fn sql(self, n: usize) -> String {
        match self {
            Guard::Locked => String::new(),
            Guard::Lease => format!("AND lease_owner = ${n}"),
        }
    }

    fn bind<'q>(self, query: AnyQuery<'q>, worker: &'q str) -> AnyQuery<'q> {
        match self {
            Guard::Locked => query,
            Guard::Lease => query.bind(worker),
        }
    }
}

const CLAIMED_COLUMNS: &str = "SELECT o.id, o.notification_id, o.attempts, o.expires_ms, n.category, \
     n.priority, n.ttl_secs, n.collapse_key, d.device_id, d.provider, d.token, d.apns_environment, \
     d.app_id, d.locale, d.time_zone, d.quiet_start, d.quiet_end, d.opted_out \
     FROM push_outbox o JOIN notifications n ON n.id = o.notification_id \
     LEFT JOIN push_devices d ON d.device_id = o.device_id";

/// `1, 2, 3`: row ids are integers we read from the database.
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn claimed_from_row(row: &sqlx::any::AnyRow) -> Result<Claimed, ApiError> {
    let category: String = row.try_get("category")?;
    let priority: String = row.try_get("priority")?;
    let device_id: Option<String> = row.try_get("device_id")?;
    let device = match device_id {
        None => None,
        Some(device_id) => {
            let provider: String = row.try_get("provider")?;
            let environment: Option<String> = row.try_get("apns_environment")?;
            let quiet_start: Option<i64> = row.try_get("quiet_start")?;
            let quiet_end: Option<i64> = row.try_get("quiet_end")?;
            Some(Device {
                device_id,
                provider: ProviderKind::parse(&provider)
                    .ok_or_else(|| ApiError::internal("stored device has an unknown provider"))?,
                token: row.try_get("token")?,
                apns_environment: match environment.as_deref() {
                    Some("production") => Some(ApnsEnvironment::Production),
                    Some(_) => Some(ApnsEnvironment::Sandbox),
                    None => None,
                },
                app_id: row.try_get("app_id")?,
                locale: row.try_get("locale")?,
                time_zone: row.try_get("time_zone")?,
                quiet: quiet_start.zip(quiet_end),
                opted_out: row.try_get("opted_out")?,
            })
        }
    };
    Ok(Claimed {
        id: row.try_get("id")?,
        notification_id: row.try_get("notification_id")?,
        attempts: row.try_get("attempts")?,
        expires_ms: row.try_get("expires_ms")?,
        category: Category::parse(&category)
            .ok_or_else(|| ApiError::internal("stored notification has an unknown category"))?,
        priority: if priority == "high" {
            Priority::High
        } else {
            Priority::Normal
        },
        ttl_secs: row.try_get("ttl_secs")?,
        collapse_key: row.try_get("collapse_key")?,
        device,
    })
}

/// Exponential backoff with full jitter: uniform in [0, min(max, base·2ⁿ)].
fn backoff(settings: &DispatchSettings, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    let ceiling = settings
        .backoff_base
        .saturating_mul(1 << exponent)
        .min(settings.backoff_max);
    let mut random = [0u8; 8];
    let fraction = match yiwang_core::crypto::random_bytes(&mut random) {
        Ok(()) => (u64::from_le_bytes(random) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    };
    ceiling.mul_f64(fraction)
}

/// If `now` falls in the daily window `start..end` (minutes after local
/// midnight in `tz`, possibly spanning midnight), the instant it ends (ms).
pub fn window_end(now_ms: i64, tz: &jiff::tz::TimeZone, start: i64, end: i64) -> Option<i64> {
    let local = jiff::Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned(tz.clone());
    let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
    let inside = if start < end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    };
    if !inside {
        return None;
    }
    let date = local.date();
    let (hour, minute_of_hour) = (i8::try_from(end / 60).ok()?, i8::try_from(end % 60).ok()?);
    let today_end = date
        .at(hour, minute_of_hour, 0, 0)
        .to_zoned(tz.clone())
        .ok()?;
    let at = if today_end.timestamp().as_millisecond() > now_ms {
        today_end
    } else {
        date.tomorrow()
            .ok()?
            .at(hour, minute_of_hour, 0, 0)
            .to_zoned(tz.clone())
            .ok()?
    };
    Some(at.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or_default()
    }

    #[test]
    fn quiet_hours_end_at_the_local_clock_time() {
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").expect("bundled tz");
        // 23:30 in Shanghai (15:30 UTC) is inside 22:00-07:00: wait until 07:00 tomorrow.
        let end = window_end(at("2026-11-23T15:30:00Z"), &shanghai, 22 * 60, 7 * 60);
        assert_eq!(end, Some(at("2026-11-23T23:00:00Z")));
        // 03:00 local (19:00 UTC the day before): until 07:00 the same local day.
        let end = window_end(at("2026-11-22T19:00:00Z"), &shanghai, 22 * 60, 7 * 60);
        assert_eq!(end, Some(at("2026-11-22T23:00:00Z")));
        // 12:00 local: not quiet.
        assert_eq!(
            window_end(at("2026-11-23T04:00:00Z"), &shanghai, 22 * 60, 7 * 60),
            None
        );
        // A window within a day (13:00-14:00), and a DST zone.
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").expect("bundled tz");
        let end = window_end(at("2026-07-01T11:30:00Z"), &berlin, 13 * 60, 14 * 60);
        assert_eq!(end, Some(at("2026-07-01T12:00:00Z")));
    }

    #[test]
    fn a_lane_spaces_its_sends_by_its_rate() {
        let lane = Lane::new(4, 100);
        let start = Instant::now();
        let slots: Vec<Instant> = (0..50).map(|_| lane.reserve(start)).collect();
        // 100 per second: slot n is n × 10 ms after the first, whatever the callers' timing.
        assert_eq!(slots[0], start);
        assert_eq!(slots[49] - slots[0], Duration::from_millis(490));
        // Idle time is not banked: after a pause, the next slot is now.
        let later = start + Duration::from_secs(5);
        assert_eq!(lane.reserve(later), later);
        assert_eq!(lane.in_flight.available_permits(), 4);
    }

    #[test]
    fn a_provider_that_keeps_failing_is_paused_and_a_success_resumes_it() {
        let settings = DispatchSettings {
            breaker_threshold: 3,
            ..DispatchSettings::default()
        };
        let lane = Lane::new(1, 1);
        let retry = Outcome::Retry {
            after: None,
            reason: "x 500".into(),
        };
        lane.record(&retry, &settings, ProviderKind::Fcm);
        lane.record(&retry, &settings, ProviderKind::Fcm);
        assert!(!lane.paused(now_ms()));
        lane.record(&retry, &settings, ProviderKind::Fcm);
        assert!(lane.paused(now_ms()));
        // A delivered push closes the breaker.
        lane.record(&Outcome::Delivered, &settings, ProviderKind::Fcm);
        assert!(!lane.paused(now_ms()));
    }

    #[test]
    fn backoff_grows_and_stays_under_its_ceiling() {
        let settings = DispatchSettings::default();
        for attempts in 0..30 {
            let ceiling = settings
                .backoff_base
                .saturating_mul(1 << attempts.min(20))
                .min(settings.backoff_max);
            let delay = backoff(&settings, attempts);
            assert!(delay <= ceiling, "{attempts}: {delay:?} > {ceiling:?}");
        }
        // Full jitter: many draws are not all the same.
        let draws: std::collections::BTreeSet<_> = (0..20)
            .map(|_| backoff(&settings, 10).as_millis())
            .collect();
        assert!(draws.len() > 10);
    }
}
