//! The REST API: TM Forum resources at the edge (product inventory, product ordering, prepay
//! balance) and simdesk's own under `/api/v1`, described by an OpenAPI 3.1 document generated
//! from the handlers themselves.

mod auth;
mod dto;
mod idempotency;
pub use idempotency::layer as idempotency_layer;
mod tmf;
mod v1;

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
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError::bad_request(format!(
                "the JSON body is not right: {}",
                rejection.body_text()
            ))),
        }
    }
}
