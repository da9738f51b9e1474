//! Use cases: each loads state through the store, asks the domain to decide, and persists the decision.

pub mod access;
pub mod cancellation;
pub mod charging;
mod context;
pub mod demo;
pub mod effects;
pub mod esim;
pub mod guard;
pub mod import;
pub mod jobs;
pub mod limits;
pub mod lines;
pub mod notify;

pub mod outbox;
pub mod policies;
pub mod privacy;
pub mod reconcile;
pub mod staff;
pub mod usage;
pub mod wallet;

pub use context::ServiceContext;

use crate::store::StoreError;
use simdesk_domain::balance::BalanceError;
use simdesk_domain::customer::CustomerError;
use simdesk_domain::ids::IdError;
use simdesk_domain::line::LineError;
use simdesk_domain::money::MoneyError;
use simdesk_domain::policy::PolicyError;

/// Why a use case did not happen. Client mistakes and system failures are kept apart so the
/// edges can answer a mistake with guidance and a failure with an apology.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Line(#[from] LineError),
    #[error(transparent)]
    Balance(#[from] BalanceError),
    #[error(transparent)]
    Customer(#[from] CustomerError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Policy(Vec<PolicyError>),
    #[error("{0}")]
    Import(import::ImportReport),
    /// A usage file or batch with bad rows: nothing was counted.
    #[error("{0}")]
    UsageFile(usage::file::UsageFileReport),
    #[error(transparent)]
    Cancellation(#[from] simdesk_domain::cancellation::CancellationError),
    #[error(transparent)]
    Calendar(#[from] simdesk_domain::calendar::CalendarError),
    /// Identity could not be confirmed; says what to do next.
    #[error("{0}")]
    Identity(String),
    #[error("{0}")]
    RateLimited(String),
    /// The same person may not both supply and approve an identity document.
    #[error("{0}")]
    NeedsAnotherReviewer(String),
    /// An abuse limit refused the attempt; the caller may try again after `retry_after_secs`.
    #[error("too many {what}; try again in {} minute(s)", (.retry_after_secs + 59) / 60)]
    TooManyAttempts { what: String, retry_after_secs: i64 },
    /// A peer (SMS, e-mail, network, payments) could not be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error("the line is being changed by someone else; try again")]
    Busy,
    /// An upload refused for its size or content.
    #[error(transparent)]
    Document(#[from] crate::adapters::documents::DocumentError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ServiceError::Busy,
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Duplicate(what) => ServiceError::Invalid(format!("{what} already exists")),
            StoreError::Refused(why) => ServiceError::Invalid(why),
            other => ServiceError::Store(other),
        }
    }
}

impl ServiceError {
    /// Whether the caller made a mistake (as opposed to the system failing).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            ServiceError::Store(_) | ServiceError::Busy | ServiceError::Unavailable(_)
        )
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// At most `limit` characters of `text` (an ellipsis marks the cut), so that an error quoting a
/// pasted page or a hostile body stays one readable line.
pub fn excerpt(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
