//! An SMTP server (aiosmtpd) that keeps every message it receives in a maildir.

use mailparse::{DispositionType, MailHeaderMap, ParsedMail};
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Debian's interpreter, on purpose: the python3-aiosmtpd package installs into it, and a python
/// earlier on PATH (pyenv, a virtualenv) would not see the module.
const PYTHON: &str = "/usr/bin/python3";
const NOT_INSTALLED: &str = "aiosmtpd is not installed: run `apt-get install -y python3-aiosmtpd` (scripts/test installs it)";
/// How long aiosmtpd may take to listen; Python's start-up on a loaded runner is slow.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running aiosmtpd on a loopback port; killed when dropped.
pub struct Smtp {
    addr: SocketAddr,
    maildir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// One message as the server stored it, decoded.
#[derive(Debug, Clone)]
pub struct Received {
    /// The stored file: the message as sent, line ends turned into `\n` and the server's
    /// `X-Peer`, `X-MailFrom` and `X-RcptTo` headers added.
    pub raw: Vec<u8>,
    /// The `From` header.
    pub from: String,
    /// The `To` header.
    pub to: String,
    /// The `Subject` header, encoded words decoded.
    pub subject: String,
    /// The `Message-ID` header, angle brackets included.
    pub message_id: String,
    /// The first text/plain part that is not an attachment, decoded, line ends as `\n`.
    pub text: String,
    /// The first text/html part that is not an attachment, decoded, line ends as `\n`.
    pub html: String,
    /// (filename, content type, decoded bytes) of every attachment, in order.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

fn assert_installed() {
    let found = python()
        .args(["-c", "import aiosmtpd.handlers"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(found, "{NOT_INSTALLED}");
}

/// The interpreter without the caller's Python environment, which could point it at other
/// site-packages than Debian's.
fn python() -> Command {
    let mut command = Command::new(PYTHON);
    command.env_remove("PYTHONPATH").env_remove("PYTHONHOME");
    command
}

/// A loopback port free now and never handed to another server of this process: tests run in
/// parallel, and two servers given the same port would answer each other's probes.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a loopback port")
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Starts aiosmtpd and waits until it accepts connections, or says why it did not.
fn spawn(addr: SocketAddr, maildir: &Path, log: &Path) -> Result<Child, String> {
    // Something else answering on the port would pass the readiness probe below for us.
    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        return Err(format!("{addr} is already taken by another program"));
    }
    let log_file = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("clone log handle: {e}"))?;
    let mut child = python()
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(addr.to_string())
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("run {PYTHON}: {e}"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let output = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("aiosmtpd exited with {status}: {output}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // Only ours if it is still running: a server that lost the port exits at once.
            std::thread::sleep(Duration::from_millis(100));
            if let Ok(None) = child.try_wait() {
                return Ok(child);
            }
            continue;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let output = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "aiosmtpd did not listen on {addr} within {START_TIMEOUT:?}: {output}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Smtp {
    /// Starts aiosmtpd on a free loopback port, storing into a fresh maildir.
    pub fn start() -> Smtp {
        assert_installed();
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        let log = dir.path().join("aiosmtpd.log");
        // The port is free when picked but another process may take it before aiosmtpd binds;
        // a few attempts make that race harmless.
        let mut failures = Vec::new();
        for _ in 0..3 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            match spawn(addr, &maildir, &log) {
                Ok(child) => {
                    return Smtp {
                        addr,
                        maildir,
                        log,
                        child: Some(child),
                        _dir: dir,
                    }
                }
                Err(failure) => failures.push(failure),
            }
        }
        panic!("aiosmtpd did not start:\n{}", failures.join("\n"));
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills the server; connections to its port are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and maildir, keeping what it already received.
    pub fn restart(&mut self) {
        self.stop();
        // A freshly freed port can be taken by someone else only by bad luck; say so plainly.
        let child = spawn(self.addr, &self.maildir, &self.log)
            .unwrap_or_else(|e| panic!("aiosmtpd did not restart on {}: {e}", self.addr));
        self.child = Some(child);
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let new = self.maildir.join("new");
        let entries = match std::fs::read_dir(&new) {
            Ok(entries) => entries,
            // The Mailbox handler creates the maildir on start; before that there is no mail.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("read {}: {e}", new.display()),
        };
        let mut files: Vec<(SystemTime, PathBuf)> = entries
            .map(|entry| {
                let entry = entry.expect("maildir entry");
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .expect("maildir file time");
                (modified, entry.path())
            })
            .collect();
        // Maildir names are not ordered by arrival (microseconds are not zero-padded), so order
        // by the time each file was written, then by name to settle ties.
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let raw =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                decode(raw).unwrap_or_else(|e| panic!("decode {}: {e}", path.display()))
            })
            .collect()
    }

    /// Waits until at least `n` messages have arrived and returns them all; panics after
    /// `timeout` with what did arrive.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "expected {n} messages within {timeout:?}, got {}: {:#?}\naiosmtpd log:\n{log}",
                    messages.len(),
                    messages
                        .iter()
                        .map(|m| (&m.to, &m.subject))
                        .collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn header(mail: &ParsedMail<'_>, name: &str) -> String {
    mail.headers.get_first_value(name).unwrap_or_default()
}

fn unix_lines(text: String) -> String {
    text.replace("\r\n", "\n")
}

fn decode(raw: Vec<u8>) -> Result<Received, mailparse::MailParseError> {
    let (from, to, subject, message_id, text, html, attachments) = {
        let mail = mailparse::parse_mail(&raw)?;
        let mut text = None;
        let mut html = None;
        let mut attachments = Vec::new();
        for part in mail.parts() {
            let disposition = part.get_content_disposition();
            if disposition.disposition == DispositionType::Attachment {
                let filename = disposition
                    .params
                    .get("filename")
                    .or_else(|| part.ctype.params.get("name"))
                    .cloned()
                    .unwrap_or_default();
                attachments.push((filename, part.ctype.mimetype.clone(), part.get_body_raw()?));
                continue;
            }
            match part.ctype.mimetype.as_str() {
                "text/plain" if text.is_none() => text = Some(unix_lines(part.get_body()?)),
                "text/html" if html.is_none() => html = Some(unix_lines(part.get_body()?)),
                _ => {}
            }
        }
        (
            header(&mail, "From"),
            header(&mail, "To"),
            header(&mail, "Subject"),
            header(&mail, "Message-ID").trim().to_string(),
            text.unwrap_or_default(),
            html.unwrap_or_default(),
            attachments,
        )
    };
    Ok(Received {
        raw,
        from,
        to,
        subject,
        message_id,
        text,
        html,
        attachments,
    })
}
