//! The SM-DP+'s way in: ES2+ HandleDownloadProgressInfo (SGP.22 section 5.3.5, JSON binding),
//! telling simdesk how far a traveller's phone got with a profile.
//!
//! The SM-DP+ authenticates with the bearer token agreed in `[smdp] notification_token`: mutual
//! TLS ends at the operator's TLS terminator, which checks the SM-DP+'s certificate and passes
//! the request on. Function-level outcomes are answered as ES2+ does, with HTTP 200 and a
//! `functionExecutionStatus`; only a caller that is not the SM-DP+ gets an HTTP error.

use super::AppState;
use crate::services::esim::progress::{self, Notification};
use crate::services::ServiceError;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use simdesk_domain::esim::CustomPoints;

/// Where the SM-DP+ posts its notifications.
pub const PROGRESS_PATH: &str = "/gsma/rsp2/es2plus/handleDownloadProgressInfo";

/// What simdesk needs to take the SM-DP+'s notifications.
#[derive(Clone)]
pub struct SmdpInbound {
    /// The bearer token the SM-DP+ sends.
    pub token: String,
    pub points: CustomPoints,
}

pub async fn handle_download_progress_info(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(inbound) = state.smdp_inbound.clone() else {
        return super::ApiError::not_found(
            "no such resource; the API is described at /openapi.json",
        )
        .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if given.is_empty()
        || !crate::services::cancellation::constant_time_eq(
            given.as_bytes(),
            inbound.token.as_bytes(),
        )
    {
        let mut answer = (
            StatusCode::UNAUTHORIZED,
            "the SM-DP+'s notifications need Authorization: Bearer <[smdp] notification_token>",
        )
            .into_response();
        answer
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return answer;
    }
    let notification = match serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("the body is not JSON: {e}"))
        .and_then(|v| read(&v))
    {
        Ok(n) => n,
        // 1.2 / 2.1: a mandatory field missing or malformed (SGP.22 section 5.1.6.4).
        Err(why) => return answer(Some(("1.2", "2.1", why))),
    };
    let now = state.clock.now();
    match progress::heard(
        state.ctx.store.as_ref(),
        &inbound.points,
        &notification,
        now,
    )
    .await
    {
        Ok(heard) => {
            tracing::info!(iccid = %notification.iccid, point = notification.point_id, ?heard, "eSIM progress notification");
            answer(None)
        }
        // 8.1.1 / 3.9: the profile's ICCID is unknown.
        Err(ServiceError::NotFound(what)) => answer(Some((
            "8.1.1",
            "3.9",
            format!("{what}: simdesk has no eSIM line with this ICCID"),
        ))),
        Err(e) if e.is_client_error() => answer(Some(("1.2", "2.1", e.to_string()))),
        Err(e) => {
            tracing::error!(error = %e, "an eSIM progress notification could not be kept");
            // The SM-DP+ retries a notification that was not taken.
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "simdesk could not keep the notification; send it again",
            )
                .into_response()
        }
    }
}

/// The notification's fields, or what is wrong with them.
fn read(body: &Value) -> Result<Notification, String> {
    let text = |field: &str| body.get(field).and_then(Value::as_str);
    let required = |field: &str| {
        text(field)
            .map(str::to_string)
            .ok_or_else(|| format!("{field} is missing or not a string"))
    };
    // A number as SGP.22's JSON binding has it; some SM-DP+s send it as a string.
    let point_id = body
        .get("notificationPointId")
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
        .and_then(|id| u32::try_from(id).ok())
        .ok_or("notificationPointId is missing or not a whole number")?;
    let point_status = body
        .get("notificationPointStatus")
        .ok_or("notificationPointStatus is missing")?;
    let status = point_status
        .get("status")
        .and_then(Value::as_str)
        .ok_or("notificationPointStatus.status is missing")?
        .to_string();
    let status_code = point_status.get("statusCodeData").map(|c| {
        let field = |f: &str| {
            c.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        simdesk_domain::esim::StatusCode {
            subject_code: field("subjectCode"),
            reason_code: field("reasonCode"),
            message: c.get("message").and_then(Value::as_str).map(str::to_string),
        }
    });
    Ok(Notification {
        iccid: required("iccid")?,
        eid: text("eid").map(str::to_string),
        point_id,
        status,
        status_code,
        timestamp: required("timestamp")?,
    })
}

/// The ES2+ answer: a header whose `functionExecutionStatus` says how the function went.
fn answer(failure: Option<(&str, &str, String)>) -> Response {
    let status = match failure {
        None => json!({ "status": "Executed-Success" }),
        Some((subject, reason, message)) => json!({
            "status": "Failed",
            "statusCodeData": {
                "subjectCode": subject,
                "reasonCode": reason,
                "message": message,
            },
        }),
    };
    let mut response =
        axum::Json(json!({ "header": { "functionExecutionStatus": status } })).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(
        "x-admin-protocol",
        HeaderValue::from_static("gsma/rsp/v2.2.0"),
    );
    response
}
