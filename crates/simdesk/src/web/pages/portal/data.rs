//! What simdesk keeps about the traveller, and erasing it on request.

use super::{
    checked_form, failed, page, render, service_error, traveller_attribution, CsrfForm, LangQuery,
    Traveller,
};
use crate::web::pages::session::Visitor;
use crate::web::pages::Page;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use simdesk_domain::ids::CustomerId;
use simdesk_domain::line::LineKind;
use simdesk_domain::policy::Service;

#[derive(Template)]
#[template(path = "data.html")]
struct DataPage {
    page: Page,
    voice: bool,
    kept_until: Vec<String>,
    /// The traveller's erasure request was carried out.
    done: bool,
    /// The request erased nothing: a line is still in service.
    in_service: bool,
}

pub async fn data_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    data_view(
        &state,
        &headers,
        &visitor,
        customer,
        None,
        q.lang.as_deref(),
    )
    .await
}

/// "Delete my data": erases at once what the law does not hold, then shows what remains.
pub async fn data_erase(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = checked_form(&visitor, &form.csrf, "/my/data") {
        return refused;
    }
    match crate::services::privacy::erase_on_request(
        &state.ctx,
        customer,
        traveller_attribution(&state, customer, "the holder asked to delete their data"),
    )
    .await
    {
        Ok(answer) => data_view(&state, &headers, &visitor, customer, Some(answer), None).await,
        Err(e) => service_error(&visitor, e, "/my/data"),
    }
}

async fn data_view(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    customer: CustomerId,
    answer: Option<crate::services::privacy::ErasureAnswer>,
    lang: Option<&str>,
) -> Response {
    let lines = match state.ctx.store.lines_of_customer(customer).await {
        Ok(lines) => lines,
        Err(e) => return failed(visitor, e.into(), "/my"),
    };
    // Voice lines fall under the Mobile Phone Improper Use Prevention Act: 3 years after the end.
    let mut voice = false;
    let mut kept_until = Vec::new();
    for line in &lines {
        let is_voice = state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.services.contains(&Service::Voice))
            .unwrap_or(false);
        if is_voice {
            voice = true;
            if let Some(end) = line.ended_at {
                let until = end
                    .to_zoned(simdesk_domain::validity::japan())
                    .date()
                    .checked_add(jiff::Span::new().years(3))
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                kept_until.push(format!("{} — {until}", line.msisdn.national()));
            }
        }
        let _ = line.kind == LineKind::Esim;
    }
    render(
        DataPage {
            page: page(visitor, "/my/data"),
            voice,
            kept_until,
            done: answer.as_ref().is_some_and(|a| a.lines_in_service == 0),
            in_service: answer.as_ref().is_some_and(|a| a.lines_in_service > 0),
        },
        headers,
        lang,
    )
}
