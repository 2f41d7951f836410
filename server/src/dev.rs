//! Developer tools: synthetic data for benchmarks and load tests. Nothing
//! here runs in `yiwang serve`; `yiwang dev seed-devices` calls it.

use crate::db::Db;
use crate::error::ApiError;
use crate::push::now_ms;
use crate::push::providers::ProviderKind;

/// What [`seed_devices`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeded {
    pub accounts: u64,
    pub first: u64,
}

/// Adds `count` synthetic citizens, each signed in on one device with a push
/// registration, the providers taken in turn from `providers`. Accounts are
/// `seed-<n>` (no real person), region `region_code`, born on 1 January
/// of a year from 1940 to 2009; tokens are `seed<n>` shaped for their
/// provider (APNs: 64 hex). Quiet hours are off, so a benchmark campaign is
/// dispatched at once. Numbering continues after earlier seeds. On
/// PostgreSQL the tables are analysed afterwards.
pub async fn seed_devices(
    db: &Db,
    count: u64,
    providers: &[ProviderKind],
    region_code: &str,
) -> Result<Seeded, ApiError> {
    if providers.is_empty() {
        return Err(ApiError::internal("seed_devices: no providers"));
    }
    if region_code.len() != 6 || !region_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unprocessable("YW-4621", "region code: 6 digits"));
    }
    let first: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE network_id LIKE 'seed-%'")
            .fetch_one(db.pool())
            .await?;
    let first = first as u64;
    let at = now_ms();
    let secs = at / 1000;
    const CHUNK: u64 = 2000;
    let mut done = 0;
    while done < count {
        let n = CHUNK.min(count - done);
        let mut accounts = String::with_capacity(n as usize * 96);
        let mut devices = String::with_capacity(n as usize * 96);
        let mut pushes = String::with_capacity(n as usize * 192);
        for i in (first + done)..(first + done + n) {
            let sep = if accounts.is_empty() { "" } else { "," };
            let birth = (1940 + i % 70) * 10_000 + 101;
            let provider = providers[(i % providers.len() as u64) as usize];
            let token = match provider {
                ProviderKind::Apns => format!("{i:064x}"),
                _ => format!("seed{i:012}"),
            };
            let environment = match provider {
                ProviderKind::Apns => "'sandbox'",
                _ => "NULL",
            };
            // Generated from numbers and our constants only: safe to inline.
            accounts.push_str(&format!(
                "{sep}('seed-{i:09}', 'seed-{i:09}', 'seed', {i}, 1, {secs}, {secs}, '{region_code}', {birth})"
            ));
            devices.push_str(&format!(
                "{sep}('seed-dev-{i:09}', 'seed-fam-{i:09}', 'seed-{i:09}', 'seed', {secs}, {secs})"
            ));
            pushes.push_str(&format!(
                "{sep}('seed-dev-{i:09}', 'seed-{i:09}', '{}', '{token}', {environment}, 'cn.gov.yiwang', \
                 'zh-CN', 'Asia/Shanghai', NULL, NULL, ',', {at}, {at})",
                provider.as_str()
            ));
        }
        let mut write = db.begin_write().await?;
        let tx = &mut write.tx;
        for sql in [
            format!(
                "INSERT INTO accounts (network_id, person_key, kid, status_index, generation, created_at, \
                 updated_at, region_code, birth_date) VALUES {accounts}"
            ),
            format!(
                "INSERT INTO devices (device_id, family, network_id, name, signed_in_at, last_seen_at) \
                 VALUES {devices}"
            ),
            format!(
                "INSERT INTO push_devices (device_id, network_id, provider, token, apns_environment, app_id, \
                 locale, time_zone, quiet_start, quiet_end, opted_out, registered_ms, updated_ms) VALUES {pushes}"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut **tx)
                .await?;
        }
        write.tx.commit().await?;
        done += n;
    }
    // Statistics for the planner, as PostgreSQL's manual advises after a
    // bulk load ("Populating a Database"): autovacuum would gather them
    // only a minute or more later, and until then PostgreSQL plans lookups
    // of many citizens as scans of the whole table. SQLite's planner uses
    // the indexes without statistics.
    if db.backend() == crate::db::Backend::Postgres {
        sqlx::query("ANALYZE accounts, devices, push_devices")
            .execute(db.pool())
            .await?;
    }
    Ok(Seeded {
        accounts: count,
        first,
    })
}
