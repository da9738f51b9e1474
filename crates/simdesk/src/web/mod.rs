//! The HTTP edge: operations endpoints, the REST API (TM Forum names plus simdesk's own), and
//! errors in one JSON shape.

pub mod api;
pub mod error;
pub mod ops;
pub mod pages;
pub mod sms;

pub use error::ApiError;

use crate::services::cancellation::Desk;
use axum::Router;

#[derive(Clone)]
pub struct AppState {
    pub desk: Desk,
    /// Set when Kannel passes inbound SMS to simdesk.
    pub sms_inbound: Option<sms::SmsInbound>,
}

impl AppState {
    pub fn new(desk: Desk) -> Self {
        AppState {
            desk,
            sms_inbound: None,
        }
    }
}

pub fn router(state: AppState) -> Router {
    // Installed before the first request, so that request is counted too.
    ops::metrics_handle();
    let (api, openapi) = api::router().split_for_parts();
    ops::set_openapi(openapi);
    Router::new()
        .merge(pages::router())
        .route(SMS_INBOUND, axum::routing::get(sms::inbound))
        .merge(api.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::idempotency_layer,
        )))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(ops::track))
        // Outermost last: the id is set first, then the span that logs it, then echoed back.
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
        }))
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(tower_http::request_id::MakeRequestUuid))
}

const SMS_INBOUND: &str = "/sms/inbound";

/// (method, path) of every route the router serves: pages, inbound SMS, the API and the
/// operations endpoints (these two from the OpenAPI document the API router generates).
pub fn routes() -> Vec<(axum::http::Method, String)> {
    use axum::http::Method;
    let mut all: Vec<(Method, String)> = pages::routes()
        .into_iter()
        .map(|(m, p)| (m, p.to_string()))
        .collect();
    all.push((Method::GET, SMS_INBOUND.to_string()));
    let (_, openapi) = api::router().split_for_parts();
    for (path, item) in openapi.paths.paths {
        let methods = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        for (method, present) in methods {
            if present {
                all.push((method, path.clone()));
            }
        }
    }
    all
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource; the API is described at /openapi.json")
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
