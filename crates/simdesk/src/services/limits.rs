//! Abuse limits at work: counts attempts in the database (so every node sees them) and refuses
//! a subject that is over its limit or locked out, saying when to try again.

use super::{ServiceError, ServiceResult};
use crate::keys::Keys;
use crate::store::Store;
use jiff::Timestamp;
use simdesk_domain::limits::{Limit, Verdict};

/// What is limited, and who: a scope name and the subject's key within it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub scope: &'static str,
    key: String,
}

impl Subject {
    /// A subject named by personal or guessable data (an address, an identifier, a username):
    /// kept only as a keyed hash.
    pub fn hashed(keys: &Keys, scope: &'static str, raw: &str) -> Subject {
        Subject {
            scope,
            key: keys.subject_key(scope, raw),
        }
    }

    /// A subject named by an internal id (a line, a request, an API token's row).
    pub fn id(scope: &'static str, id: impl std::fmt::Display) -> Subject {
        Subject {
            scope,
            key: id.to_string(),
        }
    }
}

fn refused(what: &str, retry_after: jiff::SignedDuration) -> ServiceError {
    ServiceError::TooManyAttempts {
        what: what.to_string(),
        retry_after_secs: retry_after.as_secs().max(1),
    }
}

/// Counts one attempt against each limit and refuses it when any is exceeded (all are counted,
/// so a subject cannot dodge one limit by tripping another first).
pub async fn attempt(
    store: &dyn Store,
    checks: &[(Limit, Subject)],
    what: &str,
    now: Timestamp,
) -> ServiceResult<()> {
    let mut longest = None;
    for (limit, subject) in checks {
        let counter = store
            .count_attempt(subject.scope, &subject.key, limit.window_start(now), now)
            .await?;
        if let Verdict::Limited {
            retry_after,
            lock_until,
        } = limit.judge(&counter, now)
        {
            if let Some(until) = lock_until {
                store
                    .lock_subject(subject.scope, &subject.key, until)
                    .await?;
            }
            longest = longest.max(Some(retry_after));
        }
    }
    match longest {
        Some(wait) => Err(refused(what, wait)),
        None => Ok(()),
    }
}

/// Refuses a subject that is locked out, without counting anything.
pub async fn not_locked(
    store: &dyn Store,
    limit: &Limit,
    subject: &Subject,
    what: &str,
    now: Timestamp,
) -> ServiceResult<()> {
    let Some(counter) = store.attempt_counter(subject.scope, &subject.key).await? else {
        return Ok(());
    };
    match limit.locked(&counter, now) {
        Some(wait) => Err(refused(what, wait)),
        None => Ok(()),
    }
}

/// Counts a failure (a wrong password or answer); the failure that reaches the limit starts the
/// lockout, so the attempt after it is refused by [`not_locked`].
pub async fn failed(
    store: &dyn Store,
    limit: &Limit,
    subject: &Subject,
    now: Timestamp,
) -> ServiceResult<()> {
    let counter = store
        .count_attempt(subject.scope, &subject.key, limit.window_start(now), now)
        .await?;
    if let Some(until) = limit.lock_after_failure(&counter, now) {
        store
            .lock_subject(subject.scope, &subject.key, until)
            .await?;
    }
    Ok(())
}
