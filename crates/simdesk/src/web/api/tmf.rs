//! TM Forum resources: TMF637 product inventory, TMF622 product ordering, TMF654 prepay balance.

use super::dto::*;
use super::{ApiJson, Operator};
use crate::services::access::Scope;
use crate::services::cancellation;
use crate::services::excerpt;
use crate::services::lines::find_line;
use crate::services::ServiceContext;
use crate::store::{LineKey, RequestRecord};
use crate::web::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use simdesk_domain::balance::BucketUnit;
use simdesk_domain::cancellation::{check_name, RequestState};
use simdesk_domain::ids::RequestId;
use simdesk_domain::line::{Line, LineState};
use simdesk_domain::validity::format_jst;
use utoipa::IntoParams;

const PRODUCT: &str = "/tmf-api/productInventory/v4/product";
const ORDER: &str = "/tmf-api/productOrdering/v4/productOrder";

/// The TMF637 status of a line.
pub fn product_status(state: LineState) -> &'static str {
    match state {
        LineState::InStock | LineState::Registered => "created",
        LineState::Active => "active",
        // In grace: still there, not usable.
        LineState::Expired => "suspended",
        LineState::PendingTermination => "pendingTerminate",
        LineState::Terminated | LineState::Closed => "terminated",
    }
}

fn product_status_filter(status: &str) -> Result<Vec<&'static str>, ApiError> {
    Ok(match status {
        "created" => vec!["in_stock", "registered"],
        "active" => vec!["active"],
        "suspended" => vec!["expired"],
        "pendingTerminate" => vec!["pending_termination"],
        "terminated" => vec!["terminated", "closed"],
        other => {
            return Err(ApiError::bad_request(format!(
            "status {:?} is not one of created, active, suspended, pendingTerminate, terminated",
            excerpt(other, 64)
        )))
        }
    })
}

pub(super) fn product(ctx: &ServiceContext, line: &Line) -> Product {
    let plan_name = ctx
        .book
        .plan(&line.carrier, &line.plan)
        .map(|p| p.name.clone())
        .unwrap_or_else(|_| line.plan.clone());
    let mut characteristics = vec![
        Characteristic {
            name: "iccid".into(),
            value: line.iccid.to_string(),
        },
        Characteristic {
            name: "msisdn".into(),
            value: line.msisdn.to_string(),
        },
        Characteristic {
            name: "imsi".into(),
            value: line.imsi.to_string(),
        },
        Characteristic {
            name: "kind".into(),
            value: line.kind.as_str().into(),
        },
        Characteristic {
            name: "simdeskState".into(),
            value: line.state.as_str().into(),
        },
    ];
    if let Some(end) = line.validity_ends_at {
        characteristics.push(Characteristic {
            name: "validUntilJst".into(),
            value: format_jst(simdesk_domain::validity::last_valid_second(end)),
        });
    }
    Product {
        id: line.iccid.to_string(),
        href: format!("{PRODUCT}/{}", line.iccid),
        name: plan_name.clone(),
        status: product_status(line.state).into(),
        product_specification: Ref {
            id: line.plan.clone(),
            name: Some(plan_name),
            href: None,
        },
        product_characteristic: characteristics,
        start_date: line.activated_at.map(|t| t.to_string()),
        termination_date: line.ended_at.map(|t| t.to_string()),
        kind: "Product".into(),
    }
}

pub(super) async fn owned_line(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<Line, ApiError> {
    // Only a line that is not there (or not the caller's) is "not found": a database that cannot
    // answer is a 503 the client retries, not a 404 it would believe.
    state
        .guard()
        .line(&operator.account(), id)
        .await
        .map_err(|e| match e {
            crate::services::ServiceError::NotFound(_) => {
                ApiError::not_found(format!("no product {}", excerpt(id, 64)))
            }
            other => other.into(),
        })
}

/// One line, by ICCID or MSISDN.
#[utoipa::path(get, path = "/tmf-api/productInventory/v4/product/{id}", tag = "TMF637 product inventory", security(("bearer" = ["lines:read"])),
    params(("id" = String, Path, description = "ICCID or MSISDN")),
    responses((status = 200, body = Product), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn get_product(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let line = owned_line(&state, &operator, &id).await?;
    Ok(Json(product(&state.ctx, &line)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// created, active, suspended, pendingTerminate or terminated
    pub status: Option<String>,
    /// At most 500; default 100.
    pub limit: Option<i64>,
    /// From the `X-Next-Cursor` header of the previous page.
    pub cursor: Option<String>,
}

/// The caller's carrier's lines, filtered by status, a page at a time.
#[utoipa::path(get, path = "/tmf-api/productInventory/v4/product", tag = "TMF637 product inventory", security(("bearer" = ["lines:read"])), params(ProductFilter),
    responses((status = 200, body = [Product], headers(("X-Next-Cursor" = String, description = "cursor of the next page, absent on the last"))), (status = 400, body = ApiError)))]
pub async fn list_products(
    State(state): State<AppState>,
    operator: Operator,
    Query(filter): Query<ProductFilter>,
) -> Result<Response, ApiError> {
    operator.require(Scope::LinesRead)?;
    let limit = filter.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let after = match filter.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request("cursor is not one this API gave out"))?,
    };
    let states = match filter.status.as_deref() {
        Some(s) => product_status_filter(s)?,
        None => vec![],
    };
    let store = state.ctx.store.as_ref();
    let mut lines = Vec::new();
    if states.is_empty() {
        lines = store
            .lines_page(&operator.carrier, None, after, limit)
            .await
            .map_err(crate::services::ServiceError::from)?;
    } else {
        for s in &states {
            lines.extend(
                store
                    .lines_page(&operator.carrier, Some(s), after, limit)
                    .await
                    .map_err(crate::services::ServiceError::from)?,
            );
        }
        lines.sort_by_key(|l| l.id);
        lines.truncate(usize::try_from(limit).unwrap_or(100));
    }
    let next = (lines.len() as i64 == limit)
        .then(|| lines.last().map(|l| l.id))
        .flatten();
    let body: Vec<Product> = lines.iter().map(|l| product(&state.ctx, l)).collect();
    let mut response = Json(body).into_response();
    if let Some(n) = next.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
        response.headers_mut().insert("x-next-cursor", n);
    }
    Ok(response)
}

pub(super) fn order_state(state: RequestState) -> &'static str {
    match state {
        RequestState::Submitted => "acknowledged",
        RequestState::IdentityVerified | RequestState::Approved => "inProgress",
        RequestState::Completed => "completed",
        RequestState::Rejected => "rejected",
        RequestState::Withdrawn => "cancelled",
    }
}

pub(super) fn order(record: &RequestRecord, line: &Line) -> ProductOrder {
    let r = &record.request;
    ProductOrder {
        id: r.id.to_string(),
        href: format!("{ORDER}/{}", r.id),
        state: order_state(r.state).into(),
        order_date: r.submitted.at.to_string(),
        requested_completion_date: r.effective_date.map(|d| d.to_string()),
        completion_date: record.completed_at.map(|t| t.to_string()),
        product_order_item: vec![ProductOrderItem {
            id: "1".into(),
            action: "delete".into(),
            product: Ref {
                id: line.iccid.to_string(),
                name: None,
                href: Some(format!("{PRODUCT}/{}", line.iccid)),
            },
        }],
        identity_required: r
            .required
            .iter()
            .map(|c| check_name(c).to_string())
            .collect(),
        identity_passed: r.passed.iter().map(|c| check_name(c).to_string()).collect(),
        rejection_reason: r.reject_reason.clone(),
        refund: record.refund_total.map(MoneyDto::from),
        receipt: record.receipt_number.clone(),
        kind: "ProductOrder".into(),
    }
}

pub(super) async fn owned_request(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<(RequestRecord, Line), ApiError> {
    let missing = || ApiError::not_found(format!("no product order {}", excerpt(id, 64)));
    let id: RequestId = id.parse().map_err(|_| missing())?;
    state
        .guard()
        .request(&operator.account(), id)
        .await
        .map_err(|e| match e {
            crate::services::ServiceError::NotFound(_) => missing(),
            other => other.into(),
        })
}

/// Submits a cancellation: one item with `action: "delete"` on the product. An open order for
/// the same line is returned instead of a second one (200 rather than 201).
#[utoipa::path(post, path = "/tmf-api/productOrdering/v4/productOrder", tag = "TMF622 product ordering", security(("bearer" = ["cancellations:write"])),
    request_body = ProductOrderCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "same key and body: same response")),
    responses((status = 201, body = ProductOrder), (status = 200, body = ProductOrder, description = "an open order for this line already existed"),
        (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create_product_order(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<ProductOrderCreate>,
) -> Result<Response, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let [item] = body.product_order_item.as_slice() else {
        return Err(ApiError::bad_request(
            "a product order has exactly one productOrderItem",
        ));
    };
    if item.action != "delete" {
        return Err(ApiError::bad_request(format!(
            "action {:?} is not supported; only \"delete\" (cancel the line) is",
            item.action
        )));
    }
    let line = owned_line(&state, &operator, &item.product.id).await?;
    let mut reason = body
        .description
        .clone()
        .unwrap_or_else(|| "cancellation ordered over the API".into());
    if let Some(external) = &body.external_id {
        reason = format!("{reason} (external id {external})");
    }
    let submitted = cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        simdesk_domain::attribution::Channel::Api,
        None,
        operator.attribution(reason),
    )
    .await?;
    let line = find_line(state.ctx.store.as_ref(), &LineKey::Id(line.id)).await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("{ORDER}/{}", submitted.request.request.id)) {
        headers.insert(axum::http::header::LOCATION, v);
    }
    Ok((status, headers, Json(order(&submitted.request, &line))).into_response())
}

/// One order (cancellation request).
#[utoipa::path(get, path = "/tmf-api/productOrdering/v4/productOrder/{id}", tag = "TMF622 product ordering", security(("bearer" = ["cancellations:read"])),
    params(("id" = String, Path)), responses((status = 200, body = ProductOrder), (status = 404, body = ApiError)))]
pub async fn get_product_order(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<ProductOrder>, ApiError> {
    operator.require(Scope::CancellationsRead)?;
    let (record, line) = owned_request(&state, &operator, &id).await?;
    Ok(Json(order(&record, &line)))
}

/// Withdraws an order before it takes effect; the line stays as it was.
#[utoipa::path(post, path = "/tmf-api/productOrdering/v4/cancelProductOrder", tag = "TMF622 product ordering", security(("bearer" = ["cancellations:write"])),
    request_body = CancelProductOrderCreate,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CancelProductOrder), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn cancel_product_order(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<CancelProductOrderCreate>,
) -> Result<Response, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &body.product_order.id).await?;
    let reason = body
        .cancellation_reason
        .unwrap_or_else(|| "withdrawn over the API".into());
    let record =
        cancellation::withdraw(&state.ctx, record.request.id, operator.attribution(reason)).await?;
    let line = find_line(
        state.ctx.store.as_ref(),
        &LineKey::Id(record.request.line_id),
    )
    .await?;
    let body = CancelProductOrder {
        id: record.request.id.to_string(),
        state: "done".into(),
        product_order: order(&record, &line),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BucketFilter {
    /// ICCID or MSISDN of the line.
    #[serde(rename = "product.id")]
    #[param(rename = "product.id")]
    pub product_id: String,
}

/// The prepaid balance buckets of a line.
#[utoipa::path(get, path = "/tmf-api/prepayBalanceManagement/v4/bucket", tag = "TMF654 prepay balance", security(("bearer" = ["lines:read"])), params(BucketFilter),
    responses((status = 200, body = [Bucket]), (status = 404, body = ApiError)))]
pub async fn list_buckets(
    State(state): State<AppState>,
    operator: Operator,
    Query(filter): Query<BucketFilter>,
) -> Result<Json<Vec<Bucket>>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let line = owned_line(&state, &operator, &filter.product_id).await?;
    let buckets = state
        .ctx
        .store
        .buckets(line.id)
        .await
        .map_err(crate::services::ServiceError::from)?;
    Ok(Json(
        buckets
            .iter()
            .map(|b| {
                let (usage, units) = match b.unit {
                    BucketUnit::Megabytes => ("data", "MB".to_string()),
                    BucketUnit::Money(c) => ("monetary", c.code().to_string()),
                };
                Bucket {
                    id: b.id.to_string(),
                    name: b.source.clone(),
                    usage_type: usage.into(),
                    remaining_value: Quantity {
                        amount: b.remaining,
                        units: units.clone(),
                    },
                    initial_value: Quantity {
                        amount: b.initial,
                        units,
                    },
                    valid_until: b.expires_at.map(|t| t.to_string()),
                    product: Ref {
                        id: line.iccid.to_string(),
                        name: None,
                        href: Some(format!("{PRODUCT}/{}", line.iccid)),
                    },
                }
            })
            .collect(),
    ))
}
