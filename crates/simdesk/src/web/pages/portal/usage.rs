//! My usage: what a line's usage records took, newest first, and how far they are counted.

use super::{failed, own_line, page, render, service_error, LangQuery, Traveller};
use crate::store::UsageRow;
use crate::web::pages::Page;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use simdesk_domain::money::Money;
use simdesk_domain::validity::format_jst;

/// Records on one page: a traveller's ten days rarely hold more, and the API pages the rest.
const SHOWN: i64 = 200;

struct RecordView {
    at: String,
    service_key: String,
    amount: String,
    taken: String,
    /// What no bucket covered, or what a late record would have cost.
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    page: Page,
    msisdn: String,
    counted_until: Option<String>,
    records: Vec<RecordView>,
}

pub async fn usage_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let path = format!("/my/lines/{iccid}/usage");
    let line = match own_line(&state, customer, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(&visitor, e, "/my"),
    };
    let store = state.ctx.store.as_ref();
    let read = async {
        Ok::<_, crate::store::StoreError>((
            store.usage_of_line(line.id, None, SHOWN).await?,
            store.line_usage(line.id).await?,
        ))
    };
    let (rows, left) = match read.await {
        Ok(parts) => parts,
        Err(e) => return service_error(&visitor, e.into(), "/my"),
    };
    let currency = state
        .ctx
        .book
        .carrier(&line.carrier)
        .map(|c| c.currency)
        .unwrap_or(simdesk_domain::money::Currency::Jpy);
    let p = page(&visitor, &path);
    let records = rows.iter().map(|r| view(&p, r, currency)).collect();
    render(
        UsagePage {
            page: p,
            msisdn: line.msisdn.national(),
            counted_until: left.counted_until.map(format_jst),
            records,
        },
        &headers,
        q.lang.as_deref(),
    )
}

fn view(p: &Page, r: &UsageRow, currency: simdesk_domain::money::Currency) -> RecordView {
    let amount = match r.service.as_str() {
        "data" => megabytes(r.volume),
        "voice" => format!("{}:{:02}", r.volume / 60, r.volume % 60),
        _ => r.volume.to_string(),
    };
    let mut taken = Vec::new();
    if r.taken_mb > 0 {
        taken.push(format!("{} MB", r.taken_mb));
    }
    if r.taken_money > 0 {
        taken.push(Money::new(r.taken_money, currency).to_string());
    }
    let note = if r.outcome == "written_off" {
        Some(p.t("usage-written-off"))
    } else if r.outcome == "charged_wallet" {
        Some(p.t("usage-charged-wallet"))
    } else {
        r.unpaid.as_ref().map(|u| {
            let what = match (u["megabytes"].as_i64(), u["amount"]["value"].as_i64()) {
                (Some(mb), _) => format!("{mb} MB"),
                (None, Some(v)) => Money::new(v, currency).to_string(),
                _ => String::new(),
            };
            p.t1("usage-not-covered", "amount", what)
        })
    };
    RecordView {
        at: format_jst(r.started_at),
        service_key: format!("usage-{}", r.service),
        amount,
        taken: if taken.is_empty() {
            "—".into()
        } else {
            taken.join(" + ")
        },
        note,
    }
}

/// Bytes as a traveller reads them: megabytes with one decimal.
fn megabytes(bytes: i64) -> String {
    let tenths = (bytes * 10 + 512 * 1024) / (1024 * 1024);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_as_megabytes_to_one_decimal() {
        assert_eq!(super::megabytes(1024 * 1024), "1.0 MB");
        assert_eq!(super::megabytes(1536 * 1024), "1.5 MB");
        assert_eq!(super::megabytes(0), "0.0 MB");
    }
}
