//! Helpers for the end-to-end tests: find (or build) the `yiwang` binary and
//! run `yiwang serve` as a child process on a free loopback port.

pub mod fake_push;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Path of the `yiwang` binary of this workspace's current profile, built on
/// first use if `cargo test` did not build it already.
pub fn yiwang_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // target/<profile>/deps/<test-binary> → target/<profile>/yiwang
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let binary = profile_dir.join(format!("yiwang{}", std::env::consts::EXE_SUFFIX));
        if !binary.exists() {
            let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            build.args(["build", "-p", "yiwang-server", "--bin", "yiwang"]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "cargo build of yiwang failed");
        }
        binary
    })
}

/// A running `yiwang serve`; killed on drop if still running.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `yiwang serve --bind 127.0.0.1:0` in `workdir` with `env`, and
    /// waits for its "listening" log line to learn the port.
    pub fn start(workdir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_binary(yiwang_binary(), workdir, args, env)
    }

    /// [`Server::start`] with a given `yiwang` binary (e.g. a release build).
    pub fn start_binary(
        binary: &Path,
        workdir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .current_dir(workdir)
            .env("YIWANG_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn yiwang serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(address) = listening_address(&line) {
                    let _ = tx.send(address);
                    sent = true;
                }
                eprintln!("[yiwang] {line}");
                kept.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("yiwang serve did not report its address");
        Server {
            child,
            base_url: format!("http://{address}"),
            log,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line the server has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status.
    pub fn terminate(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `... yiwang listening address=127.0.0.1:PORT ...` → `127.0.0.1:PORT`
fn listening_address(line: &str) -> Option<String> {
    if !line.contains("yiwang listening") {
        return None;
    }
    let start = line.find("address=")? + "address=".len();
    let rest = &line[start..];
    Some(rest.split_whitespace().next()?.to_owned())
}

/// For the benchmark harnesses: `given`, or the `yiwang` binary next to
/// the running program.
pub fn sibling_yiwang(given: Option<PathBuf>) -> Result<PathBuf, String> {
    match given {
        Some(path) => Ok(path),
        None => std::env::current_exe()
            .map(|exe| exe.with_file_name("yiwang"))
            .map_err(|e| e.to_string()),
    }
}

/// For the benchmark harnesses: the database `url`, or a new SQLite file in
/// `dir`; with the backend's name.
pub fn bench_database(dir: &Path, url: Option<String>) -> (String, &'static str) {
    let url = url.unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    (url, backend)
}

/// For the benchmark harnesses: a config with `admin_token` and the request
/// timeout and rate limits lifted, to which `push` (the `[push]` table and
/// anything after it) is appended.
pub fn bench_config(admin: &str, push: &str) -> String {
    format!(
        "admin_token = \"{admin}\"\nrequest_timeout_secs = 600\nrate_limit_burst = 1000000\n\
         rate_limit_per_second = 1000000\n\n{push}"
    )
}

/// For the benchmark harnesses: `yiwang serve` with `config` (written to
/// `dir`) on `database_url`, logging at `YIWANG_LOG` (default warnings and
/// yiwang's info).
pub fn bench_server(
    yiwang: &Path,
    dir: &Path,
    database_url: &str,
    config: &str,
) -> Result<Server, String> {
    let path = dir.join("yiwang.toml");
    std::fs::write(&path, config).map_err(|e| e.to_string())?;
    let log = std::env::var("YIWANG_LOG").unwrap_or_else(|_| "warn,yiwang=info".to_owned());
    Ok(Server::start_binary(
        yiwang,
        dir,
        &["--config", &path.display().to_string()],
        &[("YIWANG_DATABASE_URL", database_url), ("YIWANG_LOG", &log)],
    ))
}

/// The machine's CPU time so far, from the first line of `/proc/stat`, in
/// seconds: busy (user, nice, system, irq, softirq) and stolen by the
/// hypervisor. `None` where there is no `/proc/stat`. Benchmarks report the
/// busy seconds of their timed part, which vary less than its wall time on
/// a shared machine.
pub fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let at = |i: usize| fields.get(i).copied().unwrap_or(0) as f64;
    // USER_HZ is 100 on every Linux architecture Rust targets.
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    Some((busy / 100.0, at(7) / 100.0))
}

/// `yiwang dev seed-devices --count N --providers P` on `database_url`.
pub fn seed_devices(
    yiwang: &Path,
    database_url: &str,
    count: u64,
    providers: &str,
) -> Result<(), String> {
    let seeded = Command::new(yiwang)
        .args(["dev", "seed-devices", "--count", &count.to_string()])
        .args(["--providers", providers])
        .env("YIWANG_DATABASE_URL", database_url)
        .output()
        .map_err(|e| format!("{}: {e}", yiwang.display()))?;
    if seeded.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&seeded.stderr).into_owned())
    }
}

/// The `main` of a benchmark binary: runs `run` on a multi-threaded tokio
/// runtime; an error is printed as `<name>: <error>` and exits with 1.
pub fn bench_main(
    name: &str,
    run: impl std::future::Future<Output = Result<(), String>>,
) -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `curl -s -w '\n%{http_code}' URL` → (status, body): the way an operator would call it.
pub fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_the_log_line() {
        let line = "2026-11-22T19:00:00Z  INFO yiwang_server: yiwang listening address=127.0.0.1:4321 data_dir=data";
        assert_eq!(listening_address(line).as_deref(), Some("127.0.0.1:4321"));
        assert_eq!(listening_address("other line"), None);
    }
}
