//! `yiwang-scan-bench`: the daily age/expiry scan over N citizens (issue 9).
//!
//! ```text
//! yiwang-scan-bench --citizens 1000000 [--database-url postgres://…] [--day 20261105]
//! ```
//!
//! In process, on a new SQLite file (or an empty PostgreSQL database): the
//! demo catalog and demo rules, N synthetic citizens (`yiwang dev
//! seed-devices`: born on 1 January of 1940..2009, each with a device), all
//! consenting to profile matching. Then the day's scan
//! (`Matcher::scan`): citizens whose 60th birthday is within 61 days (the
//! senior card) and 80th today (the old-age allowance) — with these birth
//! dates about N/70 on 2026-11-05 — each offered once, with a notification
//! queued to their device. Measured: the scan's time, and a second scan of
//! the same day (which must offer nothing).

use std::time::Instant;

use clap::Parser;
use yiwang_server::db::Db;
use yiwang_server::push::providers::ProviderKind;
use yiwang_server::recommend::worker::Matcher;
use yiwang_server::{AppState, Config};

#[derive(Debug, Parser)]
#[command(
    name = "yiwang-scan-bench",
    about = "The daily recommendation scan over N citizens"
)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    citizens: u64,
    /// PostgreSQL database to use (must be empty); default a new SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// The scan's day, YYYYMMDD.
    #[arg(long, default_value_t = 20261105)]
    day: i64,
}

fn main() -> std::process::ExitCode {
    yiwang_e2e::bench_main("yiwang-scan-bench", run(Args::parse()))
}

async fn run(args: Args) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (url, backend) = yiwang_e2e::bench_database(dir.path(), args.database_url.clone());
    let db = Db::connect(&url).await.map_err(|e| e.to_string())?;
    let state = AppState::with_config(db.clone(), Config::default())
        .await
        .map_err(|e| e.message)?;
    let started = Instant::now();
    yiwang_server::dev::seed_devices(&db, args.citizens, &[ProviderKind::Fcm], "330106")
        .await
        .map_err(|e| e.message)?;
    sqlx::query(
        "INSERT INTO recommendation_settings (network_id, profile_consent, opted_out, updated_ms) \
         SELECT network_id, 1, ',', 0 FROM accounts",
    )
    .execute(db.pool())
    .await
    .map_err(|e| e.to_string())?;
    let seeded = started.elapsed();

    let matcher = Matcher::new(db.clone(), state.config().push.clone(), state.push_wake());
    let started = Instant::now();
    let first = matcher.scan(args.day).await.map_err(|e| e.message)?;
    let scan = started.elapsed();
    let started = Instant::now();
    let again = matcher.scan(args.day).await.map_err(|e| e.message)?;
    let rescan = started.elapsed();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recommendations")
        .fetch_one(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM push_outbox")
        .fetch_one(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{backend}: {} citizens seeded (with consent) in {:.1} s; scan of {}: {} candidates, {} recommendations, \
         {queued} pushes queued in {:.2} s; the same day again: {} new in {:.2} s; stored {stored}",
        args.citizens,
        seeded.as_secs_f64(),
        args.day,
        first.candidates,
        first.recommendations,
        scan.as_secs_f64(),
        again.recommendations,
        rescan.as_secs_f64(),
    );
    if again.recommendations != 0 || stored != first.recommendations as i64 {
        return Err("a milestone was offered twice".into());
    }
    db.close().await;
    Ok(())
}
