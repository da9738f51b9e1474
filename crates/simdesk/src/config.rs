//! Settings from `simdesk.toml` (if present), then `SIMDESK_*` environment variables, then flags.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Where simdesk keeps its files (the SQLite database by default).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; defaults to `simdesk.db` in the data dir.
    pub db: Option<String>,
    /// Address `simdesk serve` listens on.
    pub listen: SocketAddr,
    /// Where the receipt signing key and the code-hashing key live (never in the database);
    /// every node of one installation must share them. Defaults to `<data_dir>/keys`.
    pub keys_dir: Option<PathBuf>,
    /// The address travellers reach the portal at, for links in messages; defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// The network's subscriber database (OsmoHLR's CTRL interface). Without it, network calls
    /// are written to simdesk's own journal.
    pub hlr: Option<HlrSettings>,
    /// The SMS gateway (Kannel). Without it, SMS are kept in memory and shown in the outbox.
    pub sms: Option<SmsSettings>,
    /// The SMTP relay. Without it, e-mails are kept in memory and shown in the outbox.
    pub smtp: Option<crate::adapters::email::SmtpSettings>,
    /// Online charging (`[gy]`): simdesk as the Diameter credit-control server of the
    /// network's Gy interface. Without it, no Diameter port is opened.
    pub gy: Option<crate::gy::GySettings>,
    /// The operator's SM-DP+ (`[smdp]`): where eSIM profiles are ordered, confirmed and
    /// cancelled over ES2+. Without it, eSIM calls wait in the outbox.
    #[serde(default)]
    pub smdp: Option<crate::adapters::smdp::SmdpSettings>,
    /// The file holding the master key that wraps every customer's data keys (32 bytes in
    /// base64), unless `SIMDESK_MASTER_KEY` supplies it. Defaults to `<keys_dir>/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// Abuse limits (`[limits]`): per line, client address and account, each
    /// `{ max, window_secs, lockout_secs }`; unset ones keep their defaults.
    #[serde(default)]
    pub limits: simdesk_domain::limits::AbuseRules,
    /// Take the client's address from `X-Forwarded-For` (its last entry). Only behind a proxy
    /// that sets it: otherwise any client could name any address and dodge the limits.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// This node's name, recorded on the due work it completes so an operator sees which node
    /// did it; defaults to `<hostname>-<pid>`. Give each node of one installation its own.
    pub node_name: Option<String>,
    /// How often `simdesk serve` runs due work (expiry, due cancellations, the outbox), in
    /// seconds.
    #[serde(default = "default_jobs_every_secs")]
    pub jobs_every_secs: u64,
    /// How long a request waits for a PostgreSQL connection before it is answered 503 with
    /// `Retry-After`, in seconds: while the database is unreachable, clients hear so promptly.
    #[serde(default = "default_db_wait_secs")]
    pub db_wait_secs: u64,
}

fn default_jobs_every_secs() -> u64 {
    30
}

fn default_db_wait_secs() -> u64 {
    crate::store::DEFAULT_DB_WAIT.as_secs()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("simdesk-data"),
            db: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            keys_dir: None,
            public_url: None,
            hlr: None,
            sms: None,
            smtp: None,
            gy: None,
            smdp: None,
            master_key_file: None,
            limits: Default::default(),
            trust_forwarded_for: false,
            node_name: None,
            jobs_every_secs: default_jobs_every_secs(),
            db_wait_secs: default_db_wait_secs(),
        }
    }
}

/// Where OsmoHLR's CTRL interface listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HlrSettings {
    /// `IP:PORT` of the CTRL interface (port 4259).
    pub ctrl: SocketAddr,
    /// Bounds each call, connection included (default 3000 ms).
    pub timeout_ms: Option<u64>,
}

/// Kannel's HTTP interfaces.
#[derive(Clone, Serialize, Deserialize)]
pub struct SmsSettings {
    /// smsbox's sendsms address, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub sendsms_url: String,
    pub username: String,
    pub password: String,
    /// The sender travellers see.
    pub from: String,
    /// Bounds each request (default 5000 ms).
    pub timeout_ms: Option<u64>,
    /// The secret Kannel's sms-service puts in its get-url (`token=`) when it passes an inbound
    /// SMS to simdesk; inbound SMS are refused when it is not set.
    pub inbound_token: Option<String>,
}

impl fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsSettings")
            .field("sendsms_url", &self.sendsms_url)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("from", &self.from)
            .field("timeout_ms", &self.timeout_ms)
            .field(
                "inbound_token",
                &self.inbound_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

// A database URL can carry a password: never print it.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("db", &self.db.as_deref().map(redact_url))
            .field("listen", &self.listen)
            .field("keys_dir", &self.keys_dir)
            .field("public_url", &self.public_url)
            .field("hlr", &self.hlr)
            .field("sms", &self.sms)
            .field("smtp", &self.smtp)
            .field("gy", &self.gy)
            .field("smdp", &self.smdp)
            .field("master_key_file", &self.master_key_file)
            .field("limits", &self.limits)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("node_name", &self.node_name)
            .field("jobs_every_secs", &self.jobs_every_secs)
            .field("db_wait_secs", &self.db_wait_secs)
            .finish()
    }
}

/// Hides the password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Settings {
    /// Reads `simdesk.toml` in the current directory (or `SIMDESK_CONFIG`), then `SIMDESK_*`
    /// variables; a double underscore reaches into a section (`SIMDESK_SMTP__PASSWORD`).
    pub fn load() -> Result<Settings, Box<figment::Error>> {
        let file = std::env::var("SIMDESK_CONFIG").unwrap_or_else(|_| "simdesk.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(
                Env::prefixed("SIMDESK_")
                    .split("__")
                    .ignore(&["config", "test_pg"]),
            )
            .extract()
            .map_err(Box::new)
    }

    /// The portal's base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.keys_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// The database URL to use.
    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.keys_dir().join("master.key"))
    }

    /// The blind-index key lives beside the other keys.
    pub fn index_key_file(&self) -> PathBuf {
        self.keys_dir().join("index.key")
    }

    /// This node's name: `node_name`, else `<hostname>-<pid>`.
    pub fn node_name(&self) -> String {
        self.node_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(crate::node::default_name)
    }

    /// How long a request waits for a database connection (at least a second).
    pub fn db_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.db_wait_secs.max(1))
    }

    pub fn database_url(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("simdesk.db").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db/simdesk"),
            "postgres://app:***@db/simdesk"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        let s = Settings {
            db: Some("postgres://app:hunter2@db/x".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn one_limit_can_be_set_and_the_others_keep_their_defaults() {
        let s: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(
                "trust_forwarded_for = true\n[limits.code_sms_per_hour]\nmax = 500\nwindow_secs = 3600\n",
            ))
            .extract()
            .unwrap();
        assert_eq!(s.limits.code_sms_per_hour.max, 500);
        assert!(s.trust_forwarded_for);
        let defaults = simdesk_domain::limits::AbuseRules::default();
        assert_eq!(
            s.limits.staff_failures_per_user,
            defaults.staff_failures_per_user
        );
        assert_ne!(defaults.code_sms_per_hour.max, 500);
    }

    #[test]
    fn node_name_and_jobs_interval_come_from_settings() {
        let s: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(
                "node_name = \"tokyo-1\"\njobs_every_secs = 5\n",
            ))
            .extract()
            .unwrap();
        assert_eq!(s.node_name(), "tokyo-1");
        assert_eq!(s.jobs_every_secs, 5);
        let d = Settings::default();
        assert_eq!(d.jobs_every_secs, 30);
        assert!(d.node_name().ends_with(&format!("-{}", std::process::id())));
    }

    #[test]
    fn the_gy_section_is_off_unless_given_and_keeps_its_defaults() {
        assert!(Settings::default().gy.is_none());
        let s: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(
                "[gy]\nlisten = \"127.0.0.1:3868\"\norigin_host = \"ocs.sim.example.jp\"\norigin_realm = \"sim.example.jp\"\n",
            ))
            .extract()
            .unwrap();
        let gy = s.gy.unwrap();
        assert_eq!(gy.listen, "127.0.0.1:3868".parse().unwrap());
        assert_eq!(gy.origin_host, "ocs.sim.example.jp");
        assert_eq!((gy.watchdog_secs, gy.validity_secs), (30, 900));
    }

    #[test]
    fn the_default_database_is_sqlite_in_the_data_dir() {
        let s = Settings {
            data_dir: "/srv/simdesk".into(),
            ..Settings::default()
        };
        assert_eq!(s.database_url(), "sqlite:///srv/simdesk/simdesk.db");
    }
}
