//! eSIM profiles over the API: a shop's system orders the profile of a line it sold, and reads
//! what simdesk knows of it. The activation code itself is never served here: it is the
//! traveller's, shown to them alone.

use super::tmf::owned_line;
use super::{ApiJson, Operator};
use crate::services::access::Scope;
use crate::services::esim::{self, ProfileView};
use crate::store::LineKey;
use crate::web::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// What simdesk knows of a line's profile on the SM-DP+.
#[utoipa::path(get, path = "/api/v1/lines/{line}/esim", tag = "simdesk", security(("bearer" = ["lines:read"])), params(("line" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn profile(
    State(state): State<AppState>,
    operator: Operator,
    Path(line): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let l = owned_line(&state, &operator, &line).await?;
    Ok(Json(
        esim::show(state.ctx.store.as_ref(), &LineKey::Id(l.id)).await?,
    ))
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// The traveller's phone (32 digits): only that phone can download the profile.
    #[schema(pattern = "^[0-9]{32}$")]
    pub eid: Option<String>,
}

/// Orders the line's profile on the SM-DP+ (DownloadOrder, then ConfirmOrder with release),
/// for a registered eSIM line. The call goes out through the outbox; the answer's activation
/// code reaches the traveller, never this response. Requires `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/lines/{line}/esim/order", tag = "simdesk", security(("bearer" = ["esim:write"])), params(("line" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = OrderBody, responses((status = 202, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn order(
    State(state): State<AppState>,
    operator: Operator,
    Path(line): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrderBody>,
) -> Result<(axum::http::StatusCode, Json<ProfileView>), ApiError> {
    operator.require(Scope::EsimWrite)?;
    if headers.get("idempotency-key").is_none() {
        return Err(ApiError::bad_request(
            "ordering a profile needs an Idempotency-Key header so that a retry orders once",
        ));
    }
    let l = owned_line(&state, &operator, &line).await?;
    let view = esim::order(
        state.ctx.store.as_ref(),
        &LineKey::Id(l.id),
        body.eid.as_deref(),
        operator.attribution("eSIM profile ordered"),
    )
    .await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(view)))
}
