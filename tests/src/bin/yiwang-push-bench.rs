//! `yiwang-push-bench`: a campaign to N registered devices (issue 8).
//!
//! ```text
//! yiwang-push-bench --devices 1000000 [--database-url postgres://…] [--yiwang PATH] [--json]
//! ```
//!
//! Starts the fake providers (`yiwang_e2e::fake_push`) in this process, seeds
//! N citizens with one registered device each (`yiwang dev seed-devices`,
//! spread over APNs, FCM, Huawei, Honor, Xiaomi and OPPO; vivo is left out
//! because its 07:00-23:00 window defers campaigns at night), starts
//! `yiwang serve` (release build) with the fakes configured, and sends one
//! campaign to everyone through `POST /v1/notifications`. Measured: the
//! seeding time, the time to enqueue (the call's answer: inbox and outbox
//! rows written), the dispatch rate (outbox drained, every push accepted by
//! a fake), the server's peak resident memory (`VmHWM`), and that every
//! device got exactly one push. Then the fakes' own capacity with the same
//! clients and concurrency, without database or dispatcher: the server's
//! rate as a fraction of it. Loopback only.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use yiwang_e2e::Server;
use yiwang_e2e::fake_push::FakePush;
use yiwang_server::push::providers::{Category, Priority, ProviderKind, Providers, PushRequest};

const ADMIN: &str = "bench-admin-token-0123456789";
const PROVIDERS: [&str; 6] = ["apns", "fcm", "huawei", "honor", "xiaomi", "oppo"];

#[derive(Debug, Parser)]
#[command(
    name = "yiwang-push-bench",
    about = "A push campaign to N devices against fake providers"
)]
struct Args {
    /// Registered devices (one per citizen).
    #[arg(long, default_value_t = 100_000)]
    devices: u64,
    /// PostgreSQL database to use (must be empty); default a new SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// The `yiwang` binary; default the one next to this program.
    #[arg(long)]
    yiwang: Option<PathBuf>,
    /// Pushes sent straight to the fakes to measure their capacity.
    #[arg(long, default_value_t = 200_000)]
    raw_pushes: u64,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> std::process::ExitCode {
    yiwang_e2e::bench_main("yiwang-push-bench", run(Args::parse()))
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn run(args: Args) -> Result<(), String> {
    let yiwang = yiwang_e2e::sibling_yiwang(args.yiwang.clone())?;
    let fakes = FakePush::start_all().await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (database_url, backend) = yiwang_e2e::bench_database(dir.path(), args.database_url.clone());
    let config = dir.path().join("yiwang.toml");
    std::fs::write(
        &config,
        format!(
            "admin_token = \"{ADMIN}\"\nrequest_timeout_secs = 600\n\n[push]\nbatch_size = 2000\npoll_ms = 50\nlease_secs = 120\n\n{}",
            fakes.toml
        ),
    )
    .map_err(|e| e.to_string())?;

    let started = Instant::now();
    yiwang_e2e::seed_devices(&yiwang, &database_url, args.devices, &PROVIDERS.join(","))?;
    let seed_secs = started.elapsed().as_secs_f64();

    let server = Server::start_binary(
        &yiwang,
        dir.path(),
        &["--config", &config.display().to_string()],
        &[
            ("YIWANG_DATABASE_URL", database_url.as_str()),
            ("YIWANG_LOG", "warn,yiwang=info"),
        ],
    );
    let pid = server.pid();
    let rss_idle = memory_kib(pid, "VmRSS:");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let response = http
        .post(format!("{}/v1/notifications", server.base_url))
        .bearer_auth(ADMIN)
        .json(&json!({"recipient": {"segment": {}}, "template": "campaign.announcement",
            "params": {"title": "医保年度结算提醒", "body": "请于本月底前确认"}, "category": "campaign"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let enqueue_secs = started.elapsed().as_secs_f64();
    let sent: Value = response.json().await.map_err(|e| e.to_string())?;
    let id = sent["id"]
        .as_str()
        .ok_or_else(|| format!("the campaign was not accepted: {sent}"))?
        .to_owned();
    let queued = sent["pushes"]["queued"].as_u64().unwrap_or(0);
    if queued != args.devices {
        return Err(format!(
            "{queued} pushes queued for {} devices",
            args.devices
        ));
    }
    let mut rss_peak = 0;
    let status = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        rss_peak = rss_peak.max(memory_kib(pid, "VmRSS:"));
        let status: Value = http
            .get(format!("{}/v1/notifications/{id}", server.base_url))
            .bearer_auth(ADMIN)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if status["pushes"]["queued"] == 0 {
            break status;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Err(format!("not done after an hour: {status}"));
        }
    };
    let dispatch_secs = started.elapsed().as_secs_f64() - enqueue_secs;
    let hwm = memory_kib(pid, "VmHWM:");
    drop(server);

    let delivered = status["pushes"]["delivered"].as_u64().unwrap_or(0);
    let mut tokens = BTreeSet::new();
    let mut requests = 0;
    for provider in PROVIDERS {
        let fake = fakes.fake(provider).ok_or("no fake")?;
        requests += fake.received().len();
        for (token, _) in fake.unique() {
            tokens.insert(token);
        }
    }
    if delivered != args.devices || tokens.len() as u64 != args.devices {
        return Err(format!(
            "lost pushes: {delivered} delivered, {} devices reached of {}",
            tokens.len(),
            args.devices
        ));
    }

    // The fakes' capacity: the same clients, the same per-provider
    // concurrency, no database and no dispatcher.
    let providers = Arc::new(Providers::new(&fakes.config()).map_err(|e| e.to_string())?);
    let raw_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (n, provider) in PROVIDERS.iter().enumerate() {
        let kind = ProviderKind::parse(provider).ok_or("provider")?;
        let (concurrency, _) = providers.limits(kind);
        let per_provider = args.raw_pushes / PROVIDERS.len() as u64;
        for worker in 0..concurrency as u64 {
            let providers = providers.clone();
            tasks.spawn(async move {
                let mut ok = 0u64;
                let mut i = worker;
                while i < per_provider {
                    let token = match kind {
                        ProviderKind::Apns => format!("{:064x}", i + 10_000_000_000),
                        _ => format!("raw{n}x{i:012}"),
                    };
                    let request = PushRequest {
                        delivery_id: format!("raw-{n}-{i}"),
                        message_id: "raw".into(),
                        token,
                        apns_environment: None,
                        app_id: "cn.gov.yiwang".into(),
                        category: Category::Campaign,
                        priority: Priority::Normal,
                        ttl_secs: 3600,
                        collapse_key: None,
                        title: "政务服务通知".into(),
                        body: "点击查看详情".into(),
                    };
                    if providers.send(kind, &request).await
                        == yiwang_server::push::providers::Outcome::Delivered
                    {
                        ok += 1;
                    }
                    i += concurrency as u64;
                }
                ok
            });
        }
    }
    let mut raw_ok = 0;
    while let Some(done) = tasks.join_next().await {
        raw_ok += done.map_err(|e| e.to_string())?;
    }
    let raw_secs = raw_started.elapsed().as_secs_f64();
    let raw_rate = raw_ok as f64 / raw_secs;
    let rate = args.devices as f64 / dispatch_secs;

    let result = json!({
        "backend": backend, "devices": args.devices, "seed_s": seed_secs,
        "enqueue_s": enqueue_secs, "dispatch_s": dispatch_secs, "dispatch_per_s": rate,
        "requests_at_providers": requests, "server_rss_idle_mib": rss_idle / 1024,
        "server_rss_peak_mib": rss_peak.max(hwm) / 1024, "fake_capacity_per_s": raw_rate,
        "fraction_of_capacity": rate / raw_rate, "raw_pushes": raw_ok,
    });
    if args.json {
        println!("{result}");
    } else {
        println!(
            "{backend}: {} devices seeded in {seed_secs:.1} s; campaign enqueued in {enqueue_secs:.2} s; \
             dispatched in {dispatch_secs:.1} s = {rate:.0}/s ({requests} provider requests, every device once); \
             server memory {} MiB idle, {} MiB peak; fakes' capacity {raw_rate:.0}/s ({raw_ok} pushes) → {:.0}% of it",
            args.devices,
            rss_idle / 1024,
            rss_peak.max(hwm) / 1024,
            100.0 * rate / raw_rate
        );
    }
    Ok(())
}
