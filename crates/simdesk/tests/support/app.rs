//! `spawn_app`: simdesk built through `App::build` and served on 127.0.0.1:0, on a fresh test
//! database, with the handles a test needs to look inside.

use super::{fresh_db, TestDb};
use simdesk::adapters::messages::RecordingCodeSender;
use simdesk::app::{App, Shutdown};
use simdesk::clock::Clock;
use simdesk::config::Settings;
use simdesk::services::outbox::Peers;
use simdesk::services::ServiceContext;
use simdesk::store::Store;
use simdesk_domain::limits::{AbuseRules, Limit};
use std::net::SocketAddr;
use std::sync::Arc;

/// How a test's app differs from a plain installation: settings (limits, proxy trust, peers),
/// its clock, whether due work runs beside the server.
pub struct AppOptions {
    settings: Settings,
    clock: Clock,
    due_work: bool,
    codes: Option<Arc<RecordingCodeSender>>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            settings: Settings::default(),
            clock: Clock::system(),
            due_work: false,
            codes: None,
        }
    }
}

impl AppOptions {
    pub fn new() -> AppOptions {
        AppOptions::default()
    }

    /// Any other setting: SMTP, HLR or SMS peers, the public URL, the job interval …
    pub fn settings(mut self, change: impl FnOnce(&mut Settings)) -> AppOptions {
        change(&mut self.settings);
        self
    }

    pub fn limits(self, rules: AbuseRules) -> AppOptions {
        self.settings(|s| s.limits = rules)
    }

    /// Limits so wide no test meets them: for tests about something else.
    pub fn wide_limits(self) -> AppOptions {
        let wide = Limit::new(1_000_000, 3600);
        self.limits(AbuseRules {
            code_sends_per_line: wide,
            code_sends_per_ip: wide,
            sign_ins_per_account: wide,
            code_checks_per_line: wide,
            code_checks_per_ip: wide,
            codes_per_account: wide,
            staff_failures_per_user: wide,
            staff_sign_ins_per_ip: wide,
            knowledge_failures_per_line: wide,
            knowledge_failures_per_account: wide,
            uploads_per_request: wide,
            uploads_per_ip: wide,
            uploads_per_account: wide,
            kiosk_tickets_per_ip: wide,
            code_sms_per_hour: wide,
        })
    }

    /// `X-Forwarded-For` names the client, so a test can speak from several addresses.
    pub fn trust_forwarded_for(self) -> AppOptions {
        self.settings(|s| s.trust_forwarded_for = true)
    }

    pub fn public_url(self, url: &str) -> AppOptions {
        let url = url.to_string();
        self.settings(|s| s.public_url = Some(url))
    }

    /// The clock the app (services and web edge alike) judges time by.
    pub fn clock(mut self, clock: &Clock) -> AppOptions {
        self.clock = clock.clone();
        self
    }

    /// Records the one-time codes in `codes` (shared by several nodes), not in a recorder of
    /// the app's own.
    pub fn codes(mut self, codes: &Arc<RecordingCodeSender>) -> AppOptions {
        self.codes = Some(codes.clone());
        self
    }

    /// Runs due work beside the server, as `simdesk serve` does (off unless asked, so a test
    /// that runs due work itself sees only its own runs).
    pub fn due_work(mut self) -> AppOptions {
        self.due_work = true;
        self
    }
}

/// A running app's address and handles.
pub struct RunningApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub ctx: ServiceContext,
    pub clock: Clock,
    pub store: Arc<dyn Store>,
    pub peers: Peers,
    /// Every one-time code the app sent, to read back.
    pub codes: Arc<RecordingCodeSender>,
    pub shutdown: Shutdown,
}

/// A running app on a test database of its own (the temp dir and database live as long as it).
pub struct TestApp {
    pub db: TestDb,
    pub app: RunningApp,
}

impl std::ops::Deref for TestApp {
    type Target = RunningApp;
    fn deref(&self) -> &RunningApp {
        &self.app
    }
}

/// A plain app on a fresh, empty database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// An app on a fresh, empty database, as `options` say.
pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    spawn_app_on(fresh_db().await, options).await
}

/// An app on `db`, which the test has already filled (policies, stock …): the app reads the
/// policies as they stand.
pub async fn spawn_app_on(db: TestDb, options: AppOptions) -> TestApp {
    let app = start_app(&db, options).await;
    TestApp { db, app }
}

/// Another app on `db`, as another node of the same installation is.
pub async fn start_app(db: &TestDb, options: AppOptions) -> RunningApp {
    let settings = Settings {
        data_dir: db.dir().to_path_buf(),
        db: Some(db.url.clone()),
        ..options.settings
    };
    let mut app = App::build_with_clock(settings, options.clock)
        .await
        .expect("build simdesk");
    if !options.due_work {
        app = app.without_due_work();
    }
    let codes = options.codes.unwrap_or_default();
    app.ctx.codes = codes.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let running = RunningApp {
        addr,
        base: format!("http://{addr}"),
        ctx: app.ctx.clone(),
        clock: app.ctx.clock.clone(),
        store: app.ctx.store.clone(),
        peers: app.peers.clone(),
        codes,
        shutdown: Shutdown::new(),
    };
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = app.run_on(listener, shutdown).await {
            eprintln!("the test app stopped: {e:#}");
        }
    });
    running
}
