//! Test support: a fresh database per test — SQLite always, PostgreSQL when SIMDESK_TEST_PG is set.
#![allow(dead_code)]

pub mod app;
pub mod browser;
pub mod diameter;
pub mod node;
pub mod peers;
pub mod proxy;
pub mod stock;

#[allow(unused_imports)]
pub use app::{
    spawn_app, spawn_app_on, spawn_app_with, start_app, AppOptions, RunningApp, TestApp,
};
use simdesk::store::{self, Store};
use std::sync::Arc;

/// A fresh, migrated store and what keeps it alive.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// The folder this database's files (the SQLite file, the keys) live in.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The keys folder that seals this database's personal data: give it to a simdesk process
    /// as `SIMDESK_KEYS_DIR`.
    #[allow(dead_code)]
    pub fn keys_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("keys")
    }

    /// Another connection to the same database with the same keys, as a second node has.
    #[allow(dead_code)]
    pub async fn open_again(&self) -> Arc<dyn Store> {
        let keys = self.keys_dir();
        let vault =
            simdesk::vault::Vault::load(None, &keys.join("master.key"), &keys.join("index.key"))
                .expect("test keys");
        store::open(&self.url, Arc::new(vault.vault))
            .await
            .expect("open store")
    }
}

impl TestDb {
    /// Removes a PostgreSQL test database once its test passed: the large ones are not worth
    /// keeping. Connections still open to it are closed.
    pub async fn drop_database(self) {
        use sqlx::Executor;
        let Some(server) = pg_server() else { return };
        let name = self.url.rsplit('/').next().unwrap_or_default().to_string();
        drop(self);
        let admin = sqlx::PgPool::connect(&server)
            .await
            .expect("the test server");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .expect("drop the test database");
        admin.close().await;
    }
}

fn unique_name() -> String {
    format!("simdesk_t_{}_{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{}", COUNTER.fetch_add(1, Ordering::Relaxed), nanos)
}

/// The backend under test: `postgres` when SIMDESK_TEST_PG is set, else `sqlite`.
pub fn backend() -> &'static str {
    if std::env::var("SIMDESK_TEST_PG").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// The PostgreSQL server under test: `SIMDESK_TEST_PG` when it is a URL, the local server when
/// it is set to anything else (`SIMDESK_TEST_PG=1`).
pub fn pg_server() -> Option<String> {
    std::env::var("SIMDESK_TEST_PG").ok().map(|v| {
        if v.contains("://") {
            v
        } else {
            "postgres://postgres@127.0.0.1:5432/test".to_string()
        }
    })
}

pub async fn fresh_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match pg_server() {
        Some(server) => {
            use sqlx::Executor;
            let name = unique_name();
            let admin = sqlx::PgPool::connect(&server)
                .await
                .expect("SIMDESK_TEST_PG must point at a running PostgreSQL");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            admin.close().await;
            replace_db_name(&server, &name)
        }
        None => format!("sqlite://{}", dir.path().join("test.db").display()),
    };
    // Keys in files, so a simdesk process started on this database (SIMDESK_KEYS_DIR) reads
    // the personal data this test writes.
    let keys = dir.path().join("keys");
    let vault =
        simdesk::vault::Vault::load(None, &keys.join("master.key"), &keys.join("index.key"))
            .expect("test keys");
    let store = store::open(&url, Arc::new(vault.vault))
        .await
        .expect("open store");
    TestDb {
        store,
        url,
        _dir: dir,
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, format!("?{q}")))
        .unwrap_or((url, String::new()));
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[scheme_end..].find('/') {
        Some(slash) => format!("{}/{name}{query}", &base[..scheme_end + slash]),
        None => format!("{base}/{name}{query}"),
    }
}

pub fn policies_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}
