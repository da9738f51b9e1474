//! Operator systems authenticate with API tokens: random, stored hashed, limited to one carrier
//! and a set of scopes, expiring, revocable.

pub use crate::services::access::{hash_token, new_token};
use crate::services::access::{Scope, TOKEN_PREFIX};
use crate::services::guard::{Account, Address, Asker};
use crate::web::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::ids::CarrierCode;

/// The operator system calling, and the one carrier it may act for.
#[derive(Debug, Clone)]
pub struct Operator {
    pub token_id: i64,
    pub carrier: CarrierCode,
    pub name: String,
    pub scopes: Vec<String>,
    /// When the call arrived, by the app's clock: what its actions are recorded at.
    pub at: jiff::Timestamp,
}

impl Operator {
    /// Who acted, for the record: the token's name, through the API channel.
    pub fn attribution(&self, reason: impl Into<String>) -> Attribution {
        Attribution::new(
            Actor {
                kind: ActorKind::Operator,
                id: format!("token:{}:{}", self.token_id, self.name),
            },
            Channel::Api,
            self.at,
            reason,
        )
    }

    /// Refuses a route whose scope the token was not given, naming the scope. Checked before
    /// the resource is looked up, so a refusal says nothing about what exists.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope.as_str()) {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "SCOPE_MISSING",
                "the token lacks a scope",
                format!(
                    "this token lacks the scope {}; an operator creates a token with it using `simdesk tokens create --scope {}`",
                    scope.as_str(),
                    scope.as_str()
                ),
            ))
        }
    }

    /// The account the guard counts and checks ownership for.
    pub fn account(&self) -> Account {
        Account::Token {
            id: self.token_id,
            carrier: self.carrier.clone(),
        }
    }

    /// This operator asking from `address`.
    pub fn asker(&self, address: Address) -> Asker {
        Asker {
            channel: Channel::Api,
            address,
            account: self.account(),
        }
    }

    /// Resources of other carriers do not exist for this caller.
    pub fn owns(&self, carrier: &CarrierCode) -> Result<(), ApiError> {
        if self.carrier == *carrier {
            Ok(())
        } else {
            Err(ApiError::not_found("no such resource for this carrier"))
        }
    }
}

pub(super) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let now = state.clock.now();
        match state.ctx.store.api_token(&hash_token(token)).await {
            // An expired token is as good as none.
            Ok(Some(row)) if row.expires_at.is_none_or(|e| e > now) => {
                // Noting the use must not fail the call it notes; and a use noted within the
                // last minute is left as it is, so reads do not each become a write.
                let noted_lately = row
                    .last_used_at
                    .is_some_and(|t| now.duration_since(t) < jiff::SignedDuration::from_secs(60));
                if !noted_lately {
                    if let Err(e) = state.ctx.store.touch_api_token(row.id, now).await {
                        tracing::warn!(error = %e, "could not note a token's use");
                    }
                }
                Ok(Operator {
                    token_id: row.id,
                    carrier: row.carrier,
                    name: row.name,
                    scopes: row.scopes,
                    at: now,
                })
            }
            Ok(_) => Err(ApiError::unauthorized()),
            Err(e) => Err(crate::services::ServiceError::from(e).into()),
        }
    }
}
