//! Who may do what: staff permissions per role, API token scopes, and the record of token and
//! staff administration.

use super::staff::Role;
use super::{ServiceError, ServiceResult};
use crate::store::{AdminEvent, NewApiToken, Store};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use simdesk_domain::ids::CarrierCode;

/// What every API token starts with, so a bearer value that cannot be one is refused unread.
pub const TOKEN_PREFIX: &str = "sdk_";

/// A new API token: shown once to whoever creates it, never stored.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// What the store keeps of a token, and looks it up by.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// One thing a staff member may do. Every staff route asks for exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The hotline console: search lines by number, ICCID or holder name.
    Console,
    /// A line's page with holder, balance, add-ons and open business.
    LookUpLine,
    /// Submitting a cancellation for a caller after the knowledge check.
    HotlineCancel,
    /// A cancellation request's page (state, checks, history); clerks follow their slips here.
    ViewRequest,
    /// Opening identity-document images.
    ViewDocuments,
    /// Approving or rejecting an uploaded identity document.
    ReviewDocuments,
    /// A signed receipt, to print or read out.
    ViewReceipt,
    /// The store counter: calling tickets.
    Counter,
    /// Submitting a cancellation for a walk-in with the passport and SIM in hand.
    StoreCancel,
    /// Staff and token administration.
    Administer,
}

impl Role {
    /// The one table of what each role may do.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        let hotline = matches!(
            permission,
            Console | LookUpLine | HotlineCancel | ViewDocuments | ReviewDocuments
        );
        let counter = matches!(permission, Counter | StoreCancel);
        let shared = matches!(permission, ViewRequest | ViewReceipt);
        match self {
            Role::Agent => hotline || shared,
            Role::Clerk => counter || shared,
            Role::Supervisor => hotline || counter || shared,
            Role::Admin => true,
        }
    }
}

/// What an API token may do. A route needs one scope; a token holds a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Products, buckets, line status, history and quotes.
    LinesRead,
    /// Product orders and cancellation requests with their steps.
    CancellationsRead,
    /// Submitting, withdrawing and rejecting cancellations; codes, knowledge checks, uploads.
    CancellationsWrite,
    /// Approving or rejecting identity documents.
    IdentityReview,
    /// Customers' e-wallets.
    WalletsRead,
    /// Paying wallet money out.
    PayoutsWrite,
    /// Receipts and their verification.
    ReceiptsRead,
    /// Posting usage records the network reported.
    UsageWrite,
    /// Ordering eSIM profiles for sold lines on the SM-DP+.
    EsimWrite,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::LinesRead,
        Scope::CancellationsRead,
        Scope::CancellationsWrite,
        Scope::IdentityReview,
        Scope::WalletsRead,
        Scope::PayoutsWrite,
        Scope::ReceiptsRead,
        Scope::UsageWrite,
        Scope::EsimWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::LinesRead => "lines:read",
            Scope::CancellationsRead => "cancellations:read",
            Scope::CancellationsWrite => "cancellations:write",
            Scope::IdentityReview => "identity:review",
            Scope::WalletsRead => "wallets:read",
            Scope::PayoutsWrite => "payouts:write",
            Scope::ReceiptsRead => "receipts:read",
            Scope::UsageWrite => "usage:write",
            Scope::EsimWrite => "esim:write",
        }
    }

    pub fn parse(s: &str) -> ServiceResult<Scope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "scope {s:?} is not one of {}",
                    Scope::ALL.map(Scope::as_str).join(", ")
                ))
            })
    }

    /// A comma-separated list, as typed after `--scope`; at least one, no repeats.
    pub fn parse_list(s: &str) -> ServiceResult<Vec<Scope>> {
        let mut scopes = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Scope::parse)
            .collect::<ServiceResult<Vec<_>>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "give a token at least one --scope: {}",
                Scope::ALL.map(Scope::as_str).join(", ")
            )));
        }
        Ok(scopes)
    }
}

/// Creates a token for one carrier with these scopes, records who created it and why, and
/// returns its id and the clear token (shown once, stored only hashed).
pub async fn create_token(
    store: &dyn Store,
    carrier: &CarrierCode,
    name: &str,
    scopes: &[Scope],
    expires_in_days: Option<i64>,
    by: &Administrator<'_>,
    now: Timestamp,
) -> ServiceResult<(i64, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::Invalid(
            "give the token a --name saying what it is for".into(),
        ));
    }
    if scopes.is_empty() {
        return Err(ServiceError::Invalid(
            "give a token at least one scope".into(),
        ));
    }
    let expires_at = match expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(now + SignedDuration::from_hours(24 * d)),
        Some(d) => {
            return Err(ServiceError::Invalid(format!(
                "--expires-in-days {d} is not between 1 and 3650"
            )))
        }
    };
    let secret = new_token();
    let id = store
        .create_api_token(&NewApiToken {
            carrier: carrier.clone(),
            name: name.to_string(),
            token_hash: hash_token(&secret),
            scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
            expires_at,
            created_by: by.actor.to_string(),
            created_at: now,
        })
        .await?;
    record(store, by, "token created", &format!("token:{id}"), now).await?;
    Ok((id, secret))
}

/// Who administers, and why: the CLI's `--actor` (or the login name) and `--reason`.
#[derive(Debug, Clone, Copy)]
pub struct Administrator<'a> {
    pub actor: &'a str,
    pub reason: &'a str,
}

/// Writes one administration entry.
pub async fn record(
    store: &dyn Store,
    by: &Administrator<'_>,
    action: &str,
    subject: &str,
    now: Timestamp,
) -> ServiceResult<()> {
    Ok(store
        .record_admin_event(&AdminEvent {
            at: now,
            actor: by.actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            reason: by.reason.to_string(),
        })
        .await?)
}

/// Revokes a live token at once and records who did it and why.
pub async fn revoke_token(
    store: &dyn Store,
    id: i64,
    by: &Administrator<'_>,
    now: Timestamp,
) -> ServiceResult<()> {
    if !store.revoke_api_token(id, now).await? {
        return Err(ServiceError::NotFound(format!("live token {id}")));
    }
    record(store, by, "token revoked", &format!("token:{id}"), now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_split_the_hotline_from_the_counter() {
        use Permission::*;
        for p in [ViewDocuments, ReviewDocuments, Console, HotlineCancel] {
            assert!(Role::Agent.may(p) && !Role::Clerk.may(p), "{p:?}");
        }
        for p in [Counter, StoreCancel] {
            assert!(Role::Clerk.may(p) && !Role::Agent.may(p), "{p:?}");
        }
        assert!(Role::Supervisor.may(ReviewDocuments) && Role::Supervisor.may(StoreCancel));
        assert!(!Role::Supervisor.may(Administer) && Role::Admin.may(Administer));
        assert!(Role::Clerk.may(ViewRequest) && Role::Clerk.may(ViewReceipt));
    }

    #[test]
    fn scope_lists_are_checked_and_deduplicated() {
        assert_eq!(
            Scope::parse_list("payouts:write, lines:read,lines:read").unwrap(),
            vec![Scope::LinesRead, Scope::PayoutsWrite]
        );
        assert!(Scope::parse_list("lines:write").is_err());
        assert!(Scope::parse_list(" , ").is_err());
    }
}
