//! The HTTP edge: health, readiness and read-only line status, with errors in one JSON shape.

use crate::services::lines::{parse_line_key, report};
use crate::services::policies::PolicyBook;
use crate::services::ServiceError;
use crate::store::Store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::RwLock;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub book: Arc<RwLock<PolicyBook>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/lines/{line}", get(line_status))
        .fallback(not_found)
        .with_state(state)
}

/// The one error shape every client sees (TM Forum style).
#[derive(Debug, Serialize)]
pub struct ApiError {
    pub code: String,
    pub reason: String,
    pub message: String,
    #[serde(skip)]
    pub status: StatusCode,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        (status, Json(self)).into_response()
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
            ServiceError::Line(_) => (
                StatusCode::CONFLICT,
                "LINE_STATE",
                "not allowed in the line's state",
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
        ApiError {
            code: code.into(),
            reason: reason.into(),
            message,
            status,
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn line_status(
    State(state): State<AppState>,
    Path(line): Path<String>,
) -> Result<Response, ApiError> {
    let key = parse_line_key(&line)?;
    let book = state.book.read().await;
    let report = report(state.store.as_ref(), &book, &key, jiff::Timestamp::now()).await?;
    Ok(Json(report).into_response())
}

async fn not_found() -> ApiError {
    ApiError {
        code: "NOT_FOUND".into(),
        reason: "no such resource".into(),
        message: "no such resource; see /api/v1/lines/{ICCID or MSISDN}".into(),
        status: StatusCode::NOT_FOUND,
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown())
        .await
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
