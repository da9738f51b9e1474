//! Kannel bearerbox + smsbox with fakesmsc as the SMSC, on free loopback ports.
//!
//! fakesmsc runs in its interactive mode (no message on its command line): each line written to
//! its stdin, `SENDER RECEIVER TYPE DATA`, is delivered to bearerbox as an inbound SMS, and every
//! SMS bearerbox hands to the SMSC is logged on its stderr as
//! `Got message N: <SENDER RECEIVER TYPE DATA>`. TYPE is `text` (data as is, Kannel's internal
//! UTF-8), `ucs-2` (URL-encoded UTF-16BE bytes) or `data` (URL-encoded 8-bit).
//!
//! The sendsms-user and the sms-service have `max-messages` and `concatenation = true`, as an
//! operator's Kannel has them (README), so a long text reaches fakesmsc as several SMS, each
//! printed as `SENDER RECEIVER udh UDH data DATA`: UDH and DATA URL-encoded, and no coding.
//! The UDH carries the concatenation element (IEI 0x00: 8-bit reference, total, sequence; or IEI
//! 0x08 with a 16-bit reference). Kannel splits a UCS-2 text into 134-byte parts of UTF-16BE,
//! even inside a surrogate pair, and a 7-bit one into parts of at most 153 septets that it still
//! holds as UTF-8 (nothing is packed or turned into GSM 03.38 on the way to fakesmsc). So the
//! harness joins the parts' bytes in sequence order and decodes the whole message once.
//!
//! The coding of a message with a UDH is taken from Kannel rather than guessed: the bytes alone
//! cannot tell, since ASCII read as UTF-16BE is valid CJK and hiragana in UTF-16BE is valid
//! ASCII. bearerbox's access log records every message it sent, before splitting, with its coding
//! (`%c`: 0 7-bit, 1 8-bit, 2 UCS-2) and body (`%b`: hex for 8-bit and UCS-2, else the text
//! with bytes outside printable ASCII shown as `.`). A joined message takes the coding of the
//! logged message with the same sender and receiver whose body is its bytes, an exact hex match
//! winning over a text match; it is UTF-16BE for 2 and UTF-8 otherwise. Until that line is in
//! the log, the message does not count as received.
//!
//! A 7-bit text sent as one SMS is printed raw, so a line break would split it across two log
//! lines; simdesk's texts are single lines.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NOT_INSTALLED: &str =
    "Kannel is not installed: run `apt-get install -y kannel kannel-extras` (scripts/test installs it)";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";
const USERNAME: &str = "simdesk";
const PASSWORD: &str = "secret";
const ADMIN_PASSWORD: &str = "adminpw";
/// How long each program gets to come up; they take ~100 ms.
const STARTUP: Duration = Duration::from_secs(15);
/// fakesmsc reads stdin with a 1 s select, and each line must be taken before the next is written.
const INBOUND_TAKEN: Duration = Duration::from_secs(10);
/// fakesmsc reads each stdin line into a 256-byte buffer.
const MAX_INBOUND_LINE: usize = 255;

/// How many SMS Kannel may split one message into, for sendsms and for replies alike.
const MAX_MESSAGES: u8 = 5;
/// What bearerbox's access log records of each message; `%b` last, as it may hold spaces.
const ACCESS_LOG_FORMAT: &str = "%l from=%p to=%P coding=%c body=%b";
const SENT_MARKER: &str = "Sent SMS from=";

/// One message that reached the fake SMSC whole, i.e. would have gone to a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    pub from: String,
    pub to: String,
    pub text: String,
    /// How many SMS it travelled in: 1, or the parts Kannel split it into.
    pub parts: usize,
}

#[derive(Default)]
struct Output {
    /// Whole messages, in the order their last part arrived.
    messages: Vec<Arrival>,
    /// Split messages still missing parts.
    partial: Vec<Partial>,
    /// How many stdin lines fakesmsc has sent on as inbound SMS.
    inbound_taken: usize,
    /// fakesmsc's whole log, for failure messages.
    log: Vec<String>,
}

enum Arrival {
    Decoded(ReceivedSms),
    /// Sent with a UDH, so fakesmsc did not print its coding: it waits for the access log.
    Undecoded {
        from: String,
        to: String,
        bytes: Vec<u8>,
        parts: usize,
    },
}

/// The parts of one split message that arrived so far.
struct Partial {
    from: String,
    to: String,
    concat: Concat,
    /// Sequence number → data.
    parts: BTreeMap<u8, Vec<u8>>,
}

/// The concatenation element of a UDH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Concat {
    /// An 8-bit and a 16-bit reference of the same value belong to different messages.
    reference: (bool, u16),
    total: u8,
    seq: u8,
}

impl Output {
    fn add(&mut self, got: Got) {
        match got {
            Got::Whole(sms) => self.messages.push(Arrival::Decoded(sms)),
            Got::Part {
                from,
                to,
                udh,
                data,
            } => match concatenation(&udh) {
                None => self.messages.push(Arrival::Undecoded {
                    from,
                    to,
                    bytes: data,
                    parts: 1,
                }),
                Some(concat) => self.add_part(from, to, concat, data),
            },
        }
    }

    fn add_part(&mut self, from: String, to: String, concat: Concat, data: Vec<u8>) {
        let same = |p: &Partial| {
            p.from == from
                && p.to == to
                && p.concat.reference == concat.reference
                && p.concat.total == concat.total
        };
        // A part already held means another message with the same reference (references wrap
        // at 256), never a replacement.
        let index = match self
            .partial
            .iter()
            .position(|p| same(p) && !p.parts.contains_key(&concat.seq))
        {
            Some(i) => i,
            None => {
                self.partial.push(Partial {
                    from: from.clone(),
                    to: to.clone(),
                    concat,
                    parts: BTreeMap::new(),
                });
                self.partial.len() - 1
            }
        };
        self.partial[index].parts.insert(concat.seq, data);
        if self.partial[index].parts.len() == usize::from(concat.total) {
            let whole = self.partial.remove(index);
            self.messages.push(Arrival::Undecoded {
                from,
                to,
                parts: whole.parts.len(),
                bytes: whole.parts.into_values().flatten().collect(),
            });
        }
    }

    /// Decodes what the access log now tells the coding of.
    fn decode_with(&mut self, sent: &[Sent]) {
        for arrival in &mut self.messages {
            let Arrival::Undecoded {
                from,
                to,
                bytes,
                parts,
            } = arrival
            else {
                continue;
            };
            let logged = sent
                .iter()
                .filter(|s| s.from == *from && s.to == *to && s.matches(bytes))
                .min_by_key(|s| !s.hex());
            if let Some(logged) = logged {
                let text = match logged.coding {
                    2 => utf16be(bytes),
                    _ => String::from_utf8_lossy(bytes).into_owned(),
                };
                *arrival = Arrival::Decoded(ReceivedSms {
                    from: std::mem::take(from),
                    to: std::mem::take(to),
                    text,
                    parts: *parts,
                });
            }
        }
    }
}

/// A `Sent SMS` line of bearerbox's access log.
#[derive(Debug)]
struct Sent {
    from: String,
    to: String,
    coding: i32,
    body: Vec<u8>,
}

impl Sent {
    /// Whether the body is logged as hex, i.e. exactly.
    fn hex(&self) -> bool {
        matches!(self.coding, 1 | 2)
    }

    fn matches(&self, bytes: &[u8]) -> bool {
        if self.hex() {
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            return self.body.eq_ignore_ascii_case(hex.as_bytes());
        }
        // Whether a byte outside ASCII became `.` depends on the C library's locale.
        self.body.len() == bytes.len()
            && self
                .body
                .iter()
                .zip(bytes)
                .all(|(&logged, &b)| logged == b || (logged == b'.' && !(0x20..0x7f).contains(&b)))
    }
}

/// `… Sent SMS from=F to=T coding=C body=B` per [`ACCESS_LOG_FORMAT`].
fn parse_sent(line: &[u8]) -> Option<Sent> {
    let marker = SENT_MARKER.as_bytes();
    let start = line.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let rest = &line[start..];
    // Sender, receiver and coding are single words; the body is the rest of the line.
    let mut fields = rest.splitn(4, |&b| b == b' ');
    let from = fields.next()?;
    let to = fields.next()?.strip_prefix(b"to=")?;
    let coding = fields.next()?.strip_prefix(b"coding=")?;
    let body = fields.next()?.strip_prefix(b"body=")?;
    Some(Sent {
        from: String::from_utf8_lossy(from).into_owned(),
        to: String::from_utf8_lossy(to).into_owned(),
        coding: std::str::from_utf8(coding).ok()?.parse().ok()?,
        body: body.to_vec(),
    })
}

/// A running Kannel; every process is killed when it is dropped.
pub struct Kannel {
    dir: tempfile::TempDir,
    sendsms_port: u16,
    admin_port: u16,
    bearerbox: Option<Child>,
    fakesmsc: Option<Child>,
    smsbox: Option<Child>,
    fakesmsc_stdin: Mutex<Option<ChildStdin>>,
    output: Arc<Mutex<Output>>,
}

impl Kannel {
    /// Starts bearerbox, fakesmsc and smsbox and waits until all three are connected.
    ///
    /// `inbound_url` becomes the `get-url` of the catch-all `sms-service`; `None` answers every
    /// inbound SMS with the fixed text "no service". The escapes to use, with smsbox's
    /// `mo-recode = true` (set here) turning UCS-2 from phones into UTF-8:
    ///
    /// - `%p` the sender's number (the phone), `%P` the receiver (the service number);
    /// - `%b` the message exactly as received, URL-encoded bytes: UTF-8, or UTF-16BE in the rare
    ///   case Kannel could not recode it; `%a` is the same text with its words re-joined by single
    ///   spaces, which would mangle UTF-16;
    /// - `%C` the charset of `%b` (`UTF-8`, else `UTF-16BE`), `%c` its coding (0 7-bit, 1 8-bit,
    ///   2 UCS-2).
    ///
    /// e.g. `http://127.0.0.1:PORT/sms/inbound?token=T&from=%p&to=%P&text=%b&charset=%C&coding=%c`.
    /// A literal `%` would be read as an escape, so the token must not contain one.
    ///
    /// The service has `accept-x-kannel-headers = true` and `omit-empty = true`: a reply with
    /// status 200, `Content-Type: text/plain; charset=UTF-8` and `X-Kannel-Coding: 2` goes back
    /// to the sender as a UCS-2 SMS (without `X-Kannel-Coding: 2` CJK would become `?`); an
    /// empty 200 sends nothing. Any other status sends nothing either (`reply-couldnotfetch` is
    /// empty), where Kannel's default would text "Could not fetch content, sorry."
    pub fn start(inbound_url: Option<&str>) -> Kannel {
        let bearerbox_bin = find_program("bearerbox");
        let smsbox_bin = find_program("smsbox");
        if !Path::new(FAKESMSC).is_file() {
            panic!("{NOT_INSTALLED}");
        }
        if let Some(url) = inbound_url {
            assert!(
                !url.contains(['"', '\\', '\n', '\r']),
                "get-url must not contain quotes, backslashes or line breaks: {url}"
            );
        }

        let dir = tempfile::tempdir().expect("temp dir for Kannel");
        let [admin_port, smsbox_port, sendsms_port, smsc_port] = free_ports();
        let service = match inbound_url {
            Some(url) => {
                format!("get-url = \"{url}\"\naccept-x-kannel-headers = true\nomit-empty = true\n")
            }
            None => "text = \"no service\"\n".to_string(),
        };
        let logs = dir.path().display();
        let conf = format!(
            r#"group = core
admin-port = {admin_port}
admin-password = {ADMIN_PASSWORD}
status-password = {ADMIN_PASSWORD}
admin-interface = 127.0.0.1
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{logs}/bearerbox.log"
log-level = 0
access-log = "{logs}/access.log"
access-log-format = "{ACCESS_LOG_FORMAT}"

group = smsc
smsc = fake
smsc-id = FAKE
our-host = 127.0.0.1
port = {smsc_port}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
mo-recode = true
reply-couldnotfetch = ""
reply-emptymessage = ""
log-file = "{logs}/smsbox.log"
log-level = 0

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = {MAX_MESSAGES}
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = {MAX_MESSAGES}
concatenation = true
{service}"#
        );
        let conf_path = dir.path().join("kannel.conf");
        fs::write(&conf_path, conf).expect("write kannel.conf");

        let mut kannel = Kannel {
            sendsms_port,
            admin_port,
            bearerbox: None,
            fakesmsc: None,
            smsbox: None,
            fakesmsc_stdin: Mutex::new(None),
            output: Arc::new(Mutex::new(Output::default())),
            dir,
        };

        kannel.bearerbox = Some(kannel.spawn_logged(&bearerbox_bin, &conf_path, "bearerbox"));
        // The fake SMSC's listening socket exists once the status page lists the connection.
        let smsc_name = format!("FAKE:{smsc_port} (");
        kannel.wait_until("bearerbox to open the fake SMSC port", |k| {
            k.status().is_some_and(|s| s.contains(&smsc_name))
        });

        kannel.start_fakesmsc(smsc_port);
        let online = format!("FAKE:{smsc_port} (online");
        kannel.wait_until("fakesmsc to connect to bearerbox", |k| {
            k.status().is_some_and(|s| s.contains(&online))
        });

        kannel.smsbox = Some(kannel.spawn_logged(&smsbox_bin, &conf_path, "smsbox"));
        kannel.wait_until("smsbox to connect and listen", |k| {
            let connected = k.status().is_some_and(|s| {
                s.lines()
                    .any(|l| l.contains("smsbox:") && l.contains("on-line"))
            });
            connected && TcpStream::connect(("127.0.0.1", k.sendsms_port)).is_ok()
        });
        kannel
    }

    pub fn sendsms_url(&self) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.sendsms_port)
    }

    pub fn username() -> &'static str {
        USERNAME
    }

    pub fn password() -> &'static str {
        PASSWORD
    }

    /// Every message that reached the fake SMSC whole so far, in the order its last part
    /// arrived; a split message counts once, when all its parts are in.
    pub fn received(&self) -> Vec<ReceivedSms> {
        let mut output = self.output.lock().expect("output lock");
        if output
            .messages
            .iter()
            .any(|m| matches!(m, Arrival::Undecoded { .. }))
        {
            output.decode_with(&self.access_log());
        }
        output
            .messages
            .iter()
            .filter_map(|m| match m {
                Arrival::Decoded(sms) => Some(sms.clone()),
                Arrival::Undecoded { .. } => None,
            })
            .collect()
    }

    /// The `Sent SMS` lines of bearerbox's access log so far.
    fn access_log(&self) -> Vec<Sent> {
        let log = fs::read(self.dir.path().join("access.log")).unwrap_or_default();
        log.split(|&b| b == b'\n').filter_map(parse_sent).collect()
    }

    /// The first SMS (already received or arriving within `timeout`) that `pred` accepts.
    /// Blocks the calling thread: from an async test, run a server it depends on in a
    /// multi-threaded runtime.
    pub fn wait_for(
        &self,
        pred: impl Fn(&ReceivedSms) -> bool,
        timeout: Duration,
    ) -> Option<ReceivedSms> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(sms) = self.received().into_iter().find(|s| pred(s)) {
                return Some(sms);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Makes the fake SMSC deliver an SMS from the phone `from` to the service number `to`,
    /// the way a phone sends it: ASCII as 7-bit text, anything else as UCS-2. Returns once
    /// fakesmsc has passed it to bearerbox.
    pub fn send_inbound(&self, from: &str, to: &str, text: &str) {
        for number in [from, to] {
            assert!(
                !number.is_empty() && !number.contains(char::is_whitespace),
                "numbers must be one word: {number:?}"
            );
        }
        let printable_ascii = text.bytes().all(|b| (0x20..0x7f).contains(&b));
        let line = if printable_ascii && !text.trim().is_empty() {
            format!("{from} {to} text {text}\n")
        } else {
            let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            format!("{from} {to} ucs2 {}\n", url_encode(&utf16))
        };
        assert!(
            line.len() <= MAX_INBOUND_LINE,
            "fakesmsc reads at most {MAX_INBOUND_LINE} bytes a line; this one is {}: {line}",
            line.len()
        );

        let taken_before = self.output.lock().expect("output lock").inbound_taken;
        {
            let mut stdin = self.fakesmsc_stdin.lock().expect("stdin lock");
            let stdin = stdin.as_mut().expect("fakesmsc stdin");
            stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush())
                .expect("write to fakesmsc");
        }
        // fakesmsc mixes stdio with select(): a second line already in its stdio buffer would
        // wait for more input. Writing one line at a time, after the last was taken, avoids that.
        let deadline = Instant::now() + INBOUND_TAKEN;
        while self.output.lock().expect("output lock").inbound_taken <= taken_before {
            assert!(
                Instant::now() < deadline,
                "fakesmsc did not take the inbound SMS within {INBOUND_TAKEN:?}\n{}",
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// bearerbox's, smsbox's and fakesmsc's logs, for a failing assertion.
    pub fn diagnostics(&self) -> String {
        let mut text = String::new();
        for name in [
            "bearerbox.log",
            "smsbox.log",
            "access.log",
            "bearerbox.out",
            "smsbox.out",
        ] {
            let content = fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            text.push_str(&format!("--- {name} (last {} lines)\n", tail.len()));
            for line in tail {
                text.push_str(line);
                text.push('\n');
            }
        }
        let output = self.output.lock().expect("output lock");
        text.push_str("--- fakesmsc\n");
        for line in output.log.iter().rev().take(40).rev() {
            text.push_str(line);
            text.push('\n');
        }
        for p in &output.partial {
            text.push_str(&format!(
                "--- incomplete: {} -> {}, reference {:?}, parts {:?} of {}\n",
                p.from,
                p.to,
                p.concat.reference,
                p.parts.keys().collect::<Vec<_>>(),
                p.concat.total
            ));
        }
        for m in &output.messages {
            if let Arrival::Undecoded {
                from, to, bytes, ..
            } = m
            {
                text.push_str(&format!(
                    "--- whole but not in access.log yet: {from} -> {to}, {} bytes\n",
                    bytes.len()
                ));
            }
        }
        text
    }

    fn spawn_logged(&self, program: &Path, conf: &Path, name: &str) -> Child {
        let out = fs::File::create(self.dir.path().join(format!("{name}.out")))
            .expect("create output file");
        let err = out.try_clone().expect("clone output file");
        Command::new(program)
            .arg(conf)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{NOT_INSTALLED} ({} failed: {e})", program.display()))
    }

    fn start_fakesmsc(&mut self, smsc_port: u16) {
        let mut child = Command::new(FAKESMSC)
            .args(["-H", "127.0.0.1", "-r", &smsc_port.to_string(), "-i", "0"])
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{NOT_INSTALLED} ({FAKESMSC} failed: {e})"));
        let stderr = child.stderr.take().expect("fakesmsc stderr");
        *self.fakesmsc_stdin.lock().expect("stdin lock") = child.stdin.take();
        self.fakesmsc = Some(child);

        let output = Arc::clone(&self.output);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut raw = Vec::new();
            // Lines are bytes: a 7-bit text is printed as Kannel holds it.
            while reader
                .read_until(b'\n', &mut raw)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                let line = String::from_utf8_lossy(&raw).trim_end().to_string();
                raw.clear();
                let mut output = output.lock().expect("output lock");
                if let Some(got) = parse_got_message(&line) {
                    output.add(got);
                } else if line.contains("fakesmsc: sent message") {
                    output.inbound_taken += 1;
                }
                output.log.push(line);
            }
        });
    }

    /// bearerbox's status page, if it answers.
    fn status(&self) -> Option<String> {
        http_get(
            self.admin_port,
            &format!("/status.txt?password={ADMIN_PASSWORD}"),
        )
    }

    fn wait_until(&mut self, what: &str, ready: impl Fn(&Kannel) -> bool) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if ready(self) {
                return;
            }
            let exited = [
                ("bearerbox", &mut self.bearerbox),
                ("fakesmsc", &mut self.fakesmsc),
                ("smsbox", &mut self.smsbox),
            ]
            .into_iter()
            .find_map(|(name, child)| {
                let status = child.as_mut()?.try_wait().ok()??;
                Some((name, status))
            });
            if let Some((name, status)) = exited {
                panic!(
                    "{name} exited ({status}) while waiting for {what}\n{}",
                    self.diagnostics()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {STARTUP:?} waiting for {what}\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        // smsbox first, so it does not log bearerbox's disappearance as an error; SIGKILL because
        // bearerbox takes seconds to shut down gracefully.
        for child in [&mut self.smsbox, &mut self.fakesmsc, &mut self.bearerbox]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The program on PATH or in the sbin directories Debian installs Kannel's daemons to, which a
/// non-root PATH may lack.
fn find_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{NOT_INSTALLED} ({name} not found)"))
}

/// Four distinct free loopback ports, none handed out before in this process: tests start
/// Kannels in parallel, and two given the same port would answer each other's probes.
fn free_ports() -> [u16; 4] {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let mut ports = Vec::new();
    // Held together until all are chosen, so none is picked twice in this call.
    let mut held = Vec::new();
    while ports.len() < 4 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local addr").port();
        if !given.contains(&port) {
            given.push(port);
            ports.push(port);
        }
        held.push(listener);
    }
    [ports[0], ports[1], ports[2], ports[3]]
}

/// A plain HTTP/1.0 GET on loopback; `None` if nothing answers with 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then_some(())?;
    head.split_whitespace()
        .nth(1)
        .filter(|code| *code == "200")?;
    Some(body.to_string())
}

/// One `Got message` line of fakesmsc's log.
enum Got {
    /// One SMS whose coding fakesmsc printed, decoded.
    Whole(ReceivedSms),
    /// One SMS with a UDH, raw: fakesmsc does not print its coding.
    Part {
        from: String,
        to: String,
        udh: Vec<u8>,
        data: Vec<u8>,
    },
}

/// `Got message N: <FROM TO TYPE DATA>` from fakesmsc's log.
fn parse_got_message(line: &str) -> Option<Got> {
    let (_, rest) = line.split_once("Got message ")?;
    let (_, rest) = rest.split_once(": <")?;
    let content = rest.strip_suffix('>')?;
    let mut fields = content.splitn(4, ' ');
    let from = fields.next()?.to_string();
    let to = fields.next()?.to_string();
    let kind = fields.next()?;
    let data = fields.next().unwrap_or("");
    let text = match kind {
        "text" => data.to_string(),
        "ucs-2" => utf16be(&url_decode(data)),
        "data" => String::from_utf8_lossy(&url_decode(data)).into_owned(),
        // `udh UDH data DATA`, both URL-encoded, so neither holds a space.
        "udh" => {
            let (udh, data) = data.split_once(" data ")?;
            return Some(Got::Part {
                from,
                to,
                udh: url_decode(udh),
                data: url_decode(data),
            });
        }
        _ => return None,
    };
    Some(Got::Whole(ReceivedSms {
        from,
        to,
        text,
        parts: 1,
    }))
}

/// The concatenation element of `udh` (length octet, then elements), if it has a usable one.
fn concatenation(udh: &[u8]) -> Option<Concat> {
    let (&length, rest) = udh.split_first()?;
    let mut elements = rest.get(..usize::from(length))?;
    while let [iei, length, rest @ ..] = elements {
        let (value, next) = rest.split_at_checked(usize::from(*length))?;
        let found = match (*iei, value) {
            (0x00, &[reference, total, seq]) => Some(((false, u16::from(reference)), total, seq)),
            (0x08, &[high, low, total, seq]) => {
                Some(((true, u16::from_be_bytes([high, low])), total, seq))
            }
            _ => None,
        };
        if let Some((reference, total, seq)) = found {
            // Impossible numbers can never be joined: such a part counts on its own rather than
            // waiting forever.
            return (1..=total).contains(&seq).then_some(Concat {
                reference,
                total,
                seq,
            });
        }
        elements = next;
    }
    None
}

fn utf16be(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Kannel's URL decoding: `+` is a space, `%XX` a byte, anything else itself.
fn url_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Every byte but letters and digits as `%XX`, which fakesmsc's `ucs2` type decodes.
fn url_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
