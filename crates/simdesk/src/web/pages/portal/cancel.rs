//! Cancelling a line from the portal: the quote, then the confirmation.

use super::failed;
use super::{
    checked_form, own_line, page, render, service_error, traveller_attribution, CsrfForm,
    LangQuery, Traveller,
};
use crate::services::cancellation;
use crate::store::LineKey;
use crate::web::pages::{i18n, Page};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use simdesk_domain::attribution::Channel;
use simdesk_domain::cancellation::{CannotCancel, WhatHappens};
use simdesk_domain::customer::Language;
use simdesk_domain::policy::IdentityCheck;

#[derive(Template)]
#[template(path = "quote.html")]
struct QuotePage {
    page: Page,
    iccid: String,
    msisdn: String,
    plan: String,
    cannot: Option<String>,
    valid_until: Option<String>,
    effective: String,
    refund_items: Vec<(String, String)>,
    refund_total: String,
    happens: Vec<String>,
    checks: String,
}

/// Why the line cannot be cancelled, in the visitor's language.
fn cannot_words(lang: Language, why: CannotCancel) -> String {
    i18n::t(lang, &format!("quote-cannot-{}", why.code()))
}

/// What happens if the visitor confirms, in their language; the effective date is stated above
/// the list, so it is left out of it.
fn what_happens_words(lang: Language, steps: &[WhatHappens]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|step| {
            let id = match step {
                WhatHappens::TakesEffect { .. } => return None,
                WhatHappens::BarredAtApproval => "quote-happens-bar",
                WhatHappens::DoNotUseMeanwhile => "quote-happens-do-not-use",
                WhatHappens::AddonsUnbound { .. } => "quote-happens-addons",
                WhatHappens::RemovedFromNetwork => "quote-happens-network",
                WhatHappens::Refund { .. } => "quote-happens-wallet",
                WhatHappens::NothingToRefund => "quote-happens-nothing-to-refund",
                WhatHappens::Receipt => "quote-happens-receipt",
            };
            Some(i18n::t(lang, id))
        })
        .collect()
}

fn check_words(lang: Language, checks: &[IdentityCheck]) -> String {
    checks
        .iter()
        .map(|c| {
            i18n::t(
                lang,
                &format!("check-{}", simdesk_domain::cancellation::check_name(c)),
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

pub async fn quote_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let path = format!("/my/lines/{iccid}/cancel");
    let line = match own_line(&state, customer, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(&visitor, e, "/my"),
    };
    let quote =
        match cancellation::quote(&state.ctx, &LineKey::Id(line.id), state.clock.now()).await {
            Ok(q) => q,
            Err(e) => return service_error(&visitor, e, "/my"),
        };
    let checks = quote
        .identity_needed
        .iter()
        .find(|c| c.channel == Channel::Web)
        .map(|c| c.checks.clone())
        .unwrap_or_default();
    let refund = quote.refund.as_ref();
    let template = QuotePage {
        page: page(&visitor, &path),
        iccid: line.iccid.to_string(),
        msisdn: line.msisdn.national(),
        plan: state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        cannot: quote
            .cannot_because
            .map(|why| cannot_words(visitor.language, why)),
        valid_until: quote
            .time_left_notice
            .as_ref()
            .and(quote.valid_until_jst.clone()),
        effective: quote
            .effective_date_if_submitted_now
            .map(|d| d.to_string())
            .unwrap_or_default(),
        refund_items: refund
            .map(|r| {
                r.items
                    .iter()
                    .map(|i| {
                        (
                            i18n::t(visitor.language, &format!("refund-{}", i.key)),
                            i.amount.to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        refund_total: refund.map(|r| r.total.to_string()).unwrap_or_default(),
        happens: what_happens_words(visitor.language, &quote.what_happens),
        checks: check_words(visitor.language, &checks),
    };
    render(template, &headers, q.lang.as_deref())
}

pub async fn confirm_cancel(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    Path(iccid): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = checked_form(&visitor, &form.csrf, "/my") {
        return refused;
    }
    let line = match own_line(&state, customer, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(&visitor, e, "/my"),
    };
    match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Web,
        None,
        traveller_attribution(&state, customer, "cancelled on the self-service portal"),
    )
    .await
    {
        Ok(s) => Redirect::to(&format!("/my/requests/{}", s.request.request.id)).into_response(),
        Err(e) => service_error(&visitor, e, &format!("/my/lines/{iccid}/cancel")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simdesk_domain::ids::RequestId;
    use simdesk_domain::money::{Currency, Money};

    #[test]
    fn every_reason_and_step_is_said_in_every_language() {
        let reasons = [
            CannotCancel::NotSold,
            CannotCancel::AlreadyCancelled,
            CannotCancel::AlreadyEnded,
            CannotCancel::RequestOpen {
                request: Some(RequestId::new(1)),
            },
        ];
        let steps = [
            WhatHappens::BarredAtApproval,
            WhatHappens::DoNotUseMeanwhile,
            WhatHappens::AddonsUnbound {
                addons: vec!["ROAMING".into()],
            },
            WhatHappens::RemovedFromNetwork,
            WhatHappens::Refund {
                amount: Money::new(1500, Currency::Jpy),
            },
            WhatHappens::NothingToRefund,
            WhatHappens::Receipt,
        ];
        for lang in Language::ALL {
            for why in reasons {
                let words = cannot_words(lang, why);
                assert!(!words.starts_with("quote-"), "{lang:?}: {words}");
            }
            for words in what_happens_words(lang, &steps) {
                assert!(!words.starts_with("quote-"), "{lang:?}: {words}");
            }
        }
    }

    #[test]
    fn no_credit_is_promised_when_nothing_is_refunded() {
        for lang in Language::ALL {
            let said = what_happens_words(
                lang,
                &[
                    WhatHappens::RemovedFromNetwork,
                    WhatHappens::NothingToRefund,
                ],
            );
            assert!(
                !said.contains(&i18n::t(lang, "quote-happens-wallet")),
                "{said:?}"
            );
            assert!(said.contains(&i18n::t(lang, "quote-happens-nothing-to-refund")));
        }
    }
}
