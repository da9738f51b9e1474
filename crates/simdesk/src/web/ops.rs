//! Operations: Prometheus metrics (HTTP requests and latencies, lines and requests by state, how
//! late due work runs) and a request id on every request and log line.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide metrics recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program's); then ours only renders what it records.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts and times every request by route template, method and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("simdesk_http_requests_total", &labels).increment(1);
    metrics::histogram!("simdesk_http_request_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "ok", content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "ready", content_type = "text/plain"), (status = 503, description = "database unavailable", content_type = "text/plain")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.ctx.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            r
        }
    }
}

static OPENAPI: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();

/// Keeps the generated document for `/openapi.json`.
pub fn set_openapi(doc: utoipa::openapi::OpenApi) {
    let _ = OPENAPI.set(doc);
}

/// This API's OpenAPI 3.1 description, generated from the handlers.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()), responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
pub async fn openapi_document() -> Response {
    match OPENAPI.get() {
        Some(doc) => axum::Json(doc).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response(),
    }
}

/// `/metrics` in the Prometheus text format; database gauges are read at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()), responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    let handle = metrics_handle();
    let now = state.clock.now();
    match state.ctx.store.gauges(now).await {
        Ok(g) => {
            for (carrier, line_state, n) in &g.lines_by_state {
                metrics::gauge!("simdesk_lines", "carrier" => carrier.clone(), "state" => line_state.clone()).set(*n as f64);
            }
            for (request_state, n) in &g.requests_by_state {
                metrics::gauge!("simdesk_cancellation_requests", "state" => request_state.clone())
                    .set(*n as f64);
            }
            let age = |t: Option<jiff::Timestamp>| {
                t.map(|t| now.duration_since(t).as_secs_f64().max(0.0))
                    .unwrap_or(0.0)
            };
            // Per kind, so an unreachable HLR or SMTP relay shows as its own queue growing.
            for kind in crate::services::outbox::DELIVERED_KINDS {
                let depth = g.outbox_by_kind.iter().find(|d| d.kind == kind);
                let pending = depth.map(|d| d.pending).unwrap_or(0);
                let dead = depth.map(|d| d.dead).unwrap_or(0);
                let oldest = depth.and_then(|d| d.oldest_pending);
                metrics::gauge!("simdesk_outbox_pending", "kind" => kind).set(pending as f64);
                metrics::gauge!("simdesk_outbox_dead", "kind" => kind).set(dead as f64);
                metrics::gauge!("simdesk_outbox_oldest_pending_seconds", "kind" => kind)
                    .set(age(oldest));
            }
            // How far behind the effective date the oldest due cancellation is: the job lag.
            metrics::gauge!("simdesk_cancellation_job_lag_seconds")
                .set(age(g.oldest_due_cancellation));
            metrics::gauge!("simdesk_database_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database gauges unavailable");
            metrics::gauge!("simdesk_database_up").set(0.0);
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
