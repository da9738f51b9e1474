//! Operator systems authenticate with API tokens: random, stored hashed, limited to one carrier
//! and a set of scopes, expiring, revocable.

use crate::services::access::Scope;
use crate::web::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};

const PREFIX: &str = "sdk_";

/// A new token: shown once to whoever creates it, never stored.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{PREFIX}{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// The operator system calling, and the one carrier it may act for.
#[derive(Debug, Clone)]
pub struct Operator {
    pub token_id: i64,
    pub carrier: String,
    pub name: String,
    pub scopes: Vec<String>,
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
            jiff::Timestamp::now(),
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

    /// Resources of other carriers do not exist for this caller.
    pub fn owns(&self, carrier: &str) -> Result<(), ApiError> {
        if self.carrier == carrier {
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
        .filter(|t| t.starts_with(PREFIX))
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let now = jiff::Timestamp::now();
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
                })
            }
            Ok(_) => Err(ApiError::unauthorized()),
            Err(e) => Err(crate::services::ServiceError::from(e).into()),
        }
    }
}
