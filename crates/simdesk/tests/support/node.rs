//! A `simdesk serve` process on a loopback port that a test starts, kills and starts again.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node; killed when dropped.
pub struct Node {
    pub name: String,
    pub port: u16,
    db_url: String,
    keys_dir: PathBuf,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    starts: u32,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Node {
    /// A node named `name` on `db_url` with the test database's keys, on a free port, with
    /// these extra `SIMDESK_*` settings; not started yet.
    pub fn new(
        name: &str,
        db_url: &str,
        keys_dir: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> Node {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Node {
            name: name.to_string(),
            port,
            db_url: db_url.to_string(),
            keys_dir: keys_dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            starts: 0,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.data_dir.join(format!("{}-{start}.log", self.name))
    }

    /// What the node has logged, every start included.
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.log_path(n)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- started again ---\n")
    }

    /// Starts the process (again, on the same port) and waits until it answers `/readyz`.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).expect("node log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_simdesk"));
        command
            .env("SIMDESK_KEYS_DIR", &self.keys_dir)
            .env("SIMDESK_NODE_NAME", &self.name)
            .env("SIMDESK_LOG", "warn");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let child = command
            .args([
                "--db",
                &self.db_url,
                "--data-dir",
                self.data_dir.to_str().expect("a UTF-8 path"),
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start simdesk serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.assert_running();
            let url = format!("{}/readyz", self.base());
            let up = tokio::task::spawn_blocking(move || {
                ureq::get(&url)
                    .call()
                    .map(|r| r.status().as_u16() == 200)
                    .unwrap_or(false)
            })
            .await
            .expect("readiness probe");
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no chance to finish a request or give anything back.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails the test, with the node's log, if the process has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            panic!("{} exited with {status}:\n{}", self.name, self.log());
        }
    }
}
