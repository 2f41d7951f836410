//! Scheduled triggers: the daily scan for age milestones (`on.age`) and
//! licence expiry windows (`on.licence_expiry`), then the drafts job
//! (expiry reminders, deletion: [`crate::applications::drafts::remind_and_expire`])
//! and the library's expiry job ([`crate::library::licences::expiry_notices`]).
//!
//! Once per day (Asia/Shanghai) one process runs the scan: it claims the
//! day in `schedule_runs` (an insert only one process wins, or taking over a
//! run whose lease has passed). Each occurrence has a source — `age:<years>`
//! once in a life, `expiry:<event id>:<days>` per licence and threshold — and
//! recommendations are unique per citizen, rule and source, so an occurrence
//! is offered exactly once however often the scan runs or is taken over.
//!
//! - Age: the citizens whose `years`-th birthday is between `days_before`
//!   days ahead and [`GRACE_DAYS`] ago (an index range on the birth date).
//! - Expiry: licences reported with `valid_until` (`licence_issued` events);
//!   of a rule's thresholds (e.g. 90, 30, 7 days), the smallest one not below
//!   the days left fires, so a missed day still reminds once per threshold.

use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::Value;
use sqlx::Row;

use super::rules::Trigger;
use super::worker::{Due, Matcher, Templates, load_profiles, record_all};
use crate::error::ApiError;
use crate::push::now_ms;

/// How long after a birthday its offer is still made (a scan missed).
pub const GRACE_DAYS: i64 = 30;
/// How long a scan may run before another process takes it over.
pub const LEASE_MS: i64 = 10 * 60 * 1000;
/// Citizens per transaction.
const CHUNK: usize = 500;

/// What one day's scan did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Whether this process ran it (false: done or running elsewhere).
    pub ran: bool,
    pub candidates: usize,
    pub recommendations: usize,
    /// Drafts reminded of their expiry, and expired drafts deleted.
    pub drafts: crate::applications::drafts::DraftSweep,
    /// Library licences whose holders were reminded of their end (and
    /// `licence_expiring` events made).
    pub licences_expiring: usize,
}

fn number(date: Date) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

fn date(number: i64) -> Option<Date> {
    Date::new(
        i16::try_from(number / 10_000).ok()?,
        i8::try_from(number / 100 % 100).ok()?,
        i8::try_from(number % 100).ok()?,
    )
    .ok()
}

impl Matcher {
    /// Runs the scan for `today` (`YYYYMMDD`) unless it ran or is running.
    pub async fn scan_day(&self, today: i64) -> Result<ScanReport, ApiError> {
        let db = &self.inner.db;
        let owner = format!("scan-{}", crate::auth::random_token(6)?);
        let now = now_ms();
        let claimed = sqlx::query(
            "INSERT INTO schedule_runs (job, day, owner, lease_until_ms) VALUES ('daily', $1, $2, $3) \
             ON CONFLICT (job, day) DO NOTHING",
        )
        .bind(today)
        .bind(&owner)
        .bind(now + LEASE_MS)
        .execute(db.pool())
        .await?
        .rows_affected()
            == 1
            || sqlx::query(
                "UPDATE schedule_runs SET owner = $1, lease_until_ms = $2 \
                 WHERE job = 'daily' AND day = $3 AND done_ms IS NULL AND lease_until_ms < $4",
            )
            .bind(&owner)
            .bind(now + LEASE_MS)
            .bind(today)
            .bind(now)
            .execute(db.pool())
            .await?
            .rows_affected()
                == 1;
        if !claimed {
            return Ok(ScanReport::default());
        }
        let mut report = self.scan(today).await?;
        report.drafts =
            crate::applications::drafts::remind_and_expire(db, &self.inner.push, now_ms()).await?;
        report.licences_expiring =
            crate::library::licences::expiry_notices(db, &self.inner.push, today, now_ms()).await?;
        sqlx::query(
            "UPDATE schedule_runs SET done_ms = $1, recommendations = $2 \
             WHERE job = 'daily' AND day = $3 AND owner = $4",
        )
        .bind(now_ms())
        .bind(report.recommendations as i64)
        .bind(today)
        .bind(&owner)
        .execute(db.pool())
        .await?;
        tracing::info!(
            day = today,
            candidates = report.candidates,
            recommendations = report.recommendations,
            drafts_reminded = report.drafts.reminded,
            drafts_expired = report.drafts.expired,
            licences_expiring = report.licences_expiring,
            "daily scan done"
        );
        Ok(report)
    }

    /// The scan itself, without the claim (tests and benchmarks call it).
    pub async fn scan(&self, today: i64) -> Result<ScanReport, ApiError> {
        let mut report = ScanReport {
            ran: true,
            ..ScanReport::default()
        };
        let Some(rules) = self.rules().await? else {
            return Ok(report);
        };
        let Some(day) = date(today) else {
            return Err(ApiError::internal("scan day is not a date"));
        };
        let db = &self.inner.db;
        // (rule index, source) per citizen.
        let mut due: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        for (i, rule) in rules.set.rules().iter().enumerate() {
            if rules.retired.contains(&rule.matter) {
                continue;
            }
            match &rule.trigger {
                Trigger::Age { years, days_before } => {
                    let years = i16::try_from(*years).unwrap_or(i16::MAX);
                    let span = |d: i64| -> Result<i64, ApiError> {
                        let date = day
                            .checked_add(d.days())
                            .and_then(|d| d.checked_sub(years.years()))
                            .map_err(ApiError::internal)?;
                        Ok(number(date))
                    };
                    let (earliest, latest) = (span(-GRACE_DAYS)?, span(i64::from(*days_before))?);
                    let ids: Vec<String> = sqlx::query_scalar(
                        "SELECT network_id FROM accounts WHERE birth_date >= $1 AND birth_date <= $2",
                    )
                    .bind(earliest)
                    .bind(latest)
                    .fetch_all(db.pool())
                    .await?;
                    for id in ids {
                        due.entry(id).or_default().push((i, format!("age:{years}")));
                    }
                }
                Trigger::LicenceExpiry {
                    licence_type,
                    days_before,
                } => {
                    // Canonical data JSON (sorted keys): a LIKE narrows, the parse decides.
                    let rows = sqlx::query(
                        "SELECT id, network_id, data FROM events WHERE event_type = 'licence_issued' \
                         AND data LIKE $1",
                    )
                    .bind(format!("%\"licence_type\":\"{licence_type}\"%"))
                    .fetch_all(db.pool())
                    .await?;
                    for row in rows {
                        let data: String = row.try_get("data")?;
                        let data: Value = serde_json::from_str(&data).unwrap_or_default();
                        let Some(until) = data["valid_until"]
                            .as_str()
                            .and_then(|d| Date::strptime("%Y-%m-%d", d).ok())
                        else {
                            continue;
                        };
                        // Whole days from today to the expiry (a span of dates is in days).
                        let left =
                            i64::from(day.until(until).map_err(ApiError::internal)?.get_days());
                        if left < 0 {
                            continue;
                        }
                        // Thresholds are sorted from the largest: the last one ≥ left.
                        let Some(threshold) =
                            days_before.iter().rev().find(|&&d| i64::from(d) >= left)
                        else {
                            continue;
                        };
                        let event_id: i64 = row.try_get("id")?;
                        let network_id: String = row.try_get("network_id")?;
                        due.entry(network_id)
                            .or_default()
                            .push((i, format!("expiry:{event_id}:{threshold}")));
                    }
                }
                Trigger::Event { .. } => {}
            }
        }
        report.candidates = due.len();
        let templates = Templates::load(db).await?;
        let citizens: Vec<String> = due.keys().cloned().collect();
        let now = now_ms();
        for chunk in citizens.chunks(CHUNK) {
            let mut write = db.begin_write().await?;
            let tx = &mut write.tx;
            let mut profiles = load_profiles(tx, chunk).await?;
            let mut pending = Vec::new();
            for network_id in chunk {
                let Some(profile) = profiles.get_mut(network_id) else {
                    continue;
                };
                for (i, source) in &due[network_id] {
                    let rule = &rules.set.rules()[*i];
                    let applies = {
                        let citizen = profile.citizen();
                        rules
                            .set
                            .applies(rule, &citizen, &profile.history, now, today)
                    };
                    if applies {
                        profile.history.fired(rule, now);
                        pending.push(Due {
                            network_id: network_id.clone(),
                            rule: rule.clone(),
                            source: source.clone(),
                        });
                    }
                }
            }
            report.recommendations +=
                record_all(tx, &self.inner.push, &rules, &templates, &pending, now).await?;
            write.tx.commit().await?;
        }
        if report.recommendations > 0 {
            self.inner.push_wake.notify_waiters();
        }
        Ok(report)
    }
}
