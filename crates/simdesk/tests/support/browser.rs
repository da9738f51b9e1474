//! A small W3C WebDriver client for the browser tests: it starts Debian's chromedriver on a free
//! loopback port, opens a headless Chromium session with a fresh profile, and drives it over
//! plain HTTP with `ureq`. Dropping the [`Browser`] ends the session and kills chromedriver and
//! every Chromium process it started, also when the test has failed (then it first saves a
//! screenshot of the page the test was on).
//!
//! The calls are blocking: run them from a plain thread or `tokio::task::spawn_blocking`, never on
//! the runtime that serves the pages.
#![allow(dead_code)]

use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for the page to show what a test expects.
const WAIT: Duration = Duration::from_secs(15);

/// Where the browser tests leave their screenshots: `target/browser-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    // The test binary is target/<profile>/deps/<name>; its third ancestor is the target dir,
    // wherever CARGO_TARGET_DIR put it.
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|t| t.join("CACHEDIR.TAG").exists() || t.ends_with("target"))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// What the browser is asked to be.
pub struct Options {
    /// Names the screenshots, also the one saved when the test fails.
    pub name: String,
    /// The browser's languages, for Accept-Language and `--lang` (e.g. `["zh-CN", "zh"]`).
    pub languages: Vec<String>,
    /// The window, in CSS pixels.
    pub width: u32,
    pub height: u32,
}

impl Options {
    pub fn new(name: &str) -> Options {
        Options {
            name: name.to_string(),
            languages: vec!["en-US".into(), "en".into()],
            // As narrow as headless Chromium's window gets (a large phone); tall enough that one
            // screenshot shows a whole portal page.
            width: 500,
            height: 1400,
        }
    }

    pub fn languages(mut self, languages: &[&str]) -> Options {
        self.languages = languages.iter().map(|l| l.to_string()).collect();
        self
    }
}

/// A page element found by a CSS selector.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
    selector: String,
}

/// One headless Chromium, driven through its own chromedriver.
pub struct Browser {
    http: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    driver: Child,
    profile: tempfile::TempDir,
    name: String,
    /// Whether the test saved a final screenshot (then no failure screenshot is needed).
    finished: bool,
    /// Whether chromedriver's process group has been killed.
    killed: bool,
}

fn missing(path: &str, package: &str) -> ! {
    panic!(
        "{path} is not installed: the browser tests need Debian's chromium and chromium-driver. \
         Run scripts/test, which installs them (or `apt-get install -y chromium chromium-driver`). \
         Missing package: {package}"
    )
}

fn free_loopback_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // WebDriver is on loopback: never through a proxy from the environment.
        .proxy(None)
        .timeout_connect(Some(Duration::from_secs(5)))
        // Clicking a submit button answers once the next page has loaded.
        .timeout_global(Some(Duration::from_secs(90)))
        .build()
        .into()
}

/// The answer to one WebDriver command: its `value`, or the driver's error.
fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value, String> {
    let mut response = result.map_err(|e| format!("chromedriver did not answer: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .map_err(|e| format!("chromedriver's answer could not be read: {e}"))?;
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| format!("chromedriver answered {status} with no JSON: {e}: {text}"))?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if status >= 400 || value.get("error").is_some_and(|e| e.is_string()) {
        return Err(format!(
            "{} ({status}): {}",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or(&text)
        ));
    }
    Ok(value)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile. Panics, saying how to
    /// install them, when chromedriver or Chromium is missing: a browser test never skips.
    pub fn start(options: Options) -> Browser {
        let driver_path = std::env::var("SIMDESK_CHROMEDRIVER").unwrap_or(CHROMEDRIVER.into());
        let chromium = std::env::var("SIMDESK_CHROMIUM").unwrap_or(CHROMIUM.into());
        if !Path::new(&driver_path).exists() {
            missing(&driver_path, "chromium-driver");
        }
        if !Path::new(&chromium).exists() {
            missing(&chromium, "chromium");
        }
        // A screenshot of an earlier failure would mislead once this run passes.
        let _ = std::fs::remove_file(artifacts_dir().join(format!("{}-failed.png", options.name)));
        let mut profile = tempfile::Builder::new()
            .prefix("simdesk-chromium-")
            .tempdir()
            .expect("a temporary profile directory");
        // The port is free when asked for; should another process take it before chromedriver
        // does, try another one.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_loopback_port();
            let log = profile.path().join("chromedriver.log");
            let mut command = Command::new(&driver_path);
            command
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .arg(format!("--log-path={}", log.display()))
                // Chromium's crash database and caches go into the fresh profile too, so that
                // nothing is shared between runs and every process it starts names that folder.
                .env("XDG_CONFIG_HOME", profile.path().join("config"))
                .env("XDG_CACHE_HOME", profile.path().join("cache"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // Its own process group, so that chromedriver and every Chromium process it starts
            // can be killed together by the group's id.
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let driver = command
                .spawn()
                .unwrap_or_else(|e| panic!("start {driver_path}: {e}"));
            let mut browser = Browser {
                http: agent(),
                session: String::new(),
                driver,
                profile,
                name: options.name.clone(),
                finished: true,
                killed: false,
            };
            let base = format!("http://127.0.0.1:{port}");
            match browser.wait_ready(&base) {
                Ok(()) => {
                    browser.open_session(&base, &chromium, &options);
                    return browser;
                }
                Err(e) => {
                    last_error = e;
                    profile = browser.shut_down_and_keep_profile();
                }
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }

    fn wait_ready(&mut self, base: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(format!(
                    "chromedriver exited ({status}); its log: {}",
                    self.driver_log()
                ));
            }
            if let Ok(value) = answer(self.http.get(&format!("{base}/status")).call()) {
                if value["ready"].as_bool() == Some(true) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not ready after 20 s; its log: {}",
                    self.driver_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn open_session(&mut self, base: &str, chromium: &str, options: &Options) {
        let user_data = self.profile.path().join("profile");
        let accept = options.languages.join(",");
        let lang = options
            .languages
            .first()
            .cloned()
            .unwrap_or_else(|| "en-US".into());
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": 60_000, "script": 30_000 },
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            format!("--user-data-dir={}", user_data.display()),
                            format!("--lang={lang}"),
                            format!("--accept-lang={accept}"),
                            format!("--window-size={},{}", options.width, options.height),
                        ],
                        "prefs": { "intl.accept_languages": accept },
                    }
                }
            }
        });
        let value = answer(
            self.http
                .post(&format!("{base}/session"))
                .send_json(&capabilities),
        )
        .unwrap_or_else(|e| {
            panic!(
                "Chromium did not start a session: {e}\nchromedriver's log: {}",
                self.driver_log()
            )
        });
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"));
        self.session = format!("{base}/session/{id}");
        self.finished = false;
    }

    fn driver_log(&self) -> String {
        let text = std::fs::read_to_string(self.profile.path().join("chromedriver.log"))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        answer(self.http.get(&format!("{}{path}", self.session)).call())
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        answer(
            self.http
                .post(&format!("{}{path}", self.session))
                .send_json(&body),
        )
    }

    /// Panics with what the browser shows, so a failure says where the test was.
    fn fail(&self, what: &str) -> ! {
        let url = self.url();
        let heading = self
            .try_find("h1")
            .and_then(|h| self.try_text(&h))
            .unwrap_or_default();
        let error = self
            .try_find(".error")
            .and_then(|e| self.try_text(&e))
            .unwrap_or_default();
        panic!("{what}\n  at {url}\n  heading: {heading:?}\n  error shown: {error:?}");
    }

    /// Opens a page and waits for it to load.
    pub fn goto(&self, url: &str) {
        if let Err(e) = self.post("/url", json!({ "url": url })) {
            self.fail(&format!("could not open {url}: {e}"));
        }
    }

    /// The address of the page shown.
    pub fn url(&self) -> String {
        self.get("/url")
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub fn debug_source(&self) -> String {
        self.get("/source")
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    /// The page's title.
    pub fn title(&self) -> String {
        self.get("/title")
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn try_find(&self, selector: &str) -> Result<Element, String> {
        let value = self.post(
            "/element",
            json!({ "using": "css selector", "value": selector }),
        )?;
        let id = value[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| format!("no element reference in {value}"))?;
        Ok(Element {
            id: id.to_string(),
            selector: selector.to_string(),
        })
    }

    fn try_text(&self, element: &Element) -> Result<String, String> {
        let value = self.get(&format!("/element/{}/text", element.id))?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The element the selector matches, waiting for it to appear.
    pub fn find(&self, selector: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.try_find(selector) {
                Ok(e) => return e,
                Err(e) if Instant::now() > deadline => {
                    self.fail(&format!("no element {selector:?} appeared: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits until one of the selectors matches an element; returns which one did.
    pub fn wait_for_one_of<'a>(&self, selectors: &[&'a str]) -> &'a str {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = selectors.iter().find(|s| self.try_find(s).is_ok()) {
                return found;
            }
            if Instant::now() > deadline {
                self.fail(&format!("none of {selectors:?} appeared"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every element the selector matches now.
    pub fn find_all(&self, selector: &str) -> Vec<Element> {
        let value = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": selector }),
            )
            .unwrap_or_else(|e| self.fail(&format!("finding {selector:?} failed: {e}")));
        value
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|v| v[ELEMENT_KEY].as_str())
                    .map(|id| Element {
                        id: id.to_string(),
                        selector: selector.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The visible text of the element the selector matches (as a person sees it).
    pub fn text(&self, selector: &str) -> String {
        let element = self.find(selector);
        self.try_text(&element)
            .unwrap_or_else(|e| self.fail(&format!("reading {selector:?} failed: {e}")))
    }

    /// Waits until the element's visible text is `expected`; panics with what it was instead.
    pub fn wait_for_text(&self, selector: &str, expected: &str) {
        let deadline = Instant::now() + WAIT;
        let mut seen = String::new();
        loop {
            if let Ok(text) = self.try_find(selector).and_then(|e| self.try_text(&e)) {
                if text == expected {
                    return;
                }
                seen = text;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "{selector:?} did not come to read {expected:?}; it read {seen:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// An attribute of the element the selector matches.
    pub fn attribute(&self, selector: &str, name: &str) -> Option<String> {
        let element = self.find(selector);
        self.get(&format!("/element/{}/attribute/{name}", element.id))
            .unwrap_or_else(|e| self.fail(&format!("reading {selector:?}[{name}] failed: {e}")))
            .as_str()
            .map(str::to_string)
    }

    /// Types into the element the selector matches, as a person would.
    pub fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector);
        if let Err(e) = self.post(
            &format!("/element/{}/value", element.id),
            json!({ "text": text }),
        ) {
            self.fail(&format!("typing into {selector:?} failed: {e}"));
        }
    }

    /// Chooses a file in the `input[type=file]` the selector matches, as a person picking it
    /// in the file dialog would: WebDriver sends the file's path to the input as keys.
    pub fn choose_file(&self, selector: &str, file: &Path) {
        assert!(
            file.is_absolute() && file.is_file(),
            "{} is not an absolute path to a file",
            file.display()
        );
        self.type_into(selector, &file.to_string_lossy());
    }

    /// Waits until no element matches the selector.
    pub fn wait_for_gone(&self, selector: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.find_all(selector).is_empty() {
            if Instant::now() > deadline {
                self.fail(&format!("{selector:?} did not go away"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reloads the page shown, as the browser's reload button does.
    pub fn refresh(&self) {
        if let Err(e) = self.post("/refresh", json!({})) {
            self.fail(&format!("reloading failed: {e}"));
        }
    }

    /// Runs a script in the page (WebDriver's Execute Script) and returns what it returns: for
    /// asking the browser what the DOM cannot say as text, e.g. whether an image was decoded.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .unwrap_or_else(|e| self.fail(&format!("the script failed: {e}")))
    }

    /// Clicks the element the selector matches (a link or a button); when that loads another
    /// page, returns once it has loaded.
    pub fn click(&self, selector: &str) {
        let element = self.find(selector);
        if let Err(e) = self.post(&format!("/element/{}/click", element.id), json!({})) {
            self.fail(&format!("clicking {selector:?} failed: {e}"));
        }
    }

    /// The browser's cookies for the page shown, as WebDriver reports them.
    pub fn cookies(&self) -> Vec<Value> {
        self.get("/cookie")
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// Saves a PNG of what the window shows as `target/browser-artifacts/<name>-<what>.png`,
    /// prints where, and returns the path.
    pub fn screenshot(&self, what: &str) -> PathBuf {
        let path = artifacts_dir().join(format!("{}-{what}.png", self.name));
        self.save_screenshot(&path)
            .unwrap_or_else(|e| self.fail(&format!("screenshot failed: {e}")));
        println!("screenshot: {}", path.display());
        path
    }

    fn save_screenshot(&self, path: &Path) -> Result<(), String> {
        let value = self.get("/screenshot")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .map_err(|e| format!("not base64: {e}"))?;
        if !png.starts_with(b"\x89PNG") {
            return Err("not a PNG".into());
        }
        std::fs::write(path, png).map_err(|e| format!("write {}: {e}", path.display()))
    }

    /// Saves the final screenshot: `<name>-final.png`.
    pub fn finish(&mut self) -> PathBuf {
        let path = self.screenshot("final");
        self.finished = true;
        path
    }

    /// Ends the session, kills chromedriver's process group and returns the profile directory.
    fn shut_down_and_keep_profile(mut self) -> tempfile::TempDir {
        self.shut_down();
        let profile = std::mem::replace(
            &mut self.profile,
            tempfile::tempdir().expect("a temporary directory"),
        );
        drop(self);
        profile
    }

    fn shut_down(&mut self) {
        if !self.session.is_empty() {
            if std::thread::panicking() && !self.finished {
                let path = artifacts_dir().join(format!("{}-failed.png", self.name));
                if self.save_screenshot(&path).is_ok() {
                    eprintln!("screenshot of the failed test: {}", path.display());
                }
            }
            // Closing the session closes Chromium; it may fail if Chromium is gone already.
            let _ = self
                .http
                .delete(&self.session)
                .config()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .call();
            self.session.clear();
        }
        if self.killed {
            return;
        }
        self.killed = true;
        // Whatever is left of chromedriver and the Chromium it started: killed by group.
        let group = self.driver.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        self.kill_strays();
    }

    /// Kills any process still naming this browser's profile folder on its command line: a
    /// Chromium process that left the process group, or its crash handler (which runs in a
    /// session of its own). The folder is unique to this browser, so nothing else matches.
    fn kill_strays(&self) {
        let marker = self.profile.path().to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The portal's messages in one language, read from its Fluent file (`key = text` lines).
pub fn messages(lang: &str) -> HashMap<String, String> {
    let path = format!("{}/locales/{lang}/portal.ftl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

pub struct Messages(pub HashMap<String, String>);

impl Messages {
    pub fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("no message {key}"))
    }

    /// A message with its one placeholder filled.
    pub fn with(&self, key: &str, name: &str, value: &str) -> String {
        let text = self.get(key);
        let placeholder = format!("{{ ${name} }}");
        assert!(text.contains(&placeholder), "{key} has no {placeholder}");
        text.replace(&placeholder, value)
    }
}
