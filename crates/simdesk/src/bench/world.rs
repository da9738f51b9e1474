//! A throw-away simdesk installation for one bench scenario: its own folder, database and keys.

use super::Backend;
use crate::app::App;
use crate::config::Settings;
use crate::services::policies::load_policies;
use crate::services::ServiceContext;
use crate::store::{self, Store};
use anyhow::Context;
use sqlx::{PgPool, SqlitePool};
use std::path::PathBuf;

/// A bare connection pool to the same database, opened like simdesk's own, for the ceilings.
pub enum Bare {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub ctx: ServiceContext,
    pub bare: Bare,
    /// The PostgreSQL server (its admin URL) and the database made for this world, dropped at the end.
    pg: Option<(String, String)>,
}

/// When the example policies take effect in every bench world.
pub const POLICIES_FROM: &str = "2026-11-01T00:00:00Z";

impl World {
    /// Creates an empty, migrated installation with the example carriers' policies.
    pub async fn create(backend: Backend, pg_admin: &str, name: &str) -> anyhow::Result<World> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("simdesk-bench-{name}-"))
            .tempdir()
            .context("creating a folder for the bench")?;
        let (url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("simdesk.db").display()),
                None,
            ),
            Backend::Postgres => {
                let db = format!("simdesk_bench_{}_{name}", std::process::id());
                let admin = PgPool::connect(pg_admin)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {pg_admin}"))?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .execute(&admin)
                    .await?;
                sqlx::query(&format!("CREATE DATABASE {db}"))
                    .execute(&admin)
                    .await
                    .with_context(|| format!("creating the bench database {db}"))?;
                admin.close().await;
                (
                    with_database(pg_admin, &db)?,
                    Some((pg_admin.to_string(), db)),
                )
            }
        };
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            db: Some(url.clone()),
            ..Settings::default()
        };
        let mut app = App::build(settings).await?;
        let policies = dir.path().join("policies");
        crate::examples::write_to(&policies)?;
        load_policies(app.store().as_ref(), &policies, POLICIES_FROM.parse()?).await?;
        app.reload_policies().await?;
        let ctx = app.ctx;
        let bare = match backend {
            Backend::Sqlite => Bare::Sqlite(store::sqlite_pool(&url).await?),
            Backend::Postgres => Bare::Postgres(PgPool::connect(&url).await?),
        };
        Ok(World {
            dir,
            url,
            ctx,
            bare,
            pg,
        })
    }

    pub fn store(&self) -> &dyn Store {
        self.ctx.store.as_ref()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Opens simdesk's store again, so settings changed on the database reach every connection.
    pub async fn reopen(&mut self) -> anyhow::Result<()> {
        let settings = Settings {
            data_dir: self.data_dir(),
            db: Some(self.url.clone()),
            ..Settings::default()
        };
        self.ctx.store = crate::app::open_store(&settings).await?;
        Ok(())
    }

    /// Seeding is not what is measured: on PostgreSQL it may skip waiting for each commit's
    /// flush. `fast` on turns that off for new connections; `reopen` afterwards.
    pub async fn fast_commits(&self, fast: bool) -> anyhow::Result<()> {
        if let (Bare::Postgres(pool), Some((_, db))) = (&self.bare, &self.pg) {
            let value = if fast { "off" } else { "on" };
            sqlx::query(&format!(
                "ALTER DATABASE {db} SET synchronous_commit = {value}"
            ))
            .execute(pool)
            .await?;
        }
        Ok(())
    }

    /// Removes the database (the folder goes when the world is dropped).
    pub async fn destroy(self) -> anyhow::Result<()> {
        match &self.bare {
            Bare::Sqlite(p) => p.close().await,
            Bare::Postgres(p) => p.close().await,
        }
        if let Some((admin, db)) = &self.pg {
            let admin = PgPool::connect(admin).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&admin)
                .await?;
            admin.close().await;
        }
        Ok(())
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, db: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn another_database_on_the_same_server() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            super::with_database("postgres://u@h/test?sslmode=disable", "b").unwrap(),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "b").unwrap(),
            "postgres://u@h/b"
        );
    }
}
