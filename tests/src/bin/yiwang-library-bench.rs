//! `yiwang-library-bench`: the e-licence library over HTTP (issue 7).
//!
//! ```text
//! yiwang-library-bench [--licences 5000] [--citizens 100] [--concurrency 8] \
//!     [--syncs 20] [--database-url postgres://…] [--yiwang PATH]
//! ```
//!
//! Starts the release `yiwang serve` (push dispatch off), enrols `citizens`
//! citizens, registers an authority and its department, and issues
//! `licences` marriage certificates round-robin to them from `concurrency`
//! connections (each issue: the identifier, the sealed licence, a status
//! index, a `licence_issued` event, an inbox message and a queued push, the
//! audit row). Measured: licences issued per second; then the first
//! citizen's wallet sync of all its licences (`licences / citizens`, 50 by
//! default, each signed for the device key), `syncs` times: latency p50,
//! p95, max. Loopback only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use yiwang_core::client::{ApiClient, ClientConfig, EnrolmentRequest};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_core::identity::IdNumber;

const ADMIN: &str = "bench-admin-token-0123456789";
const AUTHORITY: &str = "91350100M000100Y43";
const MARRIAGE: &str = "11100000MB0143028R002";

#[derive(Debug, Parser)]
#[command(
    name = "yiwang-library-bench",
    about = "E-licence issue throughput and wallet sync latency over HTTP"
)]
struct Args {
    #[arg(long, default_value_t = 5_000)]
    licences: u64,
    #[arg(long, default_value_t = 100)]
    citizens: u64,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Timed syncs of the first citizen's licences.
    #[arg(long, default_value_t = 20)]
    syncs: usize,
    /// PostgreSQL database to use (must be empty); default a new SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// The `yiwang` binary; default the one next to this program.
    #[arg(long)]
    yiwang: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    yiwang_e2e::bench_main("yiwang-library-bench", run(Args::parse()))
}

/// The `i`-th citizen's ID number: born in 1980 or after, one of 999 a day.
fn citizen(i: u64) -> Result<IdNumber, String> {
    let born = time::macros::date!(1980 - 01 - 01) + time::Duration::days((i / 999) as i64);
    let legacy = format!(
        "110101{:02}{:02}{:02}{:03}",
        born.year() % 100,
        u8::from(born.month()),
        born.day(),
        i % 999 + 1
    );
    IdNumber::from_legacy_15(&legacy).map_err(|e| e.to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn run(args: Args) -> Result<(), String> {
    if args.citizens == 0 || args.licences < args.citizens {
        return Err("--licences must be at least --citizens, and --citizens at least 1".into());
    }
    let yiwang = yiwang_e2e::sibling_yiwang(args.yiwang.clone())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (database_url, backend) = yiwang_e2e::bench_database(dir.path(), args.database_url.clone());
    let config = yiwang_e2e::bench_config(ADMIN, "[push]\ndispatch = false\npoll_ms = 50\n");
    let server = yiwang_e2e::bench_server(&yiwang, dir.path(), &database_url, &config)?;
    let base = server.base_url.clone();
    let http = reqwest::Client::new();
    let client = ApiClient::new(ClientConfig::new(&base)).map_err(|e| e.to_string())?;

    // Citizens: the first keeps its device key and signs in.
    let store = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").map_err(|e| e.to_string())?;
    let device_key: VerifyingKey = store
        .generate(&alias, Suite::Gm)
        .map_err(|e| e.to_string())?;
    let mut first = None;
    for i in 0..args.citizens {
        let enrolled = client
            .enrol(&EnrolmentRequest::new(
                "王芳",
                citizen(i)?,
                [7; 32],
                device_key.clone(),
            ))
            .await
            .map_err(|e| e.to_string())?;
        if i == 0 {
            first = Some(enrolled.credential);
        }
    }
    let credential = first.ok_or("no citizen")?;
    let challenge = client.challenge().await.map_err(|e| e.to_string())?;
    let presentation = credential
        .present(
            &challenge
                .presentation_request()
                .map_err(|e| e.to_string())?,
            &store,
            &alias,
            yiwang_server::issuer::now(),
        )
        .map_err(|e| e.to_string())?;
    let tokens = client
        .login(&presentation, &challenge.nonce, Some("bench"))
        .await
        .map_err(|e| e.to_string())?;

    // The authority and its department.
    let answer = http
        .post(format!("{base}/v1/admin/authorities"))
        .bearer_auth(ADMIN)
        .json(
            &json!({"uscc": AUTHORITY, "name": "福州市鼓楼区民政局", "region": "350100",
                      "licence_types": [MARRIAGE]}),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if answer.status() != 201 {
        return Err(format!("authority: {}", answer.status()));
    }
    let department: Value = http
        .post(format!("{base}/v1/admin/service-clients"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "民政局", "scopes": [format!("licences:{AUTHORITY}")]}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id = department["client_id"]
        .as_str()
        .ok_or("no client")?
        .to_owned();
    let secret = department["client_secret"]
        .as_str()
        .ok_or("no secret")?
        .to_owned();

    // Issue.
    let mut bodies = Vec::with_capacity(args.licences as usize);
    for i in 0..args.licences {
        bodies.push(
            json!({"issuer_uscc": AUTHORITY, "number": format!("B{i:08}"),
            "type_code": MARRIAGE,
            "holder": {"id_number": citizen(i % args.citizens)?.as_str(), "name": "王芳"},
            "issue_date": "2026-05-20", "jurisdiction": "350102"}),
        );
    }
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (queue, http, base, id, secret) = (
            queue.clone(),
            http.clone(),
            base.clone(),
            id.clone(),
            secret.clone(),
        );
        tasks.spawn(async move {
            let mut issued = 0u64;
            loop {
                let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return Ok::<u64, String>(issued);
                };
                let status = http
                    .post(format!("{base}/v1/library/licences"))
                    .basic_auth(&id, Some(&secret))
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .status();
                if status != 201 {
                    return Err(format!("issue: {status}"));
                }
                issued += 1;
            }
        });
    }
    let mut issued = 0;
    while let Some(done) = tasks.join_next().await {
        issued += done.map_err(|e| e.to_string())??;
    }
    let issuing = started.elapsed();
    if issued != args.licences {
        return Err(format!("{issued} of {} issued", args.licences));
    }

    // Sync the first citizen's licences.
    let per_citizen = args.licences.div_ceil(args.citizens) as usize;
    let mut latencies = Vec::with_capacity(args.syncs);
    for _ in 0..args.syncs.max(1) {
        let started = Instant::now();
        let mut since = 0;
        let mut received = 0;
        loop {
            let page = client
                .sync_licences(&tokens.access_token, since, &device_key)
                .await
                .map_err(|e| e.to_string())?;
            received += page
                .licences
                .iter()
                .filter(|l| l.credential.is_some())
                .count();
            since = page.next;
            if !page.more {
                break;
            }
        }
        latencies.push(started.elapsed());
        if received != per_citizen {
            return Err(format!("synced {received} of {per_citizen} licences"));
        }
    }
    latencies.sort();
    drop(server);
    println!(
        "{backend}: {} licences for {} citizens from {} connections issued in {:.1} s ({:.0} licences/s); \
         wallet sync of {per_citizen} licences ×{}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        args.licences,
        args.citizens,
        args.concurrency,
        issuing.as_secs_f64(),
        args.licences as f64 / issuing.as_secs_f64(),
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.95).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    Ok(())
}
