//! The workspace's test SM-DP+ (`simdesk-test-smdp`, ES2+ over HTTPS with mutual TLS) on a free
//! loopback port, with test certificates of its own and the profiles a test gives it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PROGRAM: &str = "simdesk-test-smdp";

/// A running test SM-DP+; killed when dropped.
pub struct Smdp {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Smdp {
    /// Starts it with these profiles (ICCID, profile type).
    pub fn start(profiles: &[(&str, &str)]) -> Smdp {
        let program = program();
        let dir = tempfile::tempdir().expect("temp dir for the SM-DP+");
        let certs = dir.path().join("certs");
        let made = Command::new(&program)
            .arg("certs")
            .arg(&certs)
            .stdout(Stdio::null())
            .status()
            .expect("simdesk-test-smdp runs");
        assert!(made.success(), "simdesk-test-smdp certs failed");
        let list: String = profiles
            .iter()
            .map(|(iccid, kind)| format!("{iccid},{kind}\n"))
            .collect();
        let profiles_file = dir.path().join("profiles.csv");
        std::fs::write(&profiles_file, list).expect("profiles file");
        let mut child = Command::new(&program)
            .args(["serve", "--listen", "127.0.0.1:0", "--certs"])
            .arg(&certs)
            .arg("--profiles")
            .arg(&profiles_file)
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
        Smdp { url, dir, child }
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// The `[smdp]` settings that reach it as the operator.
    pub fn settings(&self) -> simdesk::adapters::smdp::SmdpSettings {
        let certs = self.certs();
        simdesk::adapters::smdp::SmdpSettings {
            url: self.url.clone(),
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
