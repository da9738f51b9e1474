//! Storage behind one trait, with an embedded SQLite and a multi-node PostgreSQL implementation.

mod backends;
mod records;

pub use backends::{PostgresStore, SqliteStore};
pub use records::*;

use async_trait::async_trait;
use simdesk_domain::line::Line;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the line was changed by someone else meanwhile; try again")]
    Conflict,
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

/// Everything simdesk keeps, whatever the database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Brings the schema up to date.
    async fn migrate(&self) -> StoreResult<()>;
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Stores a carrier's documents; a document whose content changed becomes a new version.
    async fn save_policy_set(
        &self,
        set: &PolicySet,
        now: jiff::Timestamp,
    ) -> StoreResult<Vec<DocumentOutcome>>;
    /// The newest version of every policy document.
    async fn current_policy_documents(&self) -> StoreResult<Vec<StoredDocument>>;
    async fn carriers(&self) -> StoreResult<Vec<CarrierRow>>;

    /// Which of these identifiers are already stored (ICCID, IMSI or MSISDN values).
    async fn existing_identifiers(
        &self,
        iccids: &[&str],
        imsis: &[&str],
        msisdns: &[&str],
    ) -> StoreResult<Vec<String>>;
    /// Inserts new lines in stock as one recorded batch, all or none.
    async fn insert_lines(
        &self,
        batch: &ImportBatch,
        lines: &[NewLine],
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<u64>;

    async fn line(&self, key: &LineKey) -> StoreResult<Option<Line>>;
    /// The import that stocked a line.
    async fn import_batch_of(&self, line_id: i64) -> StoreResult<Option<ImportBatchRow>>;
    async fn buckets(&self, line_id: i64) -> StoreResult<Vec<simdesk_domain::balance::Bucket>>;
    async fn addons(&self, line_id: i64)
        -> StoreResult<Vec<simdesk_domain::balance::AddonBinding>>;
    async fn events(&self, line_id: i64) -> StoreResult<Vec<EventRow>>;
    async fn balance_entries(&self, line_id: i64) -> StoreResult<Vec<EntryRow>>;
    async fn customer(&self, id: i64) -> StoreResult<Option<CustomerRow>>;
    async fn count_lines_by_state(&self) -> StoreResult<Vec<(String, String, i64)>>;

    /// Persists one decision about a line atomically; fails with `Conflict` if the line changed meanwhile.
    async fn apply(&self, change: &LineChange) -> StoreResult<()>;
    /// Lines whose validity or grace has run out at `now`.
    async fn lines_due(&self, now: jiff::Timestamp, limit: i64) -> StoreResult<Vec<Line>>;
}

/// Opens the store a URL names and brings its schema up to date.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(SqliteStore::connect(url).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Arc::new(PostgresStore::connect(url).await?)
    } else {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    };
    store.migrate().await?;
    Ok(store)
}
