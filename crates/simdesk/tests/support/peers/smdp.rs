//! The workspace's test SM-DP+ (`simdesk-test-smdp`, ES2+ over HTTPS with mutual TLS) on a free
//! loopback port, with test certificates of its own and the profiles a test gives it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PROGRAM: &str = "simdesk-test-smdp";

/// The bearer token the test SM-DP+ sends with its notifications, and simdesk expects.
pub const NOTIFY_TOKEN: &str = "test-smdp-notification-token";

/// A running test SM-DP+; killed when dropped.
pub struct Smdp {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    dir: tempfile::TempDir,
    child: Child,
}

/// A test SM-DP+ with its certificates and profiles made and its port chosen, not yet serving:
/// simdesk can be set up to reach it (and to be reached by it) before it starts.
pub struct SmdpSetup {
    dir: tempfile::TempDir,
    port: u16,
}

impl Smdp {
    /// Starts it with these profiles (ICCID, profile type), notifying nobody.
    pub fn start(profiles: &[(&str, &str)]) -> Smdp {
        Smdp::prepare(profiles).run(None)
    }

    /// Makes its certificates and profile list and picks its loopback port.
    pub fn prepare(profiles: &[(&str, &str)]) -> SmdpSetup {
        let program = program();
        let dir = tempfile::tempdir().expect("temp dir for the SM-DP+");
        let made = Command::new(&program)
            .arg("certs")
            .arg(dir.path().join("certs"))
            .stdout(Stdio::null())
            .status()
            .expect("simdesk-test-smdp runs");
        assert!(made.success(), "simdesk-test-smdp certs failed");
        let list: String = profiles
            .iter()
            .map(|(iccid, kind)| format!("{iccid},{kind}\n"))
            .collect();
        std::fs::write(dir.path().join("profiles.csv"), list).expect("profiles file");
        // A port free now; the SM-DP+ binds it moments later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        SmdpSetup { dir, port }
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// The `[smdp]` settings that reach it as the operator.
    pub fn settings(&self) -> simdesk::adapters::smdp::SmdpSettings {
        settings(&self.url, &self.dir.path().join("certs"))
    }

    /// GETs its control API (as the operator, over mutual TLS) and reads the JSON answer.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        self.control("GET", path, None).await
    }

    /// POSTs to its control API: a phone's step (`/test/profiles/ICCID/install`), a fault to
    /// inject (`/test/fail-next`).
    pub async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.control("POST", path, Some(body)).await
    }

    async fn control(
        &self,
        method: &'static str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let agent = self.operator_agent();
        let url = format!("{}{path}", self.url);
        tokio::task::spawn_blocking(move || {
            let mut answer = match body {
                Some(body) => agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(body.to_string()),
                None => agent.get(&url).call(),
            }
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let text = answer.body_mut().read_to_string().unwrap();
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        })
        .await
        .unwrap()
    }

    /// A client holding the operator's certificate, trusting the test CA.
    pub fn operator_agent(&self) -> ureq::Agent {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let read = |f: &str| std::fs::read(self.certs().join(f)).unwrap();
        let ca = Certificate::from_pem(&read("ca.pem")).unwrap().to_owned();
        let cert = Certificate::from_pem(&read("operator.pem"))
            .unwrap()
            .to_owned();
        let key = PrivateKey::from_pem(&read("operator-key.pem"))
            .unwrap()
            .to_owned();
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&[ca]))
            .client_cert(Some(ClientCert::new_with_certs(&[cert], key)))
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .new_agent()
    }
}

impl SmdpSetup {
    pub fn settings(&self) -> simdesk::adapters::smdp::SmdpSettings {
        settings(
            &format!("https://127.0.0.1:{}", self.port),
            &self.dir.path().join("certs"),
        )
    }

    /// Serves, sending its notifications to simdesk at `notify_url` (its base URL) if given.
    pub fn run(self, notify_url: Option<&str>) -> Smdp {
        let certs = self.dir.path().join("certs");
        let mut command = Command::new(program());
        command
            .args(["serve", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--certs")
            .arg(&certs)
            .arg("--profiles")
            .arg(self.dir.path().join("profiles.csv"))
            .args(["--notify-backoff-ms", "50"])
            .env("SIMDESK_TEST_SMDP_NOTIFY_TOKEN", NOTIFY_TOKEN);
        if let Some(url) = notify_url {
            command.args(["--notify-url", url]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("simdesk-test-smdp serve starts");
        let stdout = child.stdout.take().expect("its stdout");
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("its stdout reads");
            if let Some(rest) = line.strip_prefix("listening on ") {
                url = Some(rest.trim().to_string());
                break;
            }
        }
        let url = url.expect("simdesk-test-smdp said where it listens");
        Smdp {
            url,
            dir: self.dir,
            child,
        }
    }
}

fn settings(url: &str, certs: &Path) -> simdesk::adapters::smdp::SmdpSettings {
    simdesk::adapters::smdp::SmdpSettings {
        url: url.to_string(),
        certificate: certs.join("operator.pem"),
        key: certs.join("operator-key.pem"),
        ca: Some(certs.join("ca.pem")),
        requester_id: "simdesk.test".into(),
        timeout_secs: 5,
        notification_token: Some(NOTIFY_TOKEN.into()),
        points: simdesk_domain::esim::CustomPoints {
            enabling: Some(100),
            disabling: Some(101),
        },
    }
}

impl Drop for Smdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The program beside the test binaries (`cargo test --workspace` builds it); built on demand
/// when a lone `cargo test -p simdesk` did not.
fn program() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = debug_dir.join(PROGRAM);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "simdesk-test-smdp"])
            .status()
            .expect("cargo builds simdesk-test-smdp");
        assert!(built.success(), "cargo build -p simdesk-test-smdp failed");
    }
    assert!(path.exists(), "{} is missing", path.display());
    path
}
