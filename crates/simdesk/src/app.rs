//! The composition root: simdesk built from its settings (store, keys, vault, peers, policies,
//! clock, node name) and run until stopped (the HTTP server plus the due-work loop). Nothing else
//! wires the parts together; the command line, the demo, the bench and the tests build here.

use crate::clock::Clock;
use crate::config::{redact_url, Settings};
use crate::gy::{self, CreditControl, GySettings, NoCreditControl};
use crate::keys::Keys;
use crate::services::charging::{Charging, Quota};
use crate::services::outbox::Peers;
use crate::services::policies::PolicyBook;
use crate::services::{jobs, ServiceContext};
use crate::store::{self, Store};
use crate::vault::{LoadedVault, Vault};
use crate::web::{self, AppState};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A built simdesk: the use cases' context, the peers side effects are delivered to, and the
/// settings the web edge reads.
pub struct App {
    pub ctx: ServiceContext,
    pub peers: Peers,
    /// Set when Kannel passes inbound SMS to simdesk.
    pub sms_inbound: Option<web::sms::SmsInbound>,
    pub settings: Settings,
    /// What decides online-charging grants when `[gy]` is set: simdesk's charging; without it
    /// the Gy server answers every CCR 5012 (unable to comply).
    pub credit_control: Option<Arc<dyn CreditControl>>,
    /// Whether `run_on` runs due work beside the server (tests that deliver by hand turn it off).
    due_work: bool,
}

impl App {
    /// Builds simdesk from settings on the real time.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        App::build_with_clock(settings, Clock::system()).await
    }

    /// Builds simdesk from settings on `clock` (a test clock, or the instant `--now` names).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<App> {
        let store = open_store(&settings).await?;
        let keys = load_keys(&settings)?;
        let book = PolicyBook::load(store.as_ref()).await?;
        let (peers, codes) = crate::peers::from_settings(&settings, store.clone())?;
        let ctx = ServiceContext {
            store,
            book: Arc::new(book),
            keys: Arc::new(keys),
            codes,
            clock,
        };
        let sms_inbound = settings
            .sms
            .as_ref()
            .and_then(|s| s.inbound_token.clone())
            .map(|token| web::sms::SmsInbound {
                token,
                public_url: settings.public_url(),
            });
        // Online charging decides on the same buckets and rating as usage files.
        let credit_control = settings.gy.as_ref().map(|gy| {
            let quota = Quota {
                validity_secs: gy.validity_secs,
                ..Quota::default()
            };
            Arc::new(Charging::new(ctx.clone(), quota)) as Arc<dyn CreditControl>
        });
        Ok(App {
            ctx,
            peers,
            sms_inbound,
            settings,
            credit_control,
            due_work: true,
        })
    }

    /// The clock the use cases and the web edge share.
    pub fn clock(&self) -> &Clock {
        &self.ctx.clock
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.ctx.store
    }

    /// Reads the carriers' policies again, after a load changed them.
    pub async fn reload_policies(&mut self) -> anyhow::Result<()> {
        let book = PolicyBook::load(self.ctx.store.as_ref()).await?;
        self.ctx = self.ctx.with_book(book);
        Ok(())
    }

    /// Sends every SMS, e-mail and one-time code to a file instead of a gateway: the demo's
    /// travellers are fictional, so what they would be sent lands where a newcomer can read it.
    pub fn send_messages_to_file(&mut self, path: &Path) {
        let outbox = Arc::new(crate::adapters::messages::DemoOutbox::new(
            path.to_path_buf(),
        ));
        self.ctx.codes = Arc::new(crate::adapters::messages::MessageCodes::new(
            outbox.clone(),
            outbox.clone(),
        ));
        self.peers.sms = outbox.clone();
        self.peers.mail = outbox;
    }

    /// Serves without the due-work loop: for tests that run due work themselves.
    pub fn without_due_work(mut self) -> App {
        self.due_work = false;
        self
    }

    /// What the web edge is given: the context, with limits, proxy trust and HTTPS as the
    /// settings say, judged by the context's clock.
    pub fn web_state(&self) -> AppState {
        let mut state = AppState::new(self.ctx.clone()).with_settings(&self.settings);
        state.sms_inbound = self.sms_inbound.clone();
        state.smdp_inbound = self.settings.smdp.as_ref().and_then(|s| {
            s.notification_token
                .clone()
                .map(|token| web::es2plus::SmdpInbound {
                    token,
                    points: s.points,
                })
        });
        state
    }

    /// Serves on the `listen` address until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let listener = bind(self.settings.listen).await?;
        self.run_on(listener, Shutdown::on_signals()).await
    }

    /// Serves on `listener` (port 0 included), with due work beside it, until `shutdown` is
    /// triggered; the due-work loop ends with the server. With `[gy]` set, the Gy server runs
    /// beside them on its own address and stops with them.
    pub async fn run_on(self, listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
        let gy = match &self.settings.gy {
            Some(settings) => Some(self.start_gy(settings.clone(), &shutdown).await?),
            None => None,
        };
        let state = self.web_state();
        let every = Duration::from_secs(self.settings.jobs_every_secs.max(1));
        let due = self
            .due_work
            .then(|| tokio::spawn(run_due_work(self.ctx.clone(), self.peers.clone(), every)));
        let stop = shutdown.clone();
        let served = web::serve_until(listener, state, async move { stop.stopped().await }).await;
        if let Some(due) = due {
            due.abort();
        }
        if let Some(gy) = gy {
            // The HTTP server ended, by the same shutdown or by failing: the Gy server goes too.
            shutdown.stop();
            let _ = gy.await;
        }
        served?;
        Ok(())
    }

    /// Binds the Gy address and serves it until `shutdown`.
    async fn start_gy(
        &self,
        settings: GySettings,
        shutdown: &Shutdown,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let listener = bind(settings.listen).await.context("the Gy server")?;
        let control = self.credit_control.clone().unwrap_or_else(|| {
            tracing::warn!(
                "[gy] is set but nothing in simdesk decides credit yet: every CCR is answered \
                 5012 (unable to comply)"
            );
            Arc::new(NoCreditControl)
        });
        let stop = shutdown.clone();
        Ok(tokio::spawn(gy::serve(
            listener,
            settings,
            control,
            async move { stop.stopped().await },
        )))
    }
}

/// Binds the HTTP listener.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

/// Due work runs beside the server, so a single node needs no external scheduler; on several
/// nodes each runs it, leases share it out and the database keeps every step to exactly once.
async fn run_due_work(ctx: ServiceContext, peers: Peers, every: Duration) {
    let mut tick = tokio::time::interval(every);
    // A run that outlasts the interval is followed by one interval's rest, not a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (ctx, peers) = (ctx.clone(), peers.clone());
        // Each run in its own task: a run that fails, even by panicking, is logged and the
        // next one comes at the next tick; the loop outlives it.
        let run = tokio::spawn(async move {
            let now = ctx.clock.now();
            jobs::run_due(&ctx, &peers, now).await
        });
        match run.await {
            Ok(Ok(r))
                if r.cancellations.completed
                    + r.lines.expired
                    + r.lines.closed
                    + r.outbox.delivered
                    + r.credit_released
                    > 0 =>
            {
                tracing::info!(?r, node = crate::node::name(), "due work done")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "due work failed; retrying at the next run")
            }
            Err(e) => {
                tracing::error!(error = %e, "due work stopped unexpectedly; retrying at the next run")
            }
        }
    }
}

/// Stops a running app: triggered by hand (tests) or by Ctrl-C / SIGTERM (`on_signals`).
/// Clones share one trigger.
#[derive(Clone)]
pub struct Shutdown {
    trigger: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A handle only `stop` triggers.
    pub fn new() -> Shutdown {
        Shutdown {
            trigger: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// A handle that Ctrl-C or SIGTERM triggers, as well as `stop`.
    pub fn on_signals() -> Shutdown {
        let shutdown = Shutdown::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            web::shutdown_signal().await;
            on_signal.stop();
        });
        shutdown
    }

    pub fn stop(&self) {
        self.trigger.send_replace(true);
    }

    /// Resolves once `stop` was called.
    pub async fn stopped(&self) {
        let mut watching = self.trigger.subscribe();
        let _ = watching.wait_for(|stopped| *stopped).await;
    }
}

/// Opens (creating and migrating if need be) the database the settings name, sealed with the
/// installation's keys, waiting for it as long as `db_wait_secs` says. Names this node too: the
/// work it completes on the database carries the name.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    crate::node::set_name(&settings.node_name());
    if settings.db.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    }
    let url = settings.database_url();
    let vault = load_vault(settings)?;
    match store::open_waiting(&url, Arc::new(vault.vault), settings.db_wait()).await {
        Ok(store) => Ok(store),
        Err(e) => {
            // A key made for nothing must not be mistaken later for the one the data needs.
            if let Some(created) = &vault.created_master_file {
                let _ = std::fs::remove_file(created);
            }
            Err(anyhow::Error::new(e).context(format!("opening the database {}", redact_url(&url))))
        }
    }
}

/// The master key (from `SIMDESK_MASTER_KEY` or the master key file) and the index key.
pub fn load_vault(settings: &Settings) -> anyhow::Result<LoadedVault> {
    let env = std::env::var(crate::crypto::MASTER_KEY_VAR)
        .ok()
        .filter(|v| !v.is_empty());
    Vault::load(
        env.as_deref(),
        &settings.master_key_file(),
        &settings.index_key_file(),
    )
    .context("loading the keys that seal personal data")
}

/// The receipt signing key (created on first use) in the keys folder.
pub fn load_keys(settings: &Settings) -> anyhow::Result<Keys> {
    let dir = settings.keys_dir();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the keys folder {}", dir.display()))?;
    Ok(Keys::load_or_create(&dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration, Timestamp};

    async fn app_in(dir: &Path, clock: Clock) -> App {
        let settings = Settings {
            data_dir: dir.to_path_buf(),
            ..Settings::default()
        };
        App::build_with_clock(settings, clock).await.unwrap()
    }

    #[tokio::test]
    async fn the_web_edge_judges_time_by_the_services_clock() {
        let dir = tempfile::tempdir().unwrap();
        let at: Timestamp = "2026-11-25T03:00:00Z".parse().unwrap();
        let app = app_in(dir.path(), Clock::fixed(at)).await;
        let state = app.web_state();
        app.clock().advance(SignedDuration::from_hours(1));
        assert_eq!(state.clock.now(), at + SignedDuration::from_hours(1));
        assert_eq!(state.ctx.clock.now(), state.clock.now());
    }

    /// Sends one request built from `avps` and returns the answer's Result-Code.
    async fn exchange(
        stream: &mut tokio::net::TcpStream,
        command: diameter::CommandCode,
        application: diameter::ApplicationId,
        avps: Vec<(u32, diameter::avp::AvpValue)>,
    ) -> Option<u32> {
        use crate::gy::{avp, dictionary::dictionary, wire};
        use tokio::io::AsyncWriteExt;
        let dict = dictionary();
        let mut m = diameter::DiameterMessage::new(
            command,
            application,
            wire::flags::REQUEST,
            1,
            1,
            dict.clone(),
        );
        for (code, value) in avps {
            m.add(wire::avp(code, value, &dict));
        }
        stream.write_all(&wire::encode(&m)).await.unwrap();
        let bytes = wire::read_message(stream).await.unwrap().unwrap();
        let answer = wire::decode(&wire::clean(&bytes, &dict).unwrap(), &dict).unwrap();
        wire::find(answer.get_avps(), avp::RESULT_CODE).and_then(|a| a.get_unsigned32())
    }

    /// With `[gy]` set the app answers the network's CCRs: one naming no subscriber is 5030.
    #[tokio::test]
    async fn with_gy_set_the_app_answers_credit_control() {
        use crate::gy::avp;
        use diameter::avp::{Enumerated, Identity, UTF8String, Unsigned32};
        use diameter::{ApplicationId, CommandCode};

        let dir = tempfile::tempdir().unwrap();
        // A free port for Gy: run_on binds the configured address itself.
        let gy_addr = bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            gy: Some(GySettings::new(gy_addr, "ocs.test", "test")),
            ..Settings::default()
        };
        let app = App::build(settings).await.unwrap();
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let shutdown = Shutdown::new();
        let running = tokio::spawn(app.run_on(listener, shutdown.clone()));

        let mut stream = None;
        for _ in 0..100 {
            match tokio::net::TcpStream::connect(gy_addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let mut stream = stream.expect("the Gy server listens");
        let origin = || {
            vec![
                (avp::ORIGIN_HOST, Identity::new("pgw.test").into()),
                (avp::ORIGIN_REALM, Identity::new("test").into()),
            ]
        };
        let mut cer = origin();
        cer.push((avp::AUTH_APPLICATION_ID, Unsigned32::new(4).into()));
        let cea = exchange(
            &mut stream,
            CommandCode::CapabilitiesExchange,
            ApplicationId::Common,
            cer,
        )
        .await;
        assert_eq!(cea, Some(2001));
        let mut ccr = origin();
        ccr.extend([
            (avp::SESSION_ID, UTF8String::new("pgw.test;1").into()),
            (avp::DESTINATION_REALM, Identity::new("test").into()),
            (avp::AUTH_APPLICATION_ID, Unsigned32::new(4).into()),
            (
                avp::SERVICE_CONTEXT_ID,
                UTF8String::new("32251@3gpp.org").into(),
            ),
            (avp::CC_REQUEST_TYPE, Enumerated::new(1).into()),
            (avp::CC_REQUEST_NUMBER, Unsigned32::new(0).into()),
        ]);
        let cca = exchange(
            &mut stream,
            CommandCode::CreditControl,
            ApplicationId::CreditControl,
            ccr,
        )
        .await;
        assert_eq!(cca, Some(5030));

        shutdown.stop();
        tokio::time::timeout(Duration::from_secs(20), running)
            .await
            .expect("stopped in time")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_running_app_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let app = app_in(dir.path(), Clock::system()).await;
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let shutdown = Shutdown::new();
        let running = tokio::spawn(app.run_on(listener, shutdown.clone()));
        shutdown.stop();
        tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("stopped in time")
            .unwrap()
            .unwrap();
    }
}
