//! The HTTP edge: operations endpoints, the REST API (TM Forum names plus simdesk's own), and
//! errors in one JSON shape.

pub mod api;
pub mod error;
pub mod es2plus;
pub mod guard;
pub mod ops;
pub mod pages;
pub mod sms;

pub use error::ApiError;

use crate::clock::Clock;
use crate::config::Settings;
use crate::services::ServiceContext;
use axum::Router;
use simdesk_domain::limits::AbuseRules;

#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceContext,
    /// Set when Kannel passes inbound SMS to simdesk.
    pub sms_inbound: Option<sms::SmsInbound>,
    /// Set when the SM-DP+ sends progress notifications (`[smdp] notification_token`).
    pub smdp_inbound: Option<es2plus::SmdpInbound>,
    /// The time limits and lockouts are judged at (tests move it forward).
    pub clock: Clock,
    /// Abuse limits per line, client address and account.
    pub limits: AbuseRules,
    /// Whether `X-Forwarded-For` names the client (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Whether to send HSTS: travellers reach the portal over https.
    pub hsts: bool,
}

impl AppState {
    /// The edge on `ctx`, judging limits and lockouts by the context's clock.
    pub fn new(ctx: ServiceContext) -> Self {
        AppState {
            clock: ctx.clock.clone(),
            ctx,
            sms_inbound: None,
            smdp_inbound: None,
            limits: AbuseRules::default(),
            trust_forwarded_for: false,
            hsts: false,
        }
    }

    /// Limits, proxy trust and HSTS as the settings say.
    pub fn with_settings(mut self, settings: &Settings) -> Self {
        self.limits = settings.limits;
        self.trust_forwarded_for = settings.trust_forwarded_for;
        self.hsts = settings.public_url().starts_with("https://");
        self
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
        .route(
            es2plus::PROGRESS_PATH,
            axum::routing::post(es2plus::handle_download_progress_info),
        )
        .merge(api.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::idempotency_layer,
        )))
        .fallback(not_found)
        // Every answer, the fallback's and the extractors' rejections included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::security_headers,
        ))
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
    all.push((Method::POST, es2plus::PROGRESS_PATH.to_string()));
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
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves until `stop` resolves, finishing the requests under way.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address is what abuse limits count (see the `Address` extractor in `web::guard`).
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
