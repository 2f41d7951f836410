//! `yiwang-load`: a load harness for `yiwang serve` on loopback (issue 6).
//!
//! ```text
//! yiwang-load --server http://127.0.0.1:PORT --logins N --concurrency C [--repeat R] [--json]
//! yiwang-load --trivial [--server URL --path /healthz] --requests N --concurrency C [--json]
//! yiwang-load serve-trivial [--bind 127.0.0.1:0]
//! yiwang-load breakdown [--iterations N] [--database-url URL]
//! yiwang-load table RESULTS.jsonl
//! ```
//!
//! A login run has an untimed setup — one citizen enrolled per virtual user
//! (`POST /v1/enrolments` with an SM2 device key in a software key store),
//! then per batch N challenges (`POST /v1/auth/challenge`) and N presentations
//! made on every core — and a timed phase: the N `POST /v1/auth/login`
//! requests sent by C workers, each waiting for its answer before sending the
//! next (closed loop). Every latency is recorded; an answer other than `200`
//! is an error. Batches keep each challenge (120 s) and presentation (60 s +
//! 30 s skew) alive until its login.
//!
//! `--trivial` measures `GET /` of a trivial axum route with the same client
//! and concurrency: without `--server` it starts itself as a child process
//! (`serve-trivial`), so the route runs in its own process like `yiwang serve`.
//! Its rate is the framework's ceiling on this machine; a login run divided by
//! it is the fraction of that ceiling the identity work leaves.
//!
//! `breakdown` times the server-side pieces of one login in this process:
//! the cryptography (the presentation's two SM2 verifications, the ES256
//! access token) and the seven SQL statements a login runs, one after the
//! other on an idle database: as the server runs them, without the pool's
//! ping before each statement, and in one transaction.
//!
//! Each result also gives the CPU time per request of the server (with
//! `--server-pid`), of PostgreSQL's processes and of the harness, and the
//! share of the machine taken by anything else meanwhile (`/proc`, Linux).
//!
//! Nothing here runs during `cargo test` except the small test at the end.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command as Process, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use yiwang_core::credential::{HolderCredential, PresentationRequest};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::identity::IdNumber;

/// The audience of a login presentation (`yiwang_server::auth::SERVER_AUDIENCE`).
const AUDIENCE: &str = yiwang_server::auth::SERVER_AUDIENCE;

#[derive(Debug, Parser)]
#[command(
    name = "yiwang-load",
    about = "Load harness for `yiwang serve`: logins per second and latency percentiles",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Base URL of the server under load, `http://127.0.0.1:PORT`. With
    /// --trivial and no --server, a trivial axum server is started as a child.
    #[arg(long)]
    server: Option<String>,
    /// Number of timed requests (logins, or GETs with --trivial).
    #[arg(long, visible_alias = "requests", default_value_t = 3000)]
    logins: usize,
    /// Concurrent workers (each keeps one connection and one request in flight).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Challenges and presentations are made (untimed) in batches of this
    /// many, just before the batch is sent.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// Measure GET --path instead of logins.
    #[arg(long)]
    trivial: bool,
    /// The route of --trivial.
    #[arg(long, default_value = "/")]
    path: String,
    /// Label of the result (e.g. the database backend).
    #[arg(long)]
    label: Option<String>,
    /// Process id of the server, to report its CPU time per request (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the result as one JSON line on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
    /// Rounds (each with its own setup); the round of median rate is reported,
    /// with the others' rates.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve `GET /` → a small JSON object, and print `trivial listening address=…`.
    ServeTrivial {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
    },
    /// Time the server-side pieces of one login in this process.
    Breakdown {
        #[arg(long, default_value_t = 500)]
        iterations: usize,
        /// Database for the SQL part (default: a new SQLite file in a temporary directory).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Print the JSON lines of --json runs as a Markdown table.
    Table { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::ServeTrivial { bind }) => serve_trivial_process(bind),
        Some(Command::Breakdown {
            iterations,
            database_url,
        }) => runtime().and_then(|rt| rt.block_on(breakdown(iterations.max(1), database_url))),
        Some(Command::Table { file }) => table(&file),
        None => run(cli.run),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("yiwang-load: {message}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

// ---------------------------------------------------------------------------
// Runs

/// What a timed phase measured.
#[derive(Debug, Default)]
struct Measured {
    /// One per request sent, errors included.
    latencies: Vec<Duration>,
    errors: usize,
    /// The first few error answers (status and body).
    error_samples: Vec<String>,
    /// Wall time of the timed phases only.
    elapsed: Duration,
    /// Server latency and CPU time spent during the timed phases only.
    usage: Usage,
}

impl Measured {
    /// Requests per second of the timed phases.
    fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.latencies.len() as f64 / seconds
        } else {
            0.0
        }
    }

    fn merge(&mut self, other: Measured) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < MAX_ERROR_SAMPLES {
                self.error_samples.push(sample);
            }
        }
        self.elapsed += other.elapsed;
        self.usage.add(&other.usage);
    }
}

const MAX_ERROR_SAMPLES: usize = 5;

fn run(args: RunArgs) -> Result<(), String> {
    // The trivial server, when we start it, is a child process of its own.
    let mut child = None;
    let (server, reference) = match (&args.server, args.trivial) {
        (Some(server), _) => (server.trim_end_matches('/').to_owned(), false),
        (None, true) => {
            let (spawned, address) = spawn_trivial_server()?;
            child = Some(spawned);
            (format!("http://{address}"), true)
        }
        (None, false) => return Err("--server URL is required for a login run".into()),
    };
    let server_pid = args
        .server_pid
        .or_else(|| child.as_ref().map(|c: &ChildGuard| c.0.id()));
    let rt = runtime()?;
    let result = rt.block_on(async {
        let client = client(args.concurrency)?;
        let route = if args.trivial {
            args.path.clone()
        } else {
            "/v1/auth/login".to_owned()
        };
        let probe = Probe {
            client: client.clone(),
            server: server.clone(),
            route,
            pid: server_pid,
        };
        let mut rounds = Vec::new();
        for _ in 0..args.repeat.max(1) {
            let (n, c, batch) = (args.logins, args.concurrency, args.batch);
            rounds.push(if args.trivial {
                trivial_run(&client, &server, &args.path, n, c, Some(&probe)).await?
            } else {
                login_run(&client, &server, n, c, batch, Some(&probe), |_| {}).await?
            });
        }
        Ok::<_, String>(rounds)
    });
    drop(child);
    let mut rounds = result?;
    rounds.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    let rates: Vec<f64> = rounds.iter().map(Measured::rate).collect();
    let measured = rounds.swap_remove(rates.len() / 2);
    let label = args.label.clone().unwrap_or_else(|| {
        if reference {
            "axum (trivial)".into()
        } else {
            "yiwang".into()
        }
    });
    let kind = if args.trivial {
        format!("GET {}", args.path)
    } else {
        "login".into()
    };
    let mut report = report(&label, &kind, reference, args.concurrency, &measured);
    report["rps_rounds"] = json!(rates);
    eprintln!("{}", summary(&report));
    for sample in &measured.error_samples {
        eprintln!("  error: {sample}");
    }
    if args.json {
        println!("{report}");
    }
    Ok(())
}

fn client(concurrency: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency.max(1))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Runs `f(0..n)` with `concurrency` workers, each taking the next index
/// when its previous call has finished. Results in index order.
async fn concurrently<T, F, Fut>(n: usize, concurrency: usize, f: F) -> Vec<T>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let f = Arc::clone(&f);
        let next = Arc::clone(&next);
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break done;
                }
                done.push((i, f(i).await));
            }
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = workers.join_next().await {
        all.extend(done.expect("a load worker panicked"));
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// One timed request: latency (until the whole body is read), and the status
/// and body when the status is not `expected`.
async fn timed(
    request: reqwest::RequestBuilder,
    expected: u16,
) -> (Duration, Option<(u16, String)>) {
    let started = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await;
            let latency = started.elapsed();
            match body {
                Ok(_) if status == expected => (latency, None),
                Ok(body) => (
                    latency,
                    Some((status, String::from_utf8_lossy(&body).into_owned())),
                ),
                Err(e) => (latency, Some((status, format!("reading the body: {e}")))),
            }
        }
        Err(e) => (started.elapsed(), Some((0, format!("request failed: {e}")))),
    }
}

fn measured(outcomes: Vec<(Duration, Option<(u16, String)>)>, elapsed: Duration) -> Measured {
    let mut result = Measured {
        elapsed,
        ..Measured::default()
    };
    for (latency, error) in outcomes {
        result.latencies.push(latency);
        if let Some((status, body)) = error {
            result.errors += 1;
            if result.error_samples.len() < MAX_ERROR_SAMPLES {
                result.error_samples.push(format!("{status} {body}"));
            }
        }
    }
    result
}

async fn trivial_run(
    client: &reqwest::Client,
    server: &str,
    path: &str,
    n: usize,
    concurrency: usize,
    probe: Option<&Probe>,
) -> Result<Measured, String> {
    let url = format!("{server}{path}");
    // Warm-up: open the connections (untimed), as the login setup does.
    let (c, u) = (client.clone(), url.clone());
    concurrently(concurrency, concurrency, move |_| timed(c.get(&u), 200)).await;
    let (c, u) = (client.clone(), url);
    let before = Probe::sample(probe).await;
    let started = Instant::now();
    let outcomes = concurrently(n, concurrency, move |_| timed(c.get(&u), 200)).await;
    let elapsed = started.elapsed();
    let after = Probe::sample(probe).await;
    Ok(Measured {
        usage: after.since(&before),
        ..measured(outcomes, elapsed)
    })
}

/// A virtual user: an enrolled phone.
#[derive(Debug)]
struct User {
    store: SoftwareKeyStore,
    credential: HolderCredential,
}

fn device_alias() -> KeyAlias {
    KeyAlias::new("device").expect("a valid alias")
}

/// Enrols `count` citizens (new random ID numbers), one phone each.
async fn enrol_users(
    client: &reqwest::Client,
    server: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<User>, String> {
    let mut seed = [0u8; 4];
    yiwang_core::crypto::random_bytes(&mut seed).map_err(|e| e.to_string())?;
    let seed = u32::from_le_bytes(seed);
    let (client, url) = (client.clone(), format!("{server}/v1/enrolments"));
    let users = concurrently(count, concurrency, move |i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let id_number = id_number(seed.wrapping_add(i as u32));
            let store = SoftwareKeyStore::in_memory();
            let key = store
                .generate(&device_alias(), Suite::Gm)
                .map_err(|e| e.to_string())?;
            let body = json!({
                "name": "测试用户", "id_number": id_number, "photo_digest": "07".repeat(32),
                "device_public_key": key.to_spki_pem(),
            });
            let response = client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("enrolment: {e}"))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if status != 201 {
                return Err(format!("enrolment answered {status}: {text}"));
            }
            let enrolled: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let bytes = Base64::decode_vec(enrolled["credential"].as_str().unwrap_or_default())
                .map_err(|e| format!("enrolment credential: {e}"))?;
            let credential = HolderCredential::from_bytes(&bytes).map_err(|e| e.to_string())?;
            Ok(User { store, credential })
        }
    })
    .await;
    users.into_iter().collect()
}

/// A valid 18-character citizen ID number (Beijing Chaoyang, born 1950-1999)
/// that differs for each `v` below 16.8 million; check character by ISO 7064
/// MOD 11-2 as in GB 11643.
fn id_number(v: u32) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let (sequence, day) = (v % 1000, v / 1000);
    let year = 1950 + day % 50;
    let month = 1 + (day / 50) % 12;
    let date = 1 + (day / 600) % 28;
    let body = format!("110105{year:04}{month:02}{date:02}{sequence:03}");
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let number = format!("{body}{}", char::from(CHECK[(sum % 11) as usize]));
    debug_assert!(IdNumber::parse(&number).is_ok(), "{number}");
    number
}

/// `n` fresh challenge nonces.
async fn challenges(
    client: &reqwest::Client,
    server: &str,
    n: usize,
    concurrency: usize,
) -> Result<Vec<String>, String> {
    let (client, url) = (client.clone(), format!("{server}/v1/auth/challenge"));
    let nonces = concurrently(n, concurrency, move |_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client
                .post(&url)
                .json(&json!({}))
                .send()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if status != 201 {
                return Err(format!("challenge answered {status}: {text}"));
            }
            let body: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            body["nonce"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("challenge without a nonce: {text}"))
        }
    })
    .await;
    nonces.into_iter().collect()
}

/// The login request bodies for `nonces`, request `i` made by user
/// `(first + i) % users`, on every core.
fn login_bodies(users: &[User], nonces: &[String], first: usize) -> Result<Vec<String>, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = nonces.len().div_ceil(threads).max(1);
    let alias = device_alias();
    std::thread::scope(|scope| {
        let handles: Vec<_> = nonces
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let alias = &alias;
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(j, nonce)| {
                            let user = &users[(first + c * chunk + j) % users.len()];
                            let request = PresentationRequest {
                                nonce: Some(nonce.as_bytes().to_vec()),
                                ..PresentationRequest::new(AUDIENCE)
                                    .with_disclosure_list("network_id")
                                    .map_err(|e| e.to_string())?
                            };
                            let presentation = user
                                .credential
                                .present(&request, &user.store, alias, now)
                                .map_err(|e| e.to_string())?;
                            Ok(json!({"presentation": presentation, "nonce": nonce}).to_string())
                        })
                        .collect::<Result<Vec<String>, String>>()
                })
            })
            .collect();
        let mut bodies = Vec::with_capacity(nonces.len());
        for handle in handles {
            bodies.extend(
                handle
                    .join()
                    .map_err(|_| "a presentation thread panicked")??,
            );
        }
        Ok(bodies)
    })
}

/// The whole login run: setup (untimed), then the timed batches.
/// `progress` is told each batch's result (for the caller's log).
async fn login_run(
    client: &reqwest::Client,
    server: &str,
    n: usize,
    concurrency: usize,
    batch: usize,
    probe: Option<&Probe>,
    progress: impl Fn(&Measured),
) -> Result<Measured, String> {
    let setup = Instant::now();
    let users = Arc::new(enrol_users(client, server, concurrency.max(1), concurrency).await?);
    eprintln!(
        "setup: {} citizens enrolled in {:.1} s",
        users.len(),
        setup.elapsed().as_secs_f64()
    );
    let mut total = Measured::default();
    let mut done = 0;
    while done < n {
        let size = batch.max(1).min(n - done);
        let setup = Instant::now();
        let nonces = challenges(client, server, size, concurrency).await?;
        let first = done;
        let makers = Arc::clone(&users);
        let bodies = tokio::task::spawn_blocking(move || login_bodies(&makers, &nonces, first))
            .await
            .map_err(|e| e.to_string())??;
        eprintln!(
            "setup: {size} challenges and presentations in {:.1} s",
            setup.elapsed().as_secs_f64()
        );
        let bodies = Arc::new(bodies);
        let (c, url) = (client.clone(), format!("{server}/v1/auth/login"));
        let before = Probe::sample(probe).await;
        let started = Instant::now();
        let outcomes = concurrently(size, concurrency, move |i| {
            let request = c
                .post(&url)
                .header("content-type", "application/json")
                .body(bodies[i].clone());
            timed(request, 200)
        })
        .await;
        let elapsed = started.elapsed();
        let after = Probe::sample(probe).await;
        let batch_result = Measured {
            usage: after.since(&before),
            ..measured(outcomes, elapsed)
        };
        progress(&batch_result);
        total.merge(batch_result);
        done += size;
    }
    Ok(total)
}

// ---------------------------------------------------------------------------
// Counters around a run: the server's own latency histogram, CPU time

/// Where the counters of the server under load are read.
#[derive(Debug)]
struct Probe {
    client: reqwest::Client,
    server: String,
    /// Route template whose latency histogram is read from `/metrics`.
    route: String,
    /// The server's process (for its CPU time).
    pid: Option<u32>,
}

/// A snapshot of the counters.
#[derive(Debug, Default)]
struct Counters {
    /// `yiwang_http_request_duration_seconds` sum and count of the route, status 200.
    server_seconds: Option<(f64, f64)>,
    server_ticks: Option<u64>,
    postgres_ticks: u64,
    own_ticks: Option<u64>,
    machine: Option<MachineTicks>,
}

/// The machine's CPU time from `/proc/stat`, all cores, in ticks.
#[derive(Debug, Default, Clone, Copy)]
struct MachineTicks {
    /// user, nice, system, irq, softirq: every process on the machine.
    busy: u64,
    /// Time the hypervisor ran something else while this machine wanted to run.
    steal: u64,
    /// Everything, idle included.
    total: u64,
}

impl MachineTicks {
    fn now() -> Option<MachineTicks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is in user)
        let field = |i: usize| v.get(i).copied().unwrap_or(0);
        Some(MachineTicks {
            busy: field(0) + field(1) + field(2) + field(5) + field(6),
            steal: field(7),
            total: (0..8).map(field).sum(),
        })
    }

    fn since(self, before: MachineTicks) -> MachineTicks {
        MachineTicks {
            busy: self.busy.saturating_sub(before.busy),
            steal: self.steal.saturating_sub(before.steal),
            total: self.total.saturating_sub(before.total),
        }
    }

    fn add(self, other: MachineTicks) -> MachineTicks {
        MachineTicks {
            busy: self.busy + other.busy,
            steal: self.steal + other.steal,
            total: self.total + other.total,
        }
    }
}

/// What the counters moved by during timed phases.
#[derive(Debug, Default)]
struct Usage {
    /// Sum and count of the server's own latency observations.
    server_seconds: Option<(f64, f64)>,
    server_ticks: Option<u64>,
    postgres_ticks: u64,
    own_ticks: Option<u64>,
    machine: Option<MachineTicks>,
}

impl Usage {
    fn add(&mut self, other: &Usage) {
        fn sum<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            }
        }
        self.server_seconds = match (self.server_seconds, other.server_seconds) {
            (Some((s0, c0)), Some((s1, c1))) => Some((s0 + s1, c0 + c1)),
            (a, b) => a.or(b),
        };
        self.server_ticks = sum(self.server_ticks, other.server_ticks);
        self.postgres_ticks += other.postgres_ticks;
        self.own_ticks = sum(self.own_ticks, other.own_ticks);
        self.machine = match (self.machine, other.machine) {
            (Some(a), Some(b)) => Some(a.add(b)),
            (a, b) => a.or(b),
        };
    }

    /// Shares of the machine's CPU time (all cores) during the timed
    /// phases: (other processes than the server, PostgreSQL and this
    /// harness; stolen by the hypervisor).
    fn disturbance(&self) -> Option<(f64, f64)> {
        let machine = self.machine?;
        if machine.total == 0 {
            return None;
        }
        let ours = self.server_ticks? + self.postgres_ticks + self.own_ticks?;
        let total = machine.total as f64;
        Some((
            machine.busy.saturating_sub(ours) as f64 / total,
            machine.steal as f64 / total,
        ))
    }
}

impl Probe {
    /// The counters now (all empty without a probe).
    async fn sample(probe: Option<&Probe>) -> Counters {
        let Some(probe) = probe else {
            return Counters::default();
        };
        let url = format!("{}/metrics", probe.server);
        let metrics = match probe.client.get(url).send().await {
            Ok(r) if r.status().is_success() => r.text().await.ok(),
            _ => None,
        };
        Counters {
            server_seconds: metrics.and_then(|m| route_seconds(&m, &probe.route)),
            server_ticks: probe
                .pid
                .and_then(|pid| cpu_ticks(&format!("/proc/{pid}/stat"))),
            postgres_ticks: postgres_ticks(),
            own_ticks: cpu_ticks("/proc/self/stat"),
            machine: MachineTicks::now(),
        }
    }
}

impl Counters {
    fn since(&self, before: &Counters) -> Usage {
        let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        Usage {
            server_seconds: match (before.server_seconds, self.server_seconds) {
                (Some((s0, c0)), Some((s1, c1))) => Some((s1 - s0, c1 - c0)),
                _ => None,
            },
            server_ticks: delta(before.server_ticks, self.server_ticks),
            postgres_ticks: self.postgres_ticks.saturating_sub(before.postgres_ticks),
            own_ticks: delta(before.own_ticks, self.own_ticks),
            machine: match (before.machine, self.machine) {
                (Some(b), Some(a)) => Some(a.since(b)),
                _ => None,
            },
        }
    }
}

/// (sum, count) of the latency histogram of `route`, status 200.
fn route_seconds(metrics: &str, route: &str) -> Option<(f64, f64)> {
    let labels = format!("route=\"{route}\",status=\"200\"}}");
    let value = |name: &str| {
        metrics
            .lines()
            .filter(|l| l.starts_with(name) && l.contains(&labels))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    Some((
        value("yiwang_http_request_duration_seconds_sum{"),
        value("yiwang_http_request_duration_seconds_count{"),
    ))
}

/// utime + stime of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(stat_path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of every `postgres` process (the local server's backends).
fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            stat.contains("(postgres)")
                .then(|| cpu_ticks(&e.path().join("stat").to_string_lossy()))
                .flatten()
        })
        .sum()
}

const TICK_MS: f64 = 10.0;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn report(label: &str, kind: &str, reference: bool, concurrency: usize, m: &Measured) -> Value {
    let mut sorted = m.latencies.clone();
    sorted.sort_unstable();
    let n = sorted.len();
    let per_request = |ticks: Option<u64>| ticks.map(|t| t as f64 * TICK_MS / n.max(1) as f64);
    let server_mean_ms = match m.usage.server_seconds {
        Some((sum, count)) if count > 0.0 => Some(sum / count * 1000.0),
        _ => None,
    };
    let postgres = m.usage.postgres_ticks;
    let disturbance = m.usage.disturbance();
    let seconds = m.elapsed.as_secs_f64();
    json!({
        "label": label,
        "kind": kind,
        "reference": reference,
        "requests": n,
        "concurrency": concurrency,
        "seconds": seconds,
        "rps": m.rate(),
        "p50_ms": percentile(&sorted, 50.0),
        "p90_ms": percentile(&sorted, 90.0),
        "p99_ms": percentile(&sorted, 99.0),
        "max_ms": percentile(&sorted, 100.0),
        "errors": m.errors,
        "server_mean_ms": server_mean_ms,
        "server_cpu_ms": per_request(m.usage.server_ticks),
        "postgres_cpu_ms": per_request((postgres > 0).then_some(postgres)),
        "client_cpu_ms": per_request(m.usage.own_ticks),
        "others_cpu_share": disturbance.map(|d| d.0),
        "steal_share": disturbance.map(|d| d.1),
    })
}

fn share(v: &Value) -> String {
    v.as_f64()
        .map_or("–".into(), |v| format!("{:.0} %", v * 100.0))
}

fn summary(r: &Value) -> String {
    let ms = |key: &str| r[key].as_f64().map_or("-".into(), |v| format!("{v:.2} ms"));
    format!(
        "{} {} c={}: {} requests in {:.2} s = {:.0}/s; p50 {}, p90 {}, p99 {}, max {}; {} errors; \
         server-side mean {}; CPU per request: server {}, postgres {}, client {}; \
         machine: other processes {}, stolen {}",
        r["label"].as_str().unwrap_or_default(),
        r["kind"].as_str().unwrap_or_default(),
        r["concurrency"],
        r["requests"],
        r["seconds"].as_f64().unwrap_or_default(),
        r["rps"].as_f64().unwrap_or_default(),
        ms("p50_ms"),
        ms("p90_ms"),
        ms("p99_ms"),
        ms("max_ms"),
        r["errors"],
        ms("server_mean_ms"),
        ms("server_cpu_ms"),
        ms("postgres_cpu_ms"),
        ms("client_cpu_ms"),
        share(&r["others_cpu_share"]),
        share(&r["steal_share"]),
    )
}

/// The `--json` lines of several runs as a Markdown table; `÷ axum` is the
/// rate over the trivial reference run at the same concurrency.
fn table(file: &std::path::Path) -> Result<(), String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.to_string_lossy()))?;
    let rows: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", file.to_string_lossy()))?;
    let reference: BTreeMap<u64, f64> = rows
        .iter()
        .filter(|r| r["reference"].as_bool() == Some(true))
        .filter_map(|r| Some((r["concurrency"].as_u64()?, r["rps"].as_f64()?)))
        .collect();
    let ms = |r: &Value, key: &str| r[key].as_f64().map_or("–".into(), |v| format!("{v:.2}"));
    let cpu = |r: &Value, key: &str| r[key].as_f64().map_or("–".into(), |v| format!("{v:.2}"));
    println!(
        "| server, route | requests | concurrency | req/s: median round (slowest–fastest) | p50 ms | p90 ms | p99 ms | errors | ÷ axum req/s | server-side mean ms | server CPU ms/req | PostgreSQL CPU ms/req | other processes / stolen |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let rps = r["rps"].as_f64().unwrap_or_default();
        let rounds: Vec<f64> = r["rps_rounds"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let rate = match (rounds.first(), rounds.last()) {
            (Some(low), Some(high)) if rounds.len() > 1 => format!(
                "**{}** ({}–{})",
                format_thousands(rps),
                format_thousands(*low),
                format_thousands(*high)
            ),
            _ => format!("**{}**", format_thousands(rps)),
        };
        let ratio = r["concurrency"]
            .as_u64()
            .and_then(|c| reference.get(&c))
            .map_or("–".into(), |t| format!("{:.3}", rps / t));
        println!(
            "| {} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            r["label"].as_str().unwrap_or_default(),
            r["kind"].as_str().unwrap_or_default(),
            r["requests"],
            r["concurrency"],
            rate,
            ms(r, "p50_ms"),
            ms(r, "p90_ms"),
            ms(r, "p99_ms"),
            r["errors"],
            ratio,
            ms(r, "server_mean_ms"),
            cpu(r, "server_cpu_ms"),
            cpu(r, "postgres_cpu_ms"),
            share(&r["others_cpu_share"]),
            share(&r["steal_share"]),
        );
    }
    Ok(())
}

fn format_thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------
// The trivial route

async fn serve_trivial(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::Json(json!({"status": "ok", "version": "0.1.0"})) }),
    );
    axum::serve(listener, app).await
}

/// `serve-trivial`: the same runtime as `yiwang serve` (multi-threaded, one
/// worker per core); runs until killed.
fn serve_trivial_process(bind: SocketAddr) -> Result<(), String> {
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("{bind}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "trivial listening address={address}");
        let _ = stdout.flush();
        serve_trivial(listener).await.map_err(|e| e.to_string())
    })
}

/// A child process, killed when dropped.
#[derive(Debug)]
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_trivial_server() -> Result<(ChildGuard, String), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = ChildGuard(
        Process::new(exe)
            .arg("serve-trivial")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the trivial server: {e}"))?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let address = line
        .trim()
        .strip_prefix("trivial listening address=")
        .ok_or_else(|| format!("the trivial server said {line:?}"))?
        .to_owned();
    Ok((child, address))
}

// ---------------------------------------------------------------------------
// Breakdown: one login's server-side pieces, in this process

/// Median of `iterations` runs of `f`, in microseconds.
fn median_us(iterations: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1e6
}

fn crypto_breakdown(iterations: usize) -> Result<Vec<(String, f64)>, String> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use yiwang_core::credential::{Enrolment, Issuer, VerificationPolicy, verify};
    use yiwang_core::crypto::SigningKey;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|x| e(&x))?
        .as_secs() as i64;
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let issuer_alias = KeyAlias::new("issuer").map_err(|x| e(&x))?;
    store
        .generate(&issuer_alias, Suite::Gm)
        .map_err(|x| e(&x))?;
    let issuer = Issuer::new(store, issuer_alias, [1; 32]).map_err(|x| e(&x))?;
    let device = SoftwareKeyStore::in_memory();
    let device_key = device
        .generate(&device_alias(), Suite::Gm)
        .map_err(|x| e(&x))?;
    let enrolment = Enrolment {
        name: "测试用户".into(),
        id_number: IdNumber::parse(&id_number(4242)).map_err(|x| e(&x))?,
        photo_digest: [7; 32],
    };
    let holder = issuer
        .issue(&enrolment, &device_key, 0, now - 86_400)
        .map_err(|x| e(&x))?;
    let nonce = "AAAAAAAAAAAAAAAAAAAAAA";
    let request = PresentationRequest {
        nonce: Some(nonce.as_bytes().to_vec()),
        ..PresentationRequest::new(AUDIENCE)
            .with_disclosure_list("network_id")
            .map_err(|x| e(&x))?
    };
    let presentation = holder
        .present(&request, &device, &device_alias(), now)
        .map_err(|x| e(&x))?;
    let trusted = vec![issuer.public_key().clone()];
    // As the server does since it checks revocation in its table: no status list.
    let policy = VerificationPolicy {
        nonce: Some(nonce.as_bytes().to_vec()),
        require_status: false,
        ..VerificationPolicy::new(trusted, AUDIENCE, now)
    };
    verify(&presentation, &policy).map_err(|x| e(&x))?;
    let jwt_key = SigningKey::generate(Suite::Intl).map_err(|x| e(&x))?;
    let pem = jwt_key.to_pkcs8_pem().map_err(|x| e(&x))?;
    let claims = json!({"iss": AUDIENCE, "aud": AUDIENCE, "sub": "0123456789abcdef", "sid": "AAAAAAAAAAAA", "iat": now, "exp": now + 900});
    let header = Header {
        kid: Some("0011223344556677".into()),
        ..Header::new(Algorithm::ES256)
    };
    let der = jwt_key.to_pkcs8_der().map_err(|x| e(&x))?;
    let encoding = EncodingKey::from_ec_der(&der);
    jsonwebtoken::encode(&header, &claims, &encoding).map_err(|x| e(&x))?;

    let mut rows = vec![
        (
            "presentation: verify (issuer + device SM2 verify, digests, audience, nonce)"
                .to_owned(),
            median_us(iterations, || {
                let _ = std::hint::black_box(verify(&presentation, &policy));
            }),
        ),
        (
            "access token: load the key (PKCS#8 PEM → DER → EncodingKey)".to_owned(),
            median_us(iterations, || {
                let key = SigningKey::from_pkcs8_pem(&pem).expect("pem");
                let der = key.to_pkcs8_der().expect("der");
                std::hint::black_box(EncodingKey::from_ec_der(&der));
            }),
        ),
        (
            "access token: ES256 JWT sign".to_owned(),
            median_us(iterations, || {
                let _ = std::hint::black_box(jsonwebtoken::encode(&header, &claims, &encoding));
            }),
        ),
        (
            "refresh token: SHA-256 of 32 random bytes, ids (getrandom ×3)".to_owned(),
            median_us(iterations, || {
                let mut bytes = [0u8; 53];
                let _ = yiwang_core::crypto::random_bytes(&mut bytes[..32]);
                let _ = yiwang_core::crypto::random_bytes(&mut bytes[32..44]);
                let _ = yiwang_core::crypto::random_bytes(&mut bytes[44..]);
                std::hint::black_box(Suite::Intl.hash(&bytes));
            }),
        ),
    ];
    let sum = rows.iter().map(|(_, us)| us).sum();
    rows.push(("**cryptography, total**".into(), sum));
    Ok(rows)
}

/// Where the seven statements of a login run.
enum Target<'a> {
    /// Each statement takes a connection from the pool (as the server does).
    Pool(&'a sqlx::AnyPool),
    /// All on one connection (inside a transaction the caller opened).
    Conn(&'a mut sqlx::AnyConnection),
}

/// Runs `query.$method()` on `target`.
macro_rules! on {
    ($target:expr, $query:expr, $method:ident) => {
        match $target {
            Target::Pool(pool) => $query.$method(*pool).await,
            Target::Conn(conn) => $query.$method(&mut **conn).await,
        }
    };
}

/// The statements of `POST /v1/auth/login` in the server's order, for
/// challenge `nonce` of `account`; the time of each.
async fn login_statements(
    target: &mut Target<'_>,
    nonce: &str,
    index: i64,
    account: &str,
    now: i64,
) -> Result<[Duration; 7], String> {
    use sqlx::Row;
    let q = |e: sqlx::Error| e.to_string();
    let mut times = [Duration::ZERO; 7];
    let mut mark = Instant::now();
    let mut lap = |step: usize| {
        times[step] = mark.elapsed();
        mark = Instant::now();
    };
    let taken = on!(
        target,
        sqlx::query(
            "UPDATE login_challenges SET used = 1 WHERE nonce = $1 AND used = 0 AND expires_at > $2"
        )
        .bind(nonce)
        .bind(now),
        execute
    )
    .map_err(q)?;
    if taken.rows_affected() != 1 {
        return Err("breakdown: the challenge was not taken".into());
    }
    lap(0);
    let revoked = on!(
        target,
        sqlx::query("SELECT 1 FROM revocations WHERE kid = $1 AND idx = $2")
            .bind("breakdown")
            .bind(index),
        fetch_optional
    )
    .map_err(q)?;
    std::hint::black_box(revoked);
    lap(1);
    on!(
        target,
        sqlx::query("SELECT 1 FROM accounts WHERE network_id = $1").bind(account),
        fetch_optional
    )
    .map_err(q)?
    .ok_or("breakdown: no account")?;
    lap(2);
    on!(
        target,
        sqlx::query(
            "INSERT INTO devices (device_id, family, network_id, name, signed_in_at, last_seen_at, signed_out_at) \
             VALUES ($1, $2, $3, $4, $5, $5, NULL)"
        )
        .bind(nonce)
        .bind(nonce)
        .bind(account)
        .bind("未命名设备")
        .bind(now),
        execute
    )
    .map_err(q)?;
    lap(3);
    on!(
        target,
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, request_id) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(now)
        .bind("citizen")
        .bind("auth.login")
        .bind(account)
        .bind(nonce),
        execute
    )
    .map_err(q)?;
    lap(4);
    let row = on!(
        target,
        sqlx::query(
            "SELECT kid, private_pem FROM jwt_keys WHERE retired_at IS NULL ORDER BY created_at, kid LIMIT 1"
        ),
        fetch_optional
    )
    .map_err(q)?;
    if let Some(row) = row {
        let pem: String = row.try_get("private_pem").map_err(q)?;
        std::hint::black_box(pem);
    }
    lap(5);
    on!(
        target,
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, network_id, expires_at, rotated, revoked) \
             VALUES ($1, $2, $3, $4, 0, 0)"
        )
        .bind(nonce)
        .bind(nonce)
        .bind(account)
        .bind(now + 86_400),
        execute
    )
    .map_err(q)?;
    lap(6);
    Ok(times)
}

/// One way of running the statements: median time per statement, median
/// total, and CPU per login of this process and of the PostgreSQL backends.
#[derive(Debug)]
struct SqlVariant {
    steps: Vec<f64>,
    total_us: f64,
    own_cpu_us: Option<f64>,
    postgres_cpu_us: Option<f64>,
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times
        .get(times.len() / 2)
        .map_or(0.0, |t| t.as_secs_f64() * 1e6)
}

async fn db_breakdown(
    iterations: usize,
    database_url: Option<String>,
) -> Result<(String, Vec<(String, f64, String)>), String> {
    use sqlx::{Connection as _, Executor as _};
    use yiwang_server::db::{Backend, Db};
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = database_url
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("yiwang.db").display()));
    // The server's pool: migrations, its pragmas, and its pool options
    // (sqlx's default `test_before_acquire`: a ping before each statement).
    let db = Db::connect(&url).await.map_err(|e| e.to_string())?;
    let sqlite = db.backend() == Backend::Sqlite;
    let backend = if sqlite {
        "SQLite (WAL, synchronous=NORMAL)"
    } else {
        "PostgreSQL"
    };
    // The same, without the ping.
    let unpinged = sqlx::any::AnyPoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    let q = |e: sqlx::Error| e.to_string();
    let mut tag = [0u8; 6];
    yiwang_core::crypto::random_bytes(&mut tag).map_err(|e| e.to_string())?;
    let tag = hex::encode(tag);
    let now = yiwang_server::issuer::now();
    let account = format!("breakdown-{tag}");
    sqlx::query(
        "INSERT INTO accounts (network_id, person_key, kid, status_index, generation, created_at, updated_at) \
         VALUES ($1, $1, 'breakdown', 0, 1, $2, $2)",
    )
    .bind(&account)
    .bind(now)
    .execute(db.pool())
    .await
    .map_err(q)?;
    // A server that ran on this database has a current key already; the
    // query reads one row either way.
    let jwt_pem = yiwang_core::crypto::SigningKey::generate(Suite::Intl)
        .and_then(|k| k.to_pkcs8_pem())
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO jwt_keys (kid, private_pem, created_at, retired_at) VALUES ($1, $2, $3, NULL)",
    )
    .bind(&account)
    .bind(jwt_pem.as_str())
    .bind(now)
    .execute(db.pool())
    .await
    .map_err(q)?;
    const VARIANTS: usize = 3;
    for variant in 0..VARIANTS {
        for i in 0..iterations {
            sqlx::query(
                "INSERT INTO login_challenges (nonce, expires_at, used) VALUES ($1, $2, 0)",
            )
            .bind(format!("{tag}-{variant}-{i}"))
            .bind(now + 3600)
            .execute(db.pool())
            .await
            .map_err(q)?;
        }
    }
    let mut results = Vec::new();
    for variant in 0..VARIANTS {
        let mut steps: Vec<Vec<Duration>> = vec![Vec::new(); 7];
        let mut totals = Vec::with_capacity(iterations);
        let (own_before, postgres_before) = (cpu_ticks("/proc/self/stat"), postgres_ticks());
        for i in 0..iterations {
            let nonce = format!("{tag}-{variant}-{i}");
            let started = Instant::now();
            let times = match variant {
                0 => {
                    login_statements(
                        &mut Target::Pool(db.pool()),
                        &nonce,
                        i as i64,
                        &account,
                        now,
                    )
                    .await?
                }
                1 => {
                    login_statements(
                        &mut Target::Pool(&unpinged),
                        &nonce,
                        i as i64,
                        &account,
                        now,
                    )
                    .await?
                }
                _ => {
                    let mut conn = unpinged.acquire().await.map_err(q)?;
                    let mut tx = conn.begin().await.map_err(q)?;
                    let times = login_statements(
                        &mut Target::Conn(&mut tx),
                        &nonce,
                        i as i64,
                        &account,
                        now,
                    )
                    .await?;
                    tx.commit().await.map_err(q)?;
                    times
                }
            };
            totals.push(started.elapsed());
            for (step, time) in times.into_iter().enumerate() {
                steps[step].push(time);
            }
        }
        let (own_after, postgres_after) = (cpu_ticks("/proc/self/stat"), postgres_ticks());
        let per_login_us = |ticks: u64| ticks as f64 * TICK_MS * 1000.0 / iterations as f64;
        results.push(SqlVariant {
            steps: steps.into_iter().map(median).collect(),
            total_us: median(totals),
            own_cpu_us: own_before
                .zip(own_after)
                .map(|(b, a)| per_login_us(a.saturating_sub(b))),
            postgres_cpu_us: (postgres_after > postgres_before)
                .then(|| per_login_us(postgres_after - postgres_before)),
        });
    }
    unpinged.close().await;
    db.close().await;
    const STEPS: [&str; 7] = [
        "UPDATE login_challenges (take the challenge)",
        "SELECT revocations (this credential's index)",
        "SELECT accounts",
        "INSERT devices",
        "INSERT audit_log",
        "SELECT jwt_keys (signing key)",
        "INSERT refresh_tokens",
    ];
    let mut rows: Vec<(String, f64, String)> = STEPS
        .iter()
        .zip(&results[0].steps)
        .map(|(name, us)| (name.to_string(), *us, String::new()))
        .collect();
    let names = [
        "**SQL, the server's way**: 7 statements, each on a connection from the pool (sqlx pings it first), autocommit",
        "the same without the ping (`test_before_acquire(false)`)",
        "the same on one connection in one transaction, no ping",
    ];
    for (name, variant) in names.iter().zip(&results) {
        let cpu = match (variant.own_cpu_us, variant.postgres_cpu_us) {
            (Some(own), Some(pg)) => format!("{own:.0} + PostgreSQL {pg:.0}"),
            (Some(own), None) => format!("{own:.0}"),
            _ => String::new(),
        };
        rows.push((name.to_string(), variant.total_us, cpu));
    }
    Ok((backend.to_owned(), rows))
}

async fn breakdown(iterations: usize, database_url: Option<String>) -> Result<(), String> {
    let crypto = tokio::task::spawn_blocking(move || crypto_breakdown(iterations))
        .await
        .map_err(|e| e.to_string())??;
    let (backend, sql) = db_breakdown(iterations, database_url).await?;
    println!(
        "| one login, server side, each piece alone, one after the other ({iterations} runs) | median µs | CPU µs per login |"
    );
    println!("|---|---|---|");
    for (name, us) in &crypto {
        println!("| {name} | {us:.1} | (same) |");
    }
    for (name, us, cpu) in &sql {
        println!("| {backend}: {name} | {us:.1} | {cpu} |");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_id_numbers_are_valid_and_distinct() {
        let numbers: std::collections::BTreeSet<String> =
            (0..3000u32).map(|v| id_number(v * 7919)).collect();
        assert_eq!(numbers.len(), 3000);
        for number in &numbers {
            IdNumber::parse(number).unwrap();
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted, 100.0), 100.0);
        assert_eq!(format_thousands(1234567.4), "1,234,567");
        assert_eq!(format_thousands(999.0), "999");
    }

    /// The harness against the real `yiwang serve` on SQLite with tiny numbers,
    /// and against the trivial route in process: every request answered,
    /// every latency recorded. No timing is asserted.
    #[test]
    fn twenty_logins_against_the_real_server() {
        let workdir = tempfile::tempdir().unwrap();
        let server = yiwang_e2e::Server::start(
            workdir.path(),
            &[],
            &[
                ("YIWANG_RATE_LIMIT_BURST", "1000000"),
                ("YIWANG_RATE_LIMIT_PER_SECOND", "1000000"),
            ],
        );
        let rt = runtime().unwrap();
        let (logins, batches, trivial) = rt.block_on(async {
            let client = client(4).unwrap();
            let batches = std::sync::Mutex::new(0);
            let logins = login_run(&client, &server.base_url, 20, 4, 8, None, |_| {
                *batches.lock().unwrap() += 1;
            })
            .await
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(serve_trivial(listener));
            let trivial = trivial_run(&client, &format!("http://{address}"), "/", 20, 4, None)
                .await
                .unwrap();
            (logins, batches.into_inner().unwrap(), trivial)
        });
        assert_eq!(logins.errors, 0, "{:?}", logins.error_samples);
        assert_eq!(logins.latencies.len(), 20);
        assert_eq!(batches, 3, "20 logins in batches of 8");
        assert_eq!(trivial.errors, 0, "{:?}", trivial.error_samples);
        assert_eq!(trivial.latencies.len(), 20);
        server.terminate(Duration::from_secs(20));
    }
}
