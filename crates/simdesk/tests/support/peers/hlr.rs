//! OsmoHLR on its own loopback address, with its own database file.
//!
//! osmo-hlr's GSUP (4222), VTY (4258) and CTRL (4259) ports are fixed, and NATS holds
//! 127.0.0.1:4222 here, so each instance gets an address 127.0.0.N of its own, N from 2 upward.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

const PROGRAM: &str = "osmo-hlr";
const CTRL_PORT: u16 = 4259;
const FIXED_PORTS: [u16; 3] = [4222, 4258, CTRL_PORT];
const READY_WITHIN: Duration = Duration::from_secs(5);
/// Held by a harness for as long as its HLR lives, so test processes running side by side skip
/// each other's addresses; the kernel lets go of it even when a test process dies.
const CLAIM_PORT: u16 = 42590;

/// Hands each harness in this process a different address, so parallel tests never collide.
static NEXT_HOST: AtomicU8 = AtomicU8::new(2);

/// A running osmo-hlr; killed when dropped.
pub struct Hlr {
    ip: IpAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
    _claim: TcpListener,
}

impl Hlr {
    /// Starts osmo-hlr on the next free loopback address with a fresh database.
    pub fn start() -> Hlr {
        if Command::new(PROGRAM)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            panic!("osmo-hlr is not installed: run `apt-get install -y osmo-hlr` (scripts/test installs it)");
        }
        loop {
            let host = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
            assert!(
                (2..255).contains(&host),
                "no free loopback address left for osmo-hlr"
            );
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, host));
            let Ok(claim) = TcpListener::bind(SocketAddr::new(ip, CLAIM_PORT)) else {
                continue;
            };
            if !ports_free(ip) {
                continue;
            }
            let dir = tempfile::tempdir().expect("temp dir for osmo-hlr");
            std::fs::write(dir.path().join("osmo-hlr.cfg"), config(ip)).expect("write config");
            let mut hlr = Hlr {
                ip,
                dir,
                child: None,
                _claim: claim,
            };
            // Something outside this harness may take the address between the check and
            // osmo-hlr's bind; `spawn` notices, and the next address is tried.
            if hlr.spawn() {
                return hlr;
            }
        }
    }

    /// The CTRL interface's address, for `HlrNetwork::new`.
    pub fn ctrl(&self) -> SocketAddr {
        SocketAddr::new(self.ip, CTRL_PORT)
    }

    /// Kills osmo-hlr; its database file stays for `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts osmo-hlr again on the same address with the same database.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "osmo-hlr did not come back on {}; its log:\n{}",
            self.ctrl(),
            self.log()
        );
    }

    /// A raw CTRL `GET` of `variable`, independent of the adapter under test; `None` on `ERROR`.
    pub fn get(&self, variable: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.ctrl(), Duration::from_secs(2))
            .expect("connect to osmo-hlr's CTRL");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("read timeout");
        let text = format!("GET 1 {variable}");
        let length = u16::try_from(text.len() + 1).expect("short command");
        let mut frame = length.to_be_bytes().to_vec();
        frame.extend_from_slice(&[0xEE, 0x00]);
        frame.extend_from_slice(text.as_bytes());
        stream.write_all(&frame).expect("send CTRL GET");
        loop {
            let mut header = [0u8; 3];
            stream.read_exact(&mut header).expect("CTRL reply header");
            let mut payload = vec![0u8; usize::from(u16::from_be_bytes([header[0], header[1]]))];
            stream.read_exact(&mut payload).expect("CTRL reply");
            if header[2] != 0xEE || payload.first() != Some(&0x00) {
                continue;
            }
            let reply = String::from_utf8_lossy(&payload[1..]).into_owned();
            let mut parts = reply.splitn(4, ' ');
            match (parts.next(), parts.next()) {
                (Some("GET_REPLY"), Some("1")) => {
                    return Some(parts.nth(1).unwrap_or_default().to_string())
                }
                (Some("ERROR"), _) => return None,
                _ => continue,
            }
        }
    }

    /// What osmo-hlr wrote to stderr, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("osmo-hlr.log")
    }

    /// Spawns osmo-hlr and waits until its own CTRL accepts; false if it could not take the
    /// address.
    fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("osmo-hlr log file");
        // Only what this run writes counts; a restart appends to the same log.
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let mut child = Command::new(PROGRAM)
            .arg("-c")
            .arg(self.dir.path().join("osmo-hlr.cfg"))
            .arg("-l")
            .arg(self.dir.path().join("hlr.db"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn osmo-hlr");
        // osmo-hlr exits when VTY or GSUP cannot bind but carries on without CTRL when 4259 is
        // taken, so a CTRL that accepts may be someone else's: its own log line is the proof.
        let bound = format!("CTRL at {} {CTRL_PORT}", self.ip);
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let log = self.log();
            let this_run = log.get(log_start..).unwrap_or_default();
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || this_run.contains("unable to bind socket") {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            if this_run.contains(&bound)
                && TcpStream::connect_timeout(&self.ctrl(), Duration::from_millis(100)).is_ok()
            {
                self.child = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "osmo-hlr did not open CTRL on {} within {READY_WITHIN:?}; its log:\n{log}",
                    self.ctrl()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Hlr {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binding every fixed port ourselves is the surest test that osmo-hlr can; it also skips an
/// address where an HLR started by something other than this harness already listens.
fn ports_free(ip: IpAddr) -> bool {
    FIXED_PORTS
        .iter()
        .all(|&port| TcpListener::bind(SocketAddr::new(ip, port)).is_ok())
}

fn config(ip: IpAddr) -> String {
    format!(
        "log stderr
 logging filter all 1
 logging color 0
 logging print category 1
 logging print level 1
 logging level main notice
 logging level db notice
 logging level linp error
!
line vty
 bind {ip}
ctrl
 bind {ip}
hlr
 gsup
  bind ip {ip}
"
    )
}
