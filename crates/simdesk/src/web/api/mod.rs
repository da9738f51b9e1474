//! The REST API: TM Forum resources at the edge (product inventory, product ordering, prepay
//! balance) and simdesk's own under `/api/v1`, described by an OpenAPI 3.1 document generated
//! from the handlers themselves.

mod auth;
mod dto;
mod idempotency;
pub use idempotency::layer as idempotency_layer;
mod esim;
mod tmf;
mod usage;
mod v1;
pub(crate) use v1::quote_body;

pub use auth::{hash_token, new_token, Operator};

use super::{ApiError, AppState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "simdesk API", description = "Prepaid travel SIM and eSIM lines: inventory, balance and cancellation. Every POST honours `Idempotency-Key`; errors are `{code, reason, message}`; money is `{value, unit}` in minor units."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "TMF637 product inventory"),
        (name = "TMF622 product ordering"),
        (name = "TMF654 prepay balance"),
        (name = "TMF635 usage"),
        (name = "simdesk"),
        (name = "operations"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tmf::get_product))
        .routes(routes!(tmf::list_products))
        .routes(routes!(tmf::create_product_order))
        .routes(routes!(tmf::get_product_order))
        .routes(routes!(tmf::cancel_product_order))
        .routes(routes!(tmf::list_buckets))
        .routes(routes!(usage::list_usage))
        .routes(routes!(v1::line_status))
        .routes(routes!(v1::line_history))
        .routes(routes!(v1::quote))
        .routes(routes!(v1::get_cancellation))
        .routes(routes!(v1::send_code))
        .routes(routes!(v1::check_code))
        .routes(routes!(v1::verify_knowledge))
        .routes({
            // Identity documents may be up to 10 MB, beyond axum's default body limit; larger
            // ones reach the upload's own check, which says what the limit is.
            let (schemas, paths, method) = routes!(v1::upload_document);
            (
                schemas,
                paths,
                method.layer(DefaultBodyLimit::max(idempotency::MAX_BODY)),
            )
        })
        .routes(routes!(v1::review_document))
        .routes(routes!(v1::reject_cancellation))
        .routes(routes!(v1::withdraw_cancellation))
        .routes(routes!(v1::wallet))
        .routes(routes!(v1::payout))
        .routes(routes!(usage::post_usage))
        .routes(routes!(usage::line_usage))
        .routes(routes!(esim::profile))
        .routes(routes!(esim::order))
        .routes(routes!(v1::receipt))
        .routes(routes!(v1::verify_receipt))
        .routes(routes!(crate::web::ops::healthz))
        .routes(routes!(crate::web::ops::readyz))
        .routes(routes!(crate::web::ops::metrics_endpoint))
        .routes(routes!(crate::web::ops::openapi_document))
        // Inside the idempotency layer, so a remembered answer has the shape too.
        .layer(axum::middleware::from_fn(super::error::shape_errors))
}

/// JSON bodies whose rejections come back in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // serde quotes the offending value, which may be most of a hostile body.
        let not_right = |rejection: JsonRejection| {
            ApiError::bad_request(format!(
                "the JSON body is not right: {}",
                crate::services::excerpt(&rejection.body_text(), 300)
            ))
        };
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(not_right)?;
        // Text with NUL cannot be stored (PostgreSQL refuses it): say so rather than fail the
        // write as if simdesk were down.
        if let Some(at) = nul_in(&value, "") {
            return Err(ApiError::bad_request(format!(
                "{} holds the NUL character (\\u0000), which no text may contain",
                crate::services::excerpt(&at, 64)
            )));
        }
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        let axum::Json(body) = axum::Json::<T>::from_bytes(&bytes).map_err(not_right)?;
        Ok(ApiJson(body))
    }
}

/// Where in `value` a string or a field name holds NUL, as a path such as `items[0].name`.
fn nul_in(value: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let here = || {
        if at.is_empty() {
            "the body".to_string()
        } else {
            at.to_string()
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(here()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, &format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(name, field)| {
            if name.contains('\0') {
                return Some(format!("a field name in {}", here()));
            }
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            nul_in(field, &path)
        }),
        _ => None,
    }
}
