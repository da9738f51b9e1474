//! The one error shape every API client sees: `{code, reason, message}` (TM Forum style).

use crate::services::ServiceError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Stable, machine-readable code.
    pub code: String,
    /// Short reason.
    pub reason: String,
    /// What was wrong and how to fix it, for people.
    pub message: String,
    #[serde(skip)]
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            reason: reason.into(),
            message: message.into(),
            status,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the request cannot be read",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "not found", message)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "no valid credentials",
            "send `Authorization: Bearer <API token>`; an operator creates tokens with `simdesk tokens create`",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(self)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, code, reason) = match &e {
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND", "not found"),
            ServiceError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "BUSY", "try again"),
            ServiceError::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "temporarily unavailable",
            ),
            ServiceError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "a peer is unavailable",
            ),
            ServiceError::Line(_) => (
                StatusCode::CONFLICT,
                "LINE_STATE",
                "not allowed in the line's state",
            ),
            ServiceError::Cancellation(_) => (
                StatusCode::CONFLICT,
                "REQUEST_STATE",
                "not allowed in the request's state",
            ),
            ServiceError::Identity(_) => {
                (StatusCode::FORBIDDEN, "IDENTITY", "identity not confirmed")
            }
            ServiceError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many attempts",
            ),
            _ => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID",
                "invalid request",
            ),
        };
        let message = if e.is_client_error() {
            e.to_string()
        } else {
            // Internal details go to the log, never to the client.
            tracing::error!(error = %e, "request failed");
            "simdesk cannot answer right now; try again shortly".to_string()
        };
        ApiError::new(status, code, reason, message)
    }
}
