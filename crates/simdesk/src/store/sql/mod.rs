//! The SQL both backends share: each part of the store implemented once, generic over the dialect.
//!
//! Every `impl` over `SqlStore<D>` repeats one where-clause (an executor for `D`'s connections,
//! and the column types simdesk reads and writes): Rust implies a trait's bounds only where the
//! dialect itself is their subject, so bounds such as `i64: SqlValue<D>` cannot live on `Dialect`.

mod access;
mod audit;
mod audit_chain;
mod codes;
mod credit;
mod customers;
mod database;
mod dialect;
mod esim;
mod idempotency;
mod limits;
mod line_batch;
mod lines;
mod outbox;
mod policies;
mod privacy;
mod queue;
mod receipts;
mod requests;
mod statement;
mod usage;
mod wallet;

pub use dialect::{Dialect, PostgresStore, RowsAffected, SqlValue, SqliteStore};

pub(super) use super::*;
pub(super) use async_trait::async_trait;
pub(super) use audit_chain::{new_event_content, AuditEntry};
pub(super) use jiff::Timestamp;
pub(super) use outbox::outbox_subject;
pub(super) use simdesk_domain::balance::{
    AddonBinding, BalanceChange, Bucket, BucketRef, BucketUnit,
};
pub(super) use simdesk_domain::ids::{CarrierCode, CustomerId, LineId, RequestId};
pub(super) use simdesk_domain::line::{Line, LineKind, LineState};
pub(super) use simdesk_domain::money::{Currency, Money};
pub(super) use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};
pub(super) use statement::Statement;

/// Identifier lookups are chunked to stay under both engines' parameter limits.
const LOOKUP_CHUNK: usize = 500;
/// Rows per multi-row INSERT during imports (9 parameters each).
const INSERT_CHUNK: usize = 1000;
/// Line changes per multi-row statement when many are applied at once (up to 12 parameters a row).
const LINE_CHANGE_CHUNK: usize = 400;

/// The store on one SQL database: its pool and the vault that seals personal data.
pub struct SqlStore<D: sqlx::Database> {
    pub(super) pool: sqlx::Pool<D>,
    pub(super) vault: Arc<crate::vault::Vault>,
}

impl<D: sqlx::Database> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            vault: self.vault.clone(),
        }
    }
}

impl<D: sqlx::Database> SqlStore<D> {
    pub fn pool(&self) -> &sqlx::Pool<D> {
        &self.pool
    }
}

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(v: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| StoreError::Corrupt(format!("instant {v}: {e}")))
}

pub(super) fn opt_ts(v: Option<i64>) -> StoreResult<Option<Timestamp>> {
    v.map(from_micros).transpose()
}

pub(super) fn corrupt<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn duplicate_or(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(what.to_string())
        }
        _ => StoreError::Database(e),
    }
}

fn checks_text(checks: &[simdesk_domain::policy::IdentityCheck]) -> String {
    checks
        .iter()
        .map(simdesk_domain::cancellation::check_name)
        .collect::<Vec<_>>()
        .join(",")
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
