//! The `simdesk` binary against the real peers — OsmoHLR, Kannel with a fake SMSC and an SMTP
//! mailbox — named in its settings file: a line's life reaches the network, the traveller hears
//! of it in their language, and an HLR outage delays provisioning without losing it.
//!
//! simdesk is driven only as an operator drives it: one-shot commands and a `simdesk serve` child
//! process with its HTTP API. What reached the peers is read back from the peers themselves (raw
//! CTRL GETs, the fake SMSC's log, the mailbox), not from simdesk's account of it.

mod support;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use simdesk::adapters::email::message_id_for;
use simdesk::messages::{self, Event};
use simdesk::services::outbox::MAX_ATTEMPTS;
use simdesk_domain::customer::Language;
use simdesk_domain::ids::Iccid;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::peers::hlr::Hlr;
use support::peers::kannel::Kannel;
use support::peers::smtp::Smtp;

const CARRIER: &str = "EX-SAKURA";
const PLAN: &str = "JP10-DV";
const ORDER: &str = "/tmf-api/productOrdering/v4/productOrder";
const PRODUCT: &str = "/tmf-api/productInventory/v4/product";
const PUBLIC_URL: &str = "https://sim.example.jp";
const SMS_FROM: &str = "SIMDESK";
const MAIL_FROM: &str = "noreply@sim.example.jp";
/// Generous for a loaded machine; each wait ends as soon as its condition holds.
const ARRIVAL: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------------

fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811042{n:010}"))
        .expect("a valid ICCID body")
        .to_string()
}

fn imsi(n: u64) -> String {
    format!("44010{n:010}")
}

/// The number as dialled in Japan.
fn dialled(n: u64) -> String {
    format!("090{n:08}")
}

/// The number as the HLR stores it: E.164 digits without the `+`.
fn hlr_digits(n: u64) -> String {
    format!("8190{n:08}")
}

fn stock_csv(lines: &[u64]) -> String {
    let mut csv = String::from("iccid,imsi,msisdn,plan\n");
    for &n in lines {
        csv.push_str(&format!("{},{},{},{PLAN}\n", iccid(n), imsi(n), dialled(n)));
    }
    csv
}

// ---------------------------------------------------------------------------------------------
// The HLR, read without simdesk
// ---------------------------------------------------------------------------------------------

/// `subscriber.by-imsi-…` of a line.
fn by_imsi(n: u64, field: &str) -> String {
    format!("subscriber.by-imsi-{}.{field}", imsi(n))
}

/// The HLR's `info` record of a line as name → value, or `None` when the HLR does not know it.
fn hlr_info(hlr: &Hlr, n: u64) -> Option<BTreeMap<String, String>> {
    hlr.get(&by_imsi(n, "info")).map(|text| parse_info(&text))
}

/// osmo-hlr answers `info` with one `name<TAB>value` per line.
fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The IMSI of the subscriber holding line `n`'s number, looked up by the number.
fn number_holder(hlr: &Hlr, n: u64) -> Option<String> {
    let info = hlr.get(&format!("subscriber.by-msisdn-{}.info", hlr_digits(n)))?;
    parse_info(&info).remove("imsi")
}

/// (msisdn, nam_cs, nam_ps) as the HLR holds them.
#[track_caller]
fn hlr_subscriber(hlr: &Hlr, n: u64) -> (String, String, String) {
    let info = hlr_info(hlr, n).unwrap_or_else(|| {
        panic!(
            "IMSI {} is not in the HLR; its log:\n{}",
            imsi(n),
            hlr.log()
        )
    });
    let field = |name: &str| {
        info.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in the HLR's info: {info:?}"))
    };
    (field("msisdn"), field("nam_cs"), field("nam_ps"))
}

// ---------------------------------------------------------------------------------------------
// An installation: a settings file naming the peers, a database, and the binary
// ---------------------------------------------------------------------------------------------

/// The settings that point simdesk at the peers of one test; without Kannel or SMTP the
/// messages stay in simdesk's own recorder.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    fn new(db: &support::TestDb, hlr: &Hlr, kannel: Option<&Kannel>, smtp: Option<&Smtp>) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = json!({
            "data_dir": dir.path().join("data").display().to_string(),
            "keys_dir": db.keys_dir().display().to_string(),
            "db": db.url,
            "public_url": PUBLIC_URL,
            // A short bound keeps a dead HLR from slowing the test; it is far above a live
            // HLR's answer time on loopback.
            "hlr": { "ctrl": hlr.ctrl().to_string(), "timeout_ms": 1000 },
        });
        if let Some(kannel) = kannel {
            settings["sms"] = json!({
                "sendsms_url": kannel.sendsms_url(),
                "username": Kannel::username(),
                "password": Kannel::password(),
                "from": SMS_FROM,
                "timeout_ms": 5000,
            });
        }
        if let Some(smtp) = smtp {
            settings["smtp"] = json!({
                "host": "127.0.0.1",
                "port": smtp.addr().port(),
                "security": "none",
                "from": format!("Example Sakura SIM <{MAIL_FROM}>"),
                "timeout_secs": 5,
            });
        }
        let config = dir.path().join("simdesk.toml");
        std::fs::write(
            &config,
            toml::to_string(&settings).expect("settings as TOML"),
        )
        .expect("write simdesk.toml");
        Site { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with this site's settings file and nothing of the caller's SIMDESK_* settings,
    /// which would override the file.
    fn command(&self) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("simdesk"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIMDESK_") {
                command.env_remove(name);
            }
        }
        command
            .env("SIMDESK_CONFIG", &self.config)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs `simdesk ARGS…`, expects success and returns its standard output.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let output = assert_cmd::Command::from_std(self.command())
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run simdesk");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "simdesk {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("simdesk {args:?} did not print JSON ({e}):\n{stdout}"))
    }

    /// `simdesk --now NOW jobs run-once`.
    #[track_caller]
    fn run_due(&self, now: Timestamp) -> DueReport {
        let stdout = self.ok(&["--now", &now.to_string(), "jobs", "run-once"]);
        DueReport::parse(&stdout)
    }

    /// Loads the example policies and imports `lines` as EX-SAKURA stock.
    #[track_caller]
    fn stock(&self, lines: &[u64]) {
        let policies = support::policies_dir();
        self.ok(&["policies", "load", &policies.display().to_string()]);
        let csv = self.path("stock.csv");
        std::fs::write(&csv, stock_csv(lines)).expect("write stock.csv");
        let imported = self.ok(&[
            "import",
            "lines",
            &csv.display().to_string(),
            "--carrier",
            CARRIER,
        ]);
        assert!(
            imported.contains(&format!("imported {} lines", lines.len())),
            "{imported}"
        );
    }

    /// Registers line `n` to a traveller who reads Simplified Chinese, and activates it.
    #[track_caller]
    fn sell(&self, n: u64) {
        self.ok(&[
            "lines",
            "register",
            &dialled(n),
            "--name",
            "王小明",
            "--passport",
            "EA1234567",
            "--nationality",
            "CN",
            "--birth-date",
            "1992-03-15",
            "--phone",
            "+86 138 0013 8000",
            "--email",
            "wang.xiaoming@example.cn",
            "--language",
            "zh-Hans",
            "--channel",
            "store",
            "--actor",
            "clerk-7",
            "--reason",
            "walk-in sale",
        ]);
        let activated = self.ok(&["lines", "activate", &dialled(n)]);
        assert!(activated.contains("active"), "{activated}");
    }

    /// A fresh API token for EX-SAKURA, as `simdesk tokens create` prints it.
    #[track_caller]
    fn token(&self) -> String {
        let out = self.ok(&[
            "tokens",
            "create",
            "--carrier",
            CARRIER,
            "--name",
            "sakura-ops",
            "--scope",
            "all",
        ]);
        let first = out.lines().next().unwrap_or_default();
        first
            .rsplit_once(' ')
            .map(|(_, secret)| secret.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("no token in {out:?}"))
    }

    /// The outbox as `simdesk outbox list --json` shows it, oldest first; `filter` is
    /// `--state …` and/or `--kind …`.
    #[track_caller]
    fn outbox(&self, filter: &[&str]) -> Vec<Value> {
        let mut args = vec!["outbox", "list", "--json", "--limit", "10000"];
        args.extend_from_slice(filter);
        match self.json(&args) {
            Value::Array(mut rows) => {
                rows.reverse();
                rows
            }
            other => panic!("simdesk outbox list printed no list: {other}"),
        }
    }

    /// `simdesk network reconcile --dry-run --json`: where the HLR and simdesk disagree.
    #[track_caller]
    fn disagreements(&self) -> Vec<Value> {
        let report = self.json(&["network", "reconcile", "--dry-run", "--json"]);
        report["disagreements"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no disagreements in {report}"))
    }

    /// Starts `simdesk serve` on a free loopback port and waits until it answers.
    fn serve(&self) -> Server {
        let mut failures = Vec::new();
        // The port is free when picked, but something else may take it before simdesk binds.
        for attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let log = self.path(&format!("serve-{attempt}.log"));
            let log_file = std::fs::File::create(&log).expect("serve log");
            let child = self
                .command()
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .stdout(log_file.try_clone().expect("log handle"))
                .stderr(log_file)
                .spawn()
                .expect("start simdesk serve");
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(why) => failures.push(why),
            }
        }
        panic!("simdesk serve did not start:\n{}", failures.join("\n"));
    }
}

/// What `simdesk jobs run-once` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DueReport {
    completed: u64,
    delivered: u64,
    retried: u64,
    dead: u64,
}

impl DueReport {
    /// Reads "… completed C cancellations; delivered D side effects (R to retry, X dead)".
    fn parse(text: &str) -> DueReport {
        let number_after = |marker: &str| -> u64 {
            let (_, rest) = text
                .split_once(marker)
                .unwrap_or_else(|| panic!("no {marker:?} in the report: {text}"));
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("no number after {marker:?} in the report: {text}"))
        };
        let number_before = |marker: &str| -> u64 {
            let (head, _) = text
                .split_once(marker)
                .unwrap_or_else(|| panic!("no {marker:?} in the report: {text}"));
            head.rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("no number before {marker:?} in the report: {text}"))
        };
        DueReport {
            completed: number_after("completed "),
            delivered: number_after("delivered "),
            retried: number_before(" to retry"),
            dead: number_before(" dead"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server and its HTTP API
// ---------------------------------------------------------------------------------------------

/// A running `simdesk serve`; killed when dropped, a failing test included.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if matches!(self.get("/readyz", None), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no answer on {}:\n{}", self.base, self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    }

    fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, String), ureq::Error> {
        let mut request = Server::agent().get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.call()?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string()?))
    }

    /// POSTs JSON; returns the status and the JSON answer.
    #[track_caller]
    fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let mut response = Server::agent()
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .send_json(&body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.log()));
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("POST {path}: reading the answer: {e}"));
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {path} answered {status} without JSON ({e}): {text}"));
        (status, json)
    }

    /// Prometheus samples of `name`: the label part (empty without labels) → value.
    fn metric(&self, name: &str) -> BTreeMap<String, f64> {
        let (status, text) = self.get("/metrics", None).expect("GET /metrics");
        assert_eq!(status, 200, "{text}");
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let labels = series.strip_prefix(name)?;
                if !(labels.is_empty() || labels.starts_with('{')) {
                    return None;
                }
                Some((labels.to_string(), value.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("simdesk serve's log:\n{}", self.log());
        }
    }
}

fn delete_order(n: u64) -> Value {
    json!({
        "productOrderItem": [
            { "id": "1", "action": "delete", "product": { "id": iccid(n) } }
        ]
    })
}

/// Six consecutive ASCII digits in `text`.
fn six_digits(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(6).enumerate().find_map(|(i, w)| {
        let before = i.checked_sub(1).map(|b| chars[b]);
        let after = chars.get(i + 6);
        let bounded = !before.is_some_and(|c| c.is_ascii_digit())
            && !after.is_some_and(|c| c.is_ascii_digit());
        (bounded && w.iter().all(char::is_ascii_digit)).then(|| w.iter().collect())
    })
}

/// Whether `text` is the one-time code message in Simplified Chinese ("verification code").
fn is_code(text: &str) -> bool {
    text.contains("验证码") && six_digits(text).is_some()
}

/// Stands for every value in a template; a private-use character, which no template contains.
const VALUE: &str = "\u{E000}";

/// The fixed pieces of `event`'s SMS in Simplified Chinese, in order, around the values.
fn sms_template(event: Event) -> Vec<String> {
    let params = event
        .placeholders()
        .iter()
        .map(|name| (name.to_string(), VALUE.to_string()))
        .collect();
    let message = messages::render(event, Language::ZhHans, &params)
        .unwrap_or_else(|e| panic!("{event} in Simplified Chinese: {e}"));
    message.sms.split(VALUE).map(str::to_string).collect()
}

/// Whether `text` is the template `pieces` from its first character to its last, with a
/// non-empty value in each gap: a message cut short or run together with another does not fit.
fn fits(text: &str, pieces: &[String]) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    let Some(mut tail) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for piece in middle {
        let mut value = tail.chars();
        if value.next().is_none() {
            return false;
        }
        let after_first = value.as_str();
        match after_first.find(piece.as_str()) {
            Some(at) => tail = &after_first[at + piece.len()..],
            None => return false,
        }
    }
    tail.len() > last.len() && tail.ends_with(last.as_str())
}

/// Whether `text` holds a CJK ideograph, i.e. is not the English fallback.
fn has_hanzi(text: &str) -> bool {
    text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
}

/// Waits until `ready` holds, for at most `timeout`.
fn eventually(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_lives_and_ends_in_the_network_and_the_traveller_hears_in_chinese() {
    let hlr = Hlr::start();
    let kannel = Kannel::start(None);
    let smtp = Smtp::start();
    let db = support::fresh_db().await;
    let site = Site::new(&db, &hlr, Some(&kannel), Some(&smtp));
    site.stock(&[1, 2, 3]);
    // Started before anything is due: the round of due work it runs at start finds nothing and
    // its next round is 30 s away, so each step below is done by the run the test asks for.
    let server = site.serve();

    // Sold and activated: the subscriber reaches the HLR with its number and service allowed.
    site.sell(2);
    let report = site.run_due(Timestamp::now());
    assert_eq!((report.retried, report.dead), (0, 0), "{report:?}");
    assert_eq!(
        hlr_subscriber(&hlr, 2),
        (hlr_digits(2), "1".into(), "1".into()),
        "provisioned with its MSISDN and both services"
    );
    assert_eq!(
        number_holder(&hlr, 2),
        Some(imsi(2)),
        "the number leads to the line's IMSI"
    );
    for unsold in [1, 3] {
        assert_eq!(
            hlr_info(&hlr, unsold),
            None,
            "line {unsold} is still in stock and stays out of the network"
        );
    }

    // The traveller cancels through the operator's API; the code goes to the line by SMS.
    let token = site.token();
    let (status, order) = server.post(ORDER, &token, delete_order(2));
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["state"], "acknowledged", "{order}");
    assert_eq!(order["identityRequired"], json!(["possession"]), "{order}");
    let id: i64 = order["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no order id in {order}"));
    let (status, sent) = server.post(
        &format!("/api/v1/cancellations/{id}/code"),
        &token,
        json!({ "to": "line" }),
    );
    assert_eq!(status, 202, "{sent}");
    let to_line = |to: &str| to.trim_start_matches('+') == hlr_digits(2);
    let code_sms = kannel
        .wait_for(|m| to_line(&m.to) && is_code(&m.text), ARRIVAL)
        .unwrap_or_else(|| {
            panic!(
                "no code in Simplified Chinese reached the line; the fake SMSC got {:#?}\n{}",
                kannel.received(),
                kannel.diagnostics()
            )
        });
    assert_eq!(code_sms.from, SMS_FROM);
    let code = six_digits(&code_sms.text).expect("a code");
    let (status, approved) = server.post(
        &format!("/api/v1/cancellations/{id}/code/check"),
        &token,
        json!({ "code": code }),
    );
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "inProgress", "{approved}");
    assert_eq!(approved["identityPassed"], json!(["possession"]));
    let effective_date = approved["requestedCompletionDate"]
        .as_str()
        .unwrap_or_else(|| panic!("an approved order has an effective date: {approved}"))
        .to_string();
    let effective_at: Timestamp = format!("{effective_date}T00:00:00+09:00")
        .parse()
        .expect("the effective date is a date");
    assert!(effective_at > Timestamp::now(), "{effective_date}");

    // EX-SAKURA bars a line while its cancellation is pending.
    let report = site.run_due(Timestamp::now());
    assert_eq!((report.retried, report.dead), (0, 0), "{report:?}");
    assert_eq!(
        hlr_subscriber(&hlr, 2),
        (hlr_digits(2), "0".into(), "0".into()),
        "barred while pending, number kept"
    );
    let (_, product) = server
        .get(&format!("{PRODUCT}/{}", iccid(2)), Some(&token))
        .expect("GET product");
    assert!(product.contains("pendingTerminate"), "{product}");

    // Not a second early.
    let early = site.run_due(effective_at - SignedDuration::from_secs(1));
    assert_eq!(early.completed, 0, "{early:?}");
    assert!(
        hlr_info(&hlr, 2).is_some(),
        "still in the HLR before the date"
    );

    // At the effective instant: completed, and the subscriber leaves the network.
    let done = site.run_due(effective_at);
    assert_eq!(done.completed, 1, "{done:?}");
    assert_eq!((done.retried, done.dead), (0, 0), "{done:?}");
    let request = site.json(&["cancel", "show", &id.to_string(), "--json"]);
    assert_eq!(request["state"], "completed", "{request}");
    assert_eq!(request["line"]["state"], "terminated", "{request}");
    let receipt = request["receipt"]
        .as_str()
        .unwrap_or_else(|| panic!("a completed request has a receipt: {request}"))
        .to_string();
    assert_eq!(
        hlr_info(&hlr, 2),
        None,
        "deprovisioned: the HLR no longer knows IMSI {}",
        imsi(2)
    );
    assert_eq!(number_holder(&hlr, 2), None, "and nobody holds the number");
    let again = site.run_due(effective_at + SignedDuration::from_hours(1));
    assert_eq!(
        (again.completed, again.delivered),
        (0, 0),
        "nothing left to do"
    );

    // Every notification went out once, each by SMS and by e-mail.
    let waiting = site.outbox(&["--state", "pending"]);
    assert!(waiting.is_empty(), "nothing waits: {waiting:#?}");
    let dead = site.outbox(&["--state", "dead"]);
    assert!(dead.is_empty(), "nothing is dead: {dead:#?}");
    assert!(
        site.disagreements().is_empty(),
        "the HLR agrees with simdesk about every line"
    );
    let emails = site.outbox(&["--kind", "email"]);
    let mails = smtp.wait_for_messages(emails.len(), ARRIVAL);
    let ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a Message-ID twice: {ids:?}");
    let expected: BTreeSet<String> = emails
        .iter()
        .map(|e| message_id_for(e["idempotency_key"].as_str().expect("a key")))
        .collect();
    assert_eq!(
        unique,
        expected.iter().map(String::as_str).collect(),
        "one mail per e-mail row of the outbox"
    );
    for mail in &mails {
        assert_eq!(mail.to, "wang.xiaoming@example.cn");
        assert!(mail.from.contains(MAIL_FROM), "{}", mail.from);
        assert!(
            has_hanzi(&mail.subject) && has_hanzi(&mail.text),
            "every mail in Chinese: {:?}",
            mail.subject
        );
    }

    // The completion e-mail: in Simplified Chinese, with the receipt attached, signed.
    let completion = mails
        .iter()
        .find(|m| {
            m.attachments
                .iter()
                .any(|(name, _, _)| name.contains(&receipt))
        })
        .unwrap_or_else(|| {
            panic!(
                "no mail carries receipt {receipt}: {:#?}",
                mails
                    .iter()
                    .map(|m| (&m.subject, m.attachments.len()))
                    .collect::<Vec<_>>()
            )
        });
    assert!(
        completion.subject.contains("注销完成"),
        "subject in Simplified Chinese: {:?}",
        completion.subject
    );
    assert!(
        completion.subject.contains(&hlr_digits(2)[2..]),
        "{:?}",
        completion.subject
    );
    for body in [&completion.text, &completion.html] {
        assert!(body.contains("已注销"), "{body}");
        assert!(body.contains(&receipt), "the receipt number: {body}");
    }
    assert!(
        completion
            .text
            .contains(&format!("{PUBLIC_URL}/my/receipts/{receipt}")),
        "a link to the receipt on the portal: {}",
        completion.text
    );
    let attached: Vec<(&str, &str)> = completion
        .attachments
        .iter()
        .map(|(name, kind, _)| (name.as_str(), kind.as_str()))
        .collect();
    let html_name = format!("receipt-{receipt}.html");
    let json_name = format!("receipt-{receipt}.json");
    assert_eq!(
        attached.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            (html_name.as_str(), "text/html"),
            (json_name.as_str(), "application/json")
        ]),
        "the receipt as HTML and as signed JSON"
    );
    let content = |name: &str| {
        completion
            .attachments
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, bytes)| bytes.clone())
            .expect("attachment")
    };
    let html = String::from_utf8(content(&html_name)).expect("UTF-8 HTML");
    assert!(html.contains(&receipt), "{html}");
    assert!(has_hanzi(&html), "the receipt in the customer's language");
    let document = content(&json_name);
    let signed: Value = serde_json::from_slice(&document).expect("the JSON attachment is JSON");
    assert_eq!(signed["receipt"]["number"], receipt.as_str(), "{signed}");
    assert_eq!(signed["receipt"]["language"], "zh-Hans", "{signed}");
    assert_eq!(signed["receipt"]["line"]["iccid"], iccid(2), "{signed}");
    let stored = site.json(&["receipt", "show", &receipt, "--format", "json"]);
    assert_eq!(signed, stored, "the attachment is the stored receipt");
    let file = site.path("attached-receipt.json");
    std::fs::write(&file, &document).expect("write the attachment");
    let verified = site.ok(&["receipt", "verify", &file.display().to_string()]);
    assert!(
        verified.starts_with(&format!("valid: receipt {receipt}")),
        "{verified}"
    );
    let key = site.ok(&["keys", "show"]);
    let key = key
        .lines()
        .find_map(|l| l.strip_prefix("receipt verification key: "))
        .unwrap_or_else(|| panic!("no key in {key:?}"))
        .trim()
        .to_string();
    let verified = site.ok(&[
        "receipt",
        "verify",
        &file.display().to_string(),
        "--key",
        &key,
    ]);
    assert!(verified.starts_with("valid:"), "{verified}");

    // SMS: the code once, and one text per SMS row of the outbox, each whole however many SMS
    // it took.
    let sms_rows = site.outbox(&["--kind", "sms"]);
    let expected_sms = sms_rows.len() + 1;
    let arrived = eventually(ARRIVAL, || kannel.received().len() >= expected_sms);
    // Anything sent twice would arrive right behind the rest.
    std::thread::sleep(Duration::from_millis(500));
    let texts = kannel.received();
    assert!(
        arrived && texts.len() == expected_sms,
        "expected the code and {} notifications, the fake SMSC got {texts:#?}\n{}",
        sms_rows.len(),
        kannel.diagnostics()
    );
    assert_eq!(
        texts.iter().filter(|m| is_code(&m.text)).count(),
        1,
        "the code went out once: {texts:#?}"
    );
    for sms in &texts {
        assert_eq!(sms.from, SMS_FROM);
        assert!(has_hanzi(&sms.text), "every SMS in Chinese: {sms:?}");
    }
    let mut expected = BTreeMap::from([(Event::OneTimeCode, 1)]);
    for row in &sms_rows {
        let key = row["idempotency_key"].as_str().unwrap_or_default();
        // `notify:<event>:…:sms`
        let event: Event = key
            .split(':')
            .nth(1)
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| panic!("no event in the outbox key {key:?}"));
        *expected.entry(event).or_default() += 1;
    }
    let templates: BTreeMap<Event, Vec<String>> = expected
        .keys()
        .map(|&event| (event, sms_template(event)))
        .collect();
    for (event, count) in &expected {
        let arrived = texts
            .iter()
            .filter(|m| fits(&m.text, &templates[event]))
            .count();
        assert_eq!(
            arrived, *count,
            "{event} arrives once per outbox row, whole: {:?} in {texts:#?}",
            templates[event]
        );
    }
    for sms in &texts {
        assert!(
            templates.values().any(|t| fits(&sms.text, t)),
            "a whole message simdesk sent: {sms:#?}"
        );
    }

    // The completion SMS has its receipt: the number and the link to it on the portal.
    let link = format!("{PUBLIC_URL}/my/receipts/{receipt}");
    let completion_sms: Vec<_> = texts.iter().filter(|m| m.text.contains(&link)).collect();
    assert_eq!(
        completion_sms.len(),
        1,
        "one SMS links to receipt {receipt}: {texts:#?}"
    );
    let completion_sms = completion_sms[0];
    assert!(
        fits(
            &completion_sms.text,
            &templates[&Event::CancellationCompleted]
        ),
        "{completion_sms:#?}"
    );
    assert!(
        completion_sms.text.contains("已注销"),
        "{completion_sms:#?}"
    );
    assert_eq!(
        completion_sms.to.trim_start_matches('+'),
        "8613800138000",
        "the line is gone, so the traveller's own phone gets it"
    );
    assert!(
        completion_sms.text.replace(&link, "").contains(&receipt),
        "the receipt number besides the link: {completion_sms:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hlr_that_is_down_delays_provisioning_and_nothing_is_lost() {
    let mut hlr = Hlr::start();
    let db = support::fresh_db().await;
    let site = Site::new(&db, &hlr, None, None);
    site.stock(&[11, 12]);
    let server = site.serve();

    hlr.stop();
    site.sell(11);
    let down_at = Timestamp::now();
    let report = site.run_due(down_at);
    assert_eq!((report.retried, report.dead), (1, 0), "{report:?}");

    // The provisioning waits in the outbox with the reason; nothing is given up.
    let rows = site.outbox(&["--kind", "network.provision"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert_eq!(row["state"], "pending", "{row:#}");
    assert!(row["attempts"].as_i64() >= Some(1), "{row:#}");
    let next_attempt: Timestamp = row["next_attempt_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no next attempt in {row:#}"));
    assert!(next_attempt > down_at, "backing off: {row:#}");
    let error = row["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&hlr.ctrl().to_string()),
        "the error names the HLR it could not reach: {row:#}"
    );
    let dead = site.outbox(&["--state", "dead"]);
    assert!(dead.is_empty(), "nothing is dead: {dead:#?}");

    // Operations see it waiting.
    let pending = server.metric("simdesk_outbox_pending");
    let provisions: f64 = pending
        .iter()
        .filter(|(labels, _)| labels.contains("kind=\"network.provision\""))
        .map(|(_, n)| n)
        .sum();
    assert!(provisions >= 1.0, "simdesk_outbox_pending: {pending:?}");
    let dead = server.metric("simdesk_outbox_dead");
    assert!(
        !dead.is_empty() && dead.values().all(|&n| n == 0.0),
        "simdesk_outbox_dead: {dead:?}"
    );

    // Within the backoff the HLR is left alone, and still nothing is given up.
    let soon = site.run_due(down_at + SignedDuration::from_secs(1));
    assert_eq!(
        (soon.delivered, soon.retried, soon.dead),
        (0, 0, 0),
        "{soon:?}"
    );
    assert_eq!(
        site.outbox(&["--kind", "network.provision"])[0]["state"],
        "pending"
    );

    // The outage outlasts the attempts a customer message gets before it is parked as dead;
    // a network call keeps waiting, so no operator has to revive it afterwards.
    let mut now = down_at;
    for _ in 0..MAX_ATTEMPTS {
        // Past the longest backoff, so every run tries the HLR again.
        now += SignedDuration::from_mins(61);
        let report = site.run_due(now);
        assert_eq!((report.retried, report.dead), (1, 0), "{report:?}");
    }
    let row = &site.outbox(&["--kind", "network.provision"])[0];
    assert_eq!(row["state"], "pending", "{row:#}");
    assert!(row["attempts"].as_i64() > Some(MAX_ATTEMPTS), "{row:#}");
    assert!(site.outbox(&["--state", "dead"]).is_empty());

    // The HLR is back. Until the outbox delivers, reconciling leaves the line to it.
    hlr.restart();
    assert_eq!(
        hlr_info(&hlr, 11),
        None,
        "nothing arrived while it was down"
    );
    let waiting = site.disagreements();
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0]["iccid"], iccid(11), "{waiting:#?}");
    assert_eq!(waiting[0]["waiting_in_outbox"], true, "{waiting:#?}");

    // Past the backoff the line reaches the HLR, once.
    let later = now + SignedDuration::from_mins(61);
    let report = site.run_due(later);
    assert_eq!((report.retried, report.dead), (0, 0), "{report:?}");
    assert_eq!(
        hlr_subscriber(&hlr, 11),
        (hlr_digits(11), "1".into(), "1".into())
    );
    let info = hlr_info(&hlr, 11).expect("provisioned");
    assert_eq!(
        info.get("id").map(String::as_str),
        Some("1"),
        "the first subscriber this HLR ever created: {info:?}"
    );
    assert_eq!(hlr.get("subscriber.by-id-2.info"), None, "and the only one");
    assert_eq!(
        number_holder(&hlr, 11),
        Some(imsi(11)),
        "the number leads to the line's IMSI"
    );
    assert_eq!(hlr_info(&hlr, 12), None, "the unsold line stays out");
    let rows = site.outbox(&["--kind", "network.provision"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["state"], "done", "{rows:#?}");
    assert!(rows[0]["done_at"].is_string(), "{rows:#?}");
    assert!(site.disagreements().is_empty(), "the HLR agrees now");

    // Nothing is delivered twice later on.
    let after = site.run_due(later + SignedDuration::from_hours(2));
    assert_eq!(after.delivered, 0, "{after:?}");
    assert_eq!(hlr.get("subscriber.by-id-2.info"), None);
    assert!(site.outbox(&["--state", "pending"]).is_empty());
    assert!(site.outbox(&["--state", "dead"]).is_empty());
    let pending = server.metric("simdesk_outbox_pending");
    assert!(
        pending.values().all(|&n| n == 0.0),
        "simdesk_outbox_pending: {pending:?}"
    );
}

#[test]
fn the_run_once_report_is_read_as_printed() {
    let report = DueReport::parse(
        "at 2026-11-26 09:00 JST: expired 0 lines, closed 0; completed 1 cancellations; delivered 12 side effects (3 to retry, 4 dead)\n",
    );
    assert_eq!(
        report,
        DueReport {
            completed: 1,
            delivered: 12,
            retried: 3,
            dead: 4
        }
    );
    assert_eq!(six_digits("码为 012345，10 分钟"), Some("012345".into()));
    assert_eq!(six_digits("1234567"), None);
}
