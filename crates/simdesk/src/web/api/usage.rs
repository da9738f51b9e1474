//! Usage records over the API: the network's records posted one or many at a time, and a line's
//! usage read back (simdesk's own shape, and TMF635's at the TM Forum edge).

use super::dto::{Characteristic, Quantity, RatedProductUsage, Ref, Usage};
use super::tmf::owned_line;
use super::{ApiJson, Operator};
use crate::services::access::Scope;
use crate::services::usage::file::import_records;
use crate::services::usage::{line_key, UsageRecord};
use crate::services::ServiceError;
use crate::web::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use simdesk_domain::policy::Service;
use utoipa::ToSchema;

/// Records a single POST may carry; a network's files go through `simdesk usage import`.
const MAX_RECORDS: usize = 1000;

/// One usage record as the network reports it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRecordDto {
    /// Unique per carrier: a record id counted before changes nothing.
    #[schema(min_length = 1, max_length = 128)]
    pub record_id: String,
    /// The line's ICCID, IMSI or phone number.
    pub line: String,
    /// `data`, `voice` or `sms`.
    #[schema(pattern = "^(data|voice|sms)$")]
    pub service: String,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Bytes, seconds or messages.
    pub volume: u64,
    /// The visited network, MCC-MNC.
    pub network: Option<String>,
    pub rating_group: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    #[schema(min_items = 1, max_items = 1000)]
    pub records: Vec<UsageRecordDto>,
}

/// Counts usage records, all or nothing: a bad record is named and none is counted. Requires
/// `Idempotency-Key`; records already counted (by id) change nothing and say so.
#[utoipa::path(post, path = "/api/v1/usage", tag = "simdesk", security(("bearer" = ["usage:write"])), params(("Idempotency-Key" = String, Header)),
    request_body = UsageBatch, responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn post_usage(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UsageBatch>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::UsageWrite)?;
    if headers.get("idempotency-key").is_none() {
        return Err(ApiError::bad_request(
            "posting usage needs an Idempotency-Key header so that a retry is answered once",
        ));
    }
    if body.records.is_empty() || body.records.len() > MAX_RECORDS {
        return Err(ApiError::bad_request(format!(
            "send 1 to {MAX_RECORDS} records; got {}",
            body.records.len()
        )));
    }
    let mut records = Vec::with_capacity(body.records.len());
    for (i, r) in body.records.iter().enumerate() {
        records.push(record(r).map_err(|(field, why)| {
            ApiError::bad_request(format!("records[{i}].{field}: {why}"))
        })?);
    }
    let by = operator.attribution("usage records posted");
    let (outcome, each) = import_records(
        state.ctx.store.as_ref(),
        &state.ctx.book,
        Some(&operator.carrier),
        &records,
        &by,
    )
    .await
    .map_err(|e| match e {
        // Name each bad record as the client sent it, not as a file's line.
        ServiceError::UsageFile(report) => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID",
            "invalid usage records",
            format!(
                "{}; nothing was counted",
                report
                    .errors
                    .iter()
                    .map(|r| format!("records[{}].{}: {}", r.line - 1, r.column, r.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        other => other.into(),
    })?;
    let results: Vec<Value> = records
        .iter()
        .zip(&each)
        .map(|(r, c)| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            v["record_id"] = json!(r.record_id);
            v
        })
        .collect();
    Ok(Json(json!({ "summary": outcome, "records": results })))
}

fn record(r: &UsageRecordDto) -> Result<UsageRecord, (&'static str, String)> {
    if r.record_id.trim().is_empty() || r.record_id.len() > 128 {
        return Err(("record_id", "a record id is 1 to 128 characters".into()));
    }
    let service: Service = r
        .service
        .parse()
        .map_err(|e: simdesk_domain::attribution::UnknownName| ("service", e.to_string()))?;
    let instant = |field: &'static str, text: &str| {
        text.parse::<jiff::Timestamp>().map_err(|_| {
            (
                field,
                "not an RFC 3339 instant (e.g. 2026-12-01T09:30:00+09:00)".to_string(),
            )
        })
    };
    let started_at = instant("started_at", &r.started_at)?;
    let ended_at = r
        .ended_at
        .as_deref()
        .map(|t| instant("ended_at", t))
        .transpose()?;
    if ended_at.is_some_and(|e| e < started_at) {
        return Err(("ended_at", "ends before it starts".into()));
    }
    if let Some(n) = &r.network {
        if !(5..=6).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(("network", "an MCC-MNC is 5 or 6 digits, e.g. 44010".into()));
        }
    }
    Ok(UsageRecord {
        record_id: r.record_id.trim().to_string(),
        line: line_key(&r.line).map_err(|e| ("line", e))?,
        service,
        started_at,
        ended_at,
        volume: r.volume,
        network: r.network.clone(),
        rating_group: r.rating_group,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UsagePage {
    /// Records with a row id below this (the `next` of the previous page).
    pub before: Option<i64>,
    /// 1 to 500, default 50.
    pub limit: Option<i64>,
}

/// A line's usage records, newest first, and the instant usage is counted up to.
#[utoipa::path(get, path = "/api/v1/lines/{line}/usage", tag = "simdesk", security(("bearer" = ["lines:read"])), params(("line" = String, Path), UsagePage),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn line_usage(
    State(state): State<AppState>,
    operator: Operator,
    Path(line): Path<String>,
    Query(page): Query<UsagePage>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500"));
    }
    let l = owned_line(&state, &operator, &line).await?;
    let store = state.ctx.store.as_ref();
    let rows = store
        .usage_of_line(l.id, page.before, limit)
        .await
        .map_err(ServiceError::from)?;
    let left = store.line_usage(l.id).await.map_err(ServiceError::from)?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({
        "line": l.iccid.as_str(),
        "counted_until": left.counted_until,
        "data_stopped": left.data_stopped,
        "records": rows,
        "next": next,
    })))
}

const USAGE: &str = "/tmf-api/usageManagement/v4/usage";
const PRODUCT: &str = "/tmf-api/productInventory/v4/product";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageFilter {
    /// ICCID or MSISDN of the line (the TMF637 product).
    #[serde(rename = "product.id")]
    #[param(rename = "product.id")]
    pub product_id: String,
    /// 1 to 500, default 50.
    pub limit: Option<i64>,
    /// From the `X-Next-Cursor` header of the previous page.
    pub cursor: Option<String>,
}

/// TMF635: a line's usage records, newest first, as they were rated.
#[utoipa::path(get, path = "/tmf-api/usageManagement/v4/usage", tag = "TMF635 usage", security(("bearer" = ["lines:read"])), params(UsageFilter),
    responses((status = 200, body = [Usage], headers(("X-Next-Cursor" = String, description = "cursor of the next page, absent on the last"))), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list_usage(
    State(state): State<AppState>,
    operator: Operator,
    Query(filter): Query<UsageFilter>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    operator.require(Scope::LinesRead)?;
    let limit = filter.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let before = match filter.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("cursor is not one this API gave out"))?,
        ),
    };
    let line = owned_line(&state, &operator, &filter.product_id).await?;
    let currency = state.ctx.book.carrier(&line.carrier)?.currency;
    let rows = state
        .ctx
        .store
        .usage_of_line(line.id, before, limit)
        .await
        .map_err(ServiceError::from)?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let product = Ref {
        id: line.iccid.to_string(),
        name: None,
        href: Some(format!("{PRODUCT}/{}", line.iccid)),
    };
    let body: Vec<Usage> = rows
        .iter()
        .map(|r| tmf_usage(r, &product, currency.code()))
        .collect();
    let mut response = Json(body).into_response();
    if let Some(n) = next.and_then(|n| axum::http::HeaderValue::from_str(&n.to_string()).ok()) {
        response.headers_mut().insert("x-next-cursor", n);
    }
    Ok(response)
}

fn tmf_usage(r: &crate::store::UsageRow, product: &Ref, currency: &str) -> Usage {
    let unit = match r.service.as_str() {
        "data" => "bytes",
        "voice" => "seconds",
        _ => "messages",
    };
    let mut characteristics = vec![
        ("recordId", r.record_id.clone()),
        ("volume", r.volume.to_string()),
        ("roundedVolume", r.rounded.to_string()),
        ("unit", unit.to_string()),
        ("source", r.source.clone()),
    ];
    if let Some(end) = r.ended_at {
        characteristics.push(("endDate", end.to_string()));
    }
    if let Some(n) = &r.network {
        characteristics.push(("visitedNetwork", n.clone()));
    }
    if let Some(g) = r.rating_group {
        characteristics.push(("ratingGroup", g.to_string()));
    }
    if let Some(u) = &r.unpaid {
        characteristics.push(("notCovered", u.to_string()));
    }
    let written_off = r.outcome == "written_off";
    let late_charge = r.outcome == "charged_wallet";
    Usage {
        id: r.id.to_string(),
        href: format!("{USAGE}/{}", r.id),
        usage_date: r.started_at.to_string(),
        usage_type: r.service.clone(),
        status: "rated".into(),
        description: if written_off {
            format!(
                "{} {} {unit}, after the line ended: kept, not charged",
                r.volume, r.service
            )
        } else if late_charge {
            format!(
                "{} {} {unit}, after the line ended: charged to the e-wallet",
                r.volume, r.service
            )
        } else {
            format!("{} {} {unit}", r.volume, r.service)
        },
        usage_characteristic: characteristics
            .into_iter()
            .map(|(name, value)| Characteristic {
                name: name.into(),
                value,
            })
            .collect(),
        rated_product_usage: vec![RatedProductUsage {
            rating_date: r.counted_at.to_string(),
            usage_rating_tag: if written_off {
                "writtenOff"
            } else if late_charge {
                "chargedToWallet"
            } else {
                "usage"
            }
            .into(),
            is_billed: !written_off,
            bucket_value_converted_in_amount: Quantity {
                amount: r.taken_mb,
                units: "MB".into(),
            },
            tax_included_rating_amount: Quantity {
                amount: r.taken_money,
                units: currency.to_string(),
            },
            product_ref: product.clone(),
        }],
        kind: "Usage".into(),
    }
}
