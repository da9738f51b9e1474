//! HTTP load against a real `simdesk serve` process: keep-alive connections, latencies, and the
//! server's resident memory.

use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A `simdesk serve` child on a loopback port, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(db: &str, data_dir: &Path) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("finding the simdesk binary")?;
        let mut child = Command::new(exe)
            .args(["--db", db, "--data-dir"])
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("SIMDESK_KEYS_DIR")
            .env_remove("SIMDESK_MASTER_KEY")
            .env_remove("SIMDESK_CONFIG")
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting simdesk serve")?;
        let stdout = child
            .stdout
            .take()
            .context("reading simdesk serve's output")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                anyhow::bail!("simdesk serve stopped before listening");
            }
            if let Some(url) = line.trim().strip_prefix("simdesk is serving on ") {
                let base = url.to_string();
                // Keep draining its output so it never blocks on a full pipe.
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                        sink.clear();
                    }
                });
                return Ok(Server { child, base });
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident memory in bytes (Linux `/proc`), and its peak.
pub fn resident_memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub requests: u64,
    pub failures: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// The server's highest resident memory seen during the run, in bytes.
    pub peak_rss: u64,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One request a client sends: method, path and body.
pub enum Call {
    Get(String),
    PostJson(String, String),
}

/// Sends `next(i)` from `connections` keep-alive clients until `duration` is over or `next` says
/// there is nothing more; counts answers other than `ok` as failures.
pub async fn run<F>(
    base: &str,
    token: &str,
    connections: usize,
    duration: Duration,
    server_pid: Option<u32>,
    ok: fn(u16) -> bool,
    next: F,
) -> anyhow::Result<LoadReport>
where
    F: Fn(u64) -> Option<Call> + Send + Sync + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()?;
    let next = Arc::new(next);
    let counter = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = server_pid.map(|pid| {
        let done = done.clone();
        let peak = peak.clone();
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Some((rss, _)) = resident_memory(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let next = next.clone();
        let counter = counter.clone();
        let failures = failures.clone();
        let base = base.to_string();
        let auth = format!("Bearer {token}");
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let Some(call) = next(i) else { break };
                let request = match call {
                    Call::Get(path) => client.get(format!("{base}{path}")),
                    Call::PostJson(path, body) => client
                        .post(format!("{base}{path}"))
                        .header("content-type", "application/json")
                        .body(body),
                };
                let sent = Instant::now();
                let status = match request.header("authorization", &auth).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => 0,
                };
                latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                if !ok(status) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.await;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|us| Duration::from_micros(u64::from(*us)))
            .unwrap_or_default()
    };
    Ok(LoadReport {
        requests: all.len() as u64,
        failures: failures.load(Ordering::Relaxed),
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        peak_rss: peak.load(Ordering::Relaxed),
    })
}
