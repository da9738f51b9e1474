//! What differs between SQLite and PostgreSQL: connection set-up, migrations, event ids and row locks.

use super::{SqlStore, StoreResult};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Decode, Encode, Pool, Postgres, Sqlite, Type};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A backend simdesk's SQL runs on; the statements themselves are shared (`$n` placeholders
/// both engines accept), so only these few things are written per backend.
pub trait Dialect: sqlx::Database<QueryResult: RowsAffected> {
    /// `sqlite` or `postgres`.
    const BACKEND: &'static str;
    /// What a claiming subquery appends so several nodes skip rows another is claiming.
    const SKIP_LOCKED: &'static str;

    /// Brings the schema up to date from this backend's migrations folder.
    fn migrate(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<(), sqlx::migrate::MigrateError>> + Send;

    /// `count` fresh history-entry ids, taken before the rows are written so the audit trail
    /// can name them in one pass.
    fn next_event_ids(
        conn: &mut Self::Connection,
        count: i64,
    ) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;
}

/// A Rust type read from and written to a column of `DB` as it is.
pub trait SqlValue<DB: sqlx::Database>:
    Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Send + Sync
{
}

impl<T, DB: sqlx::Database> SqlValue<DB> for T where
    T: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Send + Sync
{
}

/// How many rows a statement changed, which is how a conditional write learns it lost a race.
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

impl Dialect for Sqlite {
    const BACKEND: &'static str = "sqlite";
    // SQLite has one writer at a time: a claim never meets another in progress.
    const SKIP_LOCKED: &'static str = "";

    async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations/sqlite").run(pool).await
    }

    async fn next_event_ids(
        conn: &mut sqlx::SqliteConnection,
        count: i64,
    ) -> StoreResult<Vec<i64>> {
        // The transaction has written already, so it holds the only write lock.
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM line_events")
            .fetch_one(conn)
            .await?;
        Ok((last + 1..=last + count).collect())
    }
}

impl Dialect for Postgres {
    const BACKEND: &'static str = "postgres";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations/postgres").run(pool).await
    }

    async fn next_event_ids(conn: &mut sqlx::PgConnection, count: i64) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT nextval(pg_get_serial_sequence('line_events', 'id')) FROM generate_series(1, $1)",
        )
        .bind(count)
        .fetch_all(conn)
        .await?)
    }
}

/// SQLite, the embedded default: one file, WAL, one writer at a time.
pub type SqliteStore = SqlStore<Sqlite>;

/// PostgreSQL, for several nodes sharing one database.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Sqlite> {
    pub async fn connect(url: &str, vault: Arc<crate::vault::Vault>) -> StoreResult<Self> {
        let pool = Self::pool_for(url).await?;
        Ok(SqlStore { pool, vault })
    }

    /// A pool opened as simdesk opens its own (the bench's ceilings use the same settings).
    pub async fn pool_for(url: &str) -> StoreResult<SqlitePool> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // Erased rows and replaced plaintext are overwritten, not left in free pages.
            .pragma("secure_delete", "ON")
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Ok(SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?)
    }
}

impl SqlStore<Postgres> {
    pub async fn connect(
        url: &str,
        vault: Arc<crate::vault::Vault>,
        wait: Duration,
    ) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Bounds how long a request waits while the database is unreachable: it is then
            // answered 503 with Retry-After instead of hanging.
            .acquire_timeout(wait)
            .connect(url)
            .await?;
        Ok(SqlStore { pool, vault })
    }
}
