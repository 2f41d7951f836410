//! `yiwang-events-bench`: life events posted over HTTP and turned into
//! stored recommendations and queued pushes (issue 9).
//!
//! ```text
//! yiwang-events-bench --events 100000 [--citizens 100000] [--concurrency 8] \
//!     [--warmup 0] [--database-url postgres://…] [--yiwang PATH]
//! ```
//!
//! Seeds N citizens with a device each (`yiwang dev seed-devices`), starts
//! the release `yiwang serve` (demo catalog and rules; push dispatch off, so
//! the queued pushes stay countable), registers a department with scope
//! `events:birth_registered`, and posts one `birth_registered` event per
//! citizen in batches of 500 from `concurrency` connections. Each birth
//! fires two rules without consent (出生一件事 offered, the childcare
//! subsidy granted): two recommendations per event, in one notification
//! with one push queued.
//! With `--warmup N`, N events for other citizens are posted and matched
//! first and the database analysed, so the timed run meets tables with rows
//! and planner statistics, as a database in service has.
//! Measured: the posting rate (events accepted per second) and the rate end
//! to end (from the first post until no event is pending), with the counts
//! of recommendations and queued pushes checked. Loopback only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use yiwang_server::db::Db;

const ADMIN: &str = "bench-admin-token-0123456789";
const BATCH: usize = 500;

#[derive(Debug, Parser)]
#[command(
    name = "yiwang-events-bench",
    about = "Events over HTTP into recommendations and pushes"
)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Citizens (one event each at most: more events than citizens would
    /// meet the rules' cooldown).
    #[arg(long, default_value_t = 100_000)]
    citizens: u64,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// PostgreSQL database to use (must be empty); default a new SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// The `yiwang` binary; default the one next to this program.
    #[arg(long)]
    yiwang: Option<PathBuf>,
    /// Events for other citizens posted and matched first, followed by
    /// `ANALYZE`, so the timed run meets tables with rows and planner
    /// statistics, as a database in service has (0: start cold).
    #[arg(long, default_value_t = 0)]
    warmup: u64,
}

fn main() -> std::process::ExitCode {
    yiwang_e2e::bench_main("yiwang-events-bench", run(Args::parse()))
}

async fn run(args: Args) -> Result<(), String> {
    if args.events > args.citizens {
        return Err("--events must not exceed --citizens".into());
    }
    let yiwang = yiwang_e2e::sibling_yiwang(args.yiwang.clone())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (database_url, backend) = yiwang_e2e::bench_database(dir.path(), args.database_url.clone());
    let config = yiwang_e2e::bench_config(ADMIN, "[push]\ndispatch = false\npoll_ms = 50\n");
    yiwang_e2e::seed_devices(
        &yiwang,
        &database_url,
        args.citizens.max(args.events + args.warmup),
        "fcm",
    )?;
    let server = yiwang_e2e::bench_server(&yiwang, dir.path(), &database_url, &config)?;
    let base = server.base_url.clone();
    let http = reqwest::Client::new();
    let client: Value = http
        .post(format!("{base}/v1/admin/service-clients"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "卫生健康委员会", "scopes": ["events:birth_registered"]}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id = client["client_id"].as_str().ok_or("no client")?.to_owned();
    let secret = client["client_secret"]
        .as_str()
        .ok_or("no secret")?
        .to_owned();

    let db = Db::connect(&database_url)
        .await
        .map_err(|e| e.to_string())?;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(db.pool())
                .await
                .map_err(|e| e.to_string())
        }
    };
    let wait_matched = || async {
        let waiting = Instant::now();
        while count("SELECT COUNT(*) FROM pending_events").await? > 0 {
            if waiting.elapsed() > Duration::from_secs(3600) {
                return Err::<(), String>("not matched after an hour".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    };
    let poster = Poster {
        http: http.clone(),
        base: base.clone(),
        id,
        secret,
        concurrency: args.concurrency,
    };
    if args.warmup > 0 {
        let warm = poster
            .post(args.events..args.events + args.warmup, "warm")
            .await?;
        if warm != args.warmup {
            return Err(format!("{warm} of {} warm-up events accepted", args.warmup));
        }
        wait_matched().await?;
        sqlx::query("ANALYZE")
            .execute(db.pool())
            .await
            .map_err(|e| e.to_string())?;
    }
    let recommendations_before = count("SELECT COUNT(*) FROM recommendations").await?;
    let pushes_before = count("SELECT COUNT(*) FROM push_outbox WHERE status = 'queued'").await?;

    let cpu_before = yiwang_e2e::machine_cpu();
    let started = Instant::now();
    let accepted = poster.post(0..args.events, "birth").await?;
    let posted = started.elapsed();
    if accepted != args.events {
        return Err(format!("{accepted} of {} events accepted", args.events));
    }
    wait_matched().await?;
    let total = started.elapsed();
    let cpu = match (cpu_before, yiwang_e2e::machine_cpu()) {
        (Some((busy0, stolen0)), Some((busy1, stolen1))) => format!(
            "; machine CPU {:.1} s busy ({:.0} µs per event), {:.1} s stolen",
            busy1 - busy0,
            (busy1 - busy0) * 1e6 / args.events as f64,
            stolen1 - stolen0
        ),
        _ => String::new(),
    };
    let recommendations =
        count("SELECT COUNT(*) FROM recommendations").await? - recommendations_before;
    let pushes =
        count("SELECT COUNT(*) FROM push_outbox WHERE status = 'queued'").await? - pushes_before;
    drop(server);
    println!(
        "{backend}{}: {} events in batches of {BATCH} from {} connections: posted in {:.1} s ({:.0}/s); \
         matched in {:.1} s from the first post ({:.0} events/s end to end); {recommendations} recommendations, \
         {pushes} pushes queued{cpu}",
        if args.warmup > 0 {
            format!(" (after {} warm-up events and ANALYZE)", args.warmup)
        } else {
            String::new()
        },
        args.events,
        args.concurrency,
        posted.as_secs_f64(),
        args.events as f64 / posted.as_secs_f64(),
        total.as_secs_f64(),
        args.events as f64 / total.as_secs_f64(),
    );
    if recommendations != 2 * args.events as i64 || pushes != args.events as i64 {
        return Err("lost or duplicated recommendations".into());
    }
    Ok(())
}

/// A department posting `birth_registered` events from several connections.
struct Poster {
    http: reqwest::Client,
    base: String,
    id: String,
    secret: String,
    concurrency: usize,
}

impl Poster {
    /// Posts one event for each citizen `seed-<i>` of `citizens` (ids
    /// `<prefix>-<i>`) in batches of [`BATCH`]; the events accepted.
    async fn post(&self, citizens: std::ops::Range<u64>, prefix: &str) -> Result<u64, String> {
        let batches: Vec<Value> = citizens
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(|chunk| {
                let events: Vec<Value> = chunk
                    .iter()
                    .map(|i| {
                        json!({"event_id": format!("{prefix}-{i}"), "type": "birth_registered",
                            "subject": {"network_id": format!("seed-{i:09}")},
                            "occurred_at": 1_763_000_000,
                            "data": {"child_birth_date": "2026-11-01"}})
                    })
                    .collect();
                json!({"events": events})
            })
            .collect();
        let queue = Arc::new(std::sync::Mutex::new(batches));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency {
            let (queue, http, base, id, secret) = (
                queue.clone(),
                self.http.clone(),
                self.base.clone(),
                self.id.clone(),
                self.secret.clone(),
            );
            tasks.spawn(async move {
                let mut accepted = 0u64;
                loop {
                    let Some(batch) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                        return Ok::<u64, String>(accepted);
                    };
                    let answer: Value = http
                        .post(format!("{base}/v1/events"))
                        .basic_auth(&id, Some(&secret))
                        .json(&batch)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?
                        .json()
                        .await
                        .map_err(|e| e.to_string())?;
                    accepted += answer["accepted"].as_u64().ok_or(format!("{answer}"))?;
                }
            });
        }
        let mut accepted = 0;
        while let Some(done) = tasks.join_next().await {
            accepted += done.map_err(|e| e.to_string())??;
        }
        Ok(accepted)
    }
}
