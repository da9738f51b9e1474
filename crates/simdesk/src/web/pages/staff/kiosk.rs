//! The shop's kiosk (taking a ticket) and the board calling numbers.

use super::{failed, html, known_carrier, today, PageError};
use crate::services::guard::Address;
use crate::web::pages::error::StaleForm;
use crate::web::pages::session::Visitor;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::customer::Language;
use simdesk_domain::ids::CarrierCode;

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    carrier: CarrierCode,
    number: Option<i64>,
}

/// The kiosk in the shop: a walk-in takes a numbered ticket. Nobody signs in at a kiosk, so
/// its form carries the anonymous double-submit token.
pub async fn kiosk(
    State(state): State<AppState>,
    mut visitor: Visitor,
    headers: HeaderMap,
    Path(carrier): Path<CarrierCode>,
) -> Response {
    if !known_carrier(&state, &carrier).await {
        return failed(PageError::NotFound);
    }
    kiosk_page(&headers, &mut visitor, carrier, None, None)
}

fn kiosk_page(
    headers: &HeaderMap,
    visitor: &mut Visitor,
    carrier: CarrierCode,
    number: Option<i64>,
    flash: Option<String>,
) -> Response {
    let form_cookie = visitor.ensure_form_token(headers);
    let page = html(KioskPage {
        staff: None,
        csrf: visitor.form_token.clone().unwrap_or_default(),
        flash,
        carrier,
        number,
    });
    (form_cookie, page).into_response()
}

#[derive(Deserialize)]
pub struct KioskForm {
    #[serde(default)]
    csrf: String,
}

pub async fn take_ticket(
    State(state): State<AppState>,
    mut visitor: Visitor,
    address: Address,
    headers: HeaderMap,
    Path(carrier): Path<CarrierCode>,
    Form(form): Form<KioskForm>,
) -> Response {
    if !known_carrier(&state, &carrier).await {
        return failed(PageError::NotFound);
    }
    if let Err(refused) = visitor.check_form(&form.csrf, StaleForm::Kiosk) {
        // The kiosk stays on its button, so that the walk-in can simply press it again.
        let flash = refused.message(Language::En);
        let mut r = kiosk_page(&headers, &mut visitor, carrier, None, Some(flash));
        *r.status_mut() = refused.status();
        return r;
    }
    if let Err(e) = state.guard().kiosk_ticket(address).await {
        return failed(e.into());
    }
    match state
        .ctx
        .store
        .take_ticket(&carrier, &today(&state), state.clock.now())
        .await
    {
        Ok(t) => kiosk_page(&headers, &mut visitor, carrier, Some(t.number), None),
        Err(e) => failed(e.into()),
    }
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    called: Vec<(i64, String)>,
    waiting: i64,
}

/// The board over the counters: numbers being called, refreshing by itself.
pub async fn board(State(state): State<AppState>, Path(carrier): Path<CarrierCode>) -> Response {
    if !known_carrier(&state, &carrier).await {
        return failed(PageError::NotFound);
    }
    let (called, waiting) = match state.ctx.store.queue_board(&carrier, &today(&state)).await {
        Ok(board) => board,
        Err(e) => return failed(e.into()),
    };
    html(BoardPage {
        staff: None,
        csrf: String::new(),
        flash: None,
        called: called
            .into_iter()
            .map(|t| (t.number, t.counter.unwrap_or_default()))
            .collect(),
        waiting,
    })
}
