//! Operator systems authenticate with API tokens: random, stored hashed, scoped to one carrier,
//! revocable.

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
        match state.desk.store.api_token(&hash_token(token)).await {
            Ok(Some((token_id, carrier, name))) => Ok(Operator {
                token_id,
                carrier,
                name,
            }),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(e) => Err(crate::services::ServiceError::from(e).into()),
        }
    }
}
