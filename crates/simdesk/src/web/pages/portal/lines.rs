//! My lines: each line the traveller holds, its validity, balance and open request.

use super::{page, render, service_error, LangQuery, Traveller};
use crate::web::pages::Page;
use crate::web::pages::{money_left, plan_name};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::ids::RequestId;
use simdesk_domain::validity::{format_jst, last_valid_second};

struct LineView {
    iccid: String,
    msisdn: String,
    plan: String,
    state_key: String,
    valid_until: Option<String>,
    balance: String,
    data_mb: i64,
    /// Megabytes used of what the line was given, e.g. "150 / 10240 MB".
    data_used: Option<String>,
    /// How far usage records are counted, in Japan time.
    usage_counted_until: Option<String>,
    /// The message key saying data is stopped for want of balance, while it is.
    data_stopped_key: Option<&'static str>,
    addons: Vec<String>,
    /// An eSIM line: its page has the activation code to install.
    esim: bool,
    can_cancel: bool,
    open_request: Option<RequestId>,
    receipts: Vec<String>,
}

#[derive(Template)]
#[template(path = "lines.html")]
struct LinesPage {
    page: Page,
    lines: Vec<LineView>,
}

pub async fn my_lines(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let store = state.ctx.store.as_ref();
    let now = state.clock.now();
    let lines = match store.lines_of_customer(customer).await {
        Ok(l) => l,
        Err(e) => return service_error(&visitor, e.into(), "/my"),
    };
    let mut views = Vec::new();
    for line in lines {
        // A part of a line that cannot be read is an outage, never an empty balance.
        let read = async {
            Ok::<_, crate::store::StoreError>((
                store.buckets(line.id).await?,
                store.addons(line.id).await?,
                store.requests_for_line(line.id).await?,
                store.line_usage(line.id).await?,
            ))
        };
        let (buckets, addons, requests, usage) = match read.await {
            Ok(parts) => parts,
            Err(e) => return service_error(&visitor, e.into(), "/my"),
        };
        let open_request = requests
            .iter()
            .find(|r| r.request.state.is_open())
            .map(|r| r.request.id);
        views.push(LineView {
            iccid: line.iccid.to_string(),
            msisdn: line.msisdn.national(),
            plan: plan_name(&state, &line),
            state_key: format!("state-{}", line.state.as_str()),
            valid_until: line
                .validity_ends_at
                .map(|e| format_jst(last_valid_second(e))),
            balance: money_left(&state, &line, &buckets, now),
            data_mb: balance::remaining(&buckets, BucketUnit::Megabytes, now),
            data_used: data_used(&buckets, now),
            usage_counted_until: usage.counted_until.map(format_jst),
            data_stopped_key: usage.data_stopped.map(|how| match how {
                simdesk_domain::usage::WhenExhausted::Bar => "line-data-barred",
                simdesk_domain::usage::WhenExhausted::Throttle => "line-data-slowed",
            }),
            addons: addons
                .iter()
                .filter(|a| a.unbound_at.is_none())
                .map(|a| a.code.clone())
                .collect(),
            esim: line.kind == simdesk_domain::line::LineKind::Esim,
            can_cancel: open_request.is_none()
                && simdesk_domain::cancellation::may_open(&line).is_ok(),
            open_request,
            receipts: requests
                .iter()
                .filter_map(|r| r.receipt_number.clone())
                .collect(),
        });
    }
    render(
        LinesPage {
            page: page(&visitor, "/my"),
            lines: views,
        },
        &headers,
        q.lang.as_deref(),
    )
}

/// Data used of what the line's live data buckets were given; `None` when it has none.
fn data_used(buckets: &[simdesk_domain::balance::Bucket], now: jiff::Timestamp) -> Option<String> {
    let live = || {
        buckets
            .iter()
            .filter(|b| b.unit == BucketUnit::Megabytes && b.is_live(now))
    };
    let given: i64 = live().map(|b| b.initial).sum();
    let left: i64 = live().map(|b| b.remaining).sum();
    (given > 0).then(|| format!("{} / {given} MB", given - left))
}
