//! Storage behind small traits by aggregate (`Store` is their sum), implemented once in SQL for
//! an embedded SQLite and a multi-node PostgreSQL.

mod parts;
mod records;
mod rows;
mod sealed;
mod sql;

pub use parts::*;
pub use records::*;
pub use sql::{Dialect, PostgresStore, SqlStore, SqlValue, SqliteStore};

/// The store's part traits, unnamed so no part's name clashes with a local one. Calls through
/// `dyn Store` or `dyn <part>` need no import (an object reaches its supertraits' methods);
/// code holding a concrete store (`SqliteStore`, `PostgresStore`) or a generic `S: Store`
/// imports `crate::store::prelude::*` to call its methods.
pub mod prelude {
    pub use super::parts::{
        Access as _, Audit as _, Codes as _, CreditReservations as _, Customers as _,
        Database as _, Idempotency as _, Limits as _, Lines as _, Outbox as _, Policies as _,
        Privacy as _, Queue as _, Receipts as _, Requests as _, UsageRecords as _, Wallet as _,
    };
}

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the line was changed by someone else meanwhile; try again")]
    Conflict,
    #[error("{0}")]
    Refused(String),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything simdesk keeps, whatever the database: the sum of the parts, so `Arc<dyn Store>`
/// reaches every method while a use case can ask for only the part it needs.
pub trait Store:
    Database
    + Policies
    + Lines
    + Customers
    + Privacy
    + Requests
    + Codes
    + Limits
    + Wallet
    + Receipts
    + Outbox
    + Access
    + Queue
    + Audit
    + Idempotency
    + UsageRecords
    + CreditReservations
    + EsimProfiles
{
}

impl<T> Store for T where
    T: Database
        + Policies
        + Lines
        + Customers
        + Privacy
        + Requests
        + Codes
        + Limits
        + Wallet
        + Receipts
        + Outbox
        + Access
        + Queue
        + Audit
        + Idempotency
        + UsageRecords
        + CreditReservations
        + EsimProfiles
{
}

/// How long a query waits for a PostgreSQL connection unless the settings say otherwise.
pub const DEFAULT_DB_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A bare SQLite pool with simdesk's connection settings, for measuring what the database allows.
pub async fn sqlite_pool(url: &str) -> StoreResult<sqlx::SqlitePool> {
    SqliteStore::pool_for(url).await
}

/// Opens the store a URL names and brings its schema up to date.
/// Personal data is sealed and opened with `vault`'s keys on the way in and out.
pub async fn open(url: &str, vault: Arc<crate::vault::Vault>) -> StoreResult<Arc<dyn Store>> {
    open_waiting(url, vault, DEFAULT_DB_WAIT).await
}

/// Opens the store like `open`; on PostgreSQL a query that cannot get a connection within `wait`
/// (the database unreachable, every connection busy) fails instead of waiting on. An embedded
/// SQLite file is never unreachable: its connections wait as long as they always have.
pub async fn open_waiting(
    url: &str,
    vault: Arc<crate::vault::Vault>,
    wait: std::time::Duration,
) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(SqliteStore::connect(url, vault).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Arc::new(PostgresStore::connect(url, vault, wait).await?)
    } else {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    };
    store.migrate().await?;
    Ok(store)
}
