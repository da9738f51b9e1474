//! Inbound SMS from Kannel's sms-service: keywords a traveller texts (BAL, 残高, CANCEL, 해지…)
//! answered with an SMS in the language of the keyword or of the customer.
//!
//! Kannel calls `GET /sms/inbound?token=…&from=%p&to=%P&text=%b&charset=%C&coding=%c` and sends
//! the body of the answer back to the sender; `X-Kannel-Coding: 2` makes it UCS-2 so Japanese,
//! Chinese and Korean arrive intact. An empty answer sends nothing.

use super::AppState;
use crate::adapters::sms::needs_ucs2;
use crate::messages::{render_reply, Reply};
use crate::services::lines;
use crate::store::LineKey;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use simdesk_domain::customer::Language;
use simdesk_domain::ids::Msisdn;
use simdesk_domain::keyword::{self, Keyword};
use simdesk_domain::money::{Currency, Money};
use std::collections::BTreeMap;

/// What simdesk needs to answer inbound SMS.
#[derive(Clone)]
pub struct SmsInbound {
    /// The secret in Kannel's get-url.
    pub token: String,
    /// The portal's base URL, for the link in the answer to CANCEL.
    pub public_url: String,
}

/// The query Kannel sends, with the text decoded from the charset it names.
struct Inbound {
    token: String,
    from: String,
    text: String,
}

fn parse_query(query: &str) -> Inbound {
    let mut token = String::new();
    let mut from = String::new();
    let mut charset = String::new();
    let mut raw_text: Vec<u8> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "token" => token = value.into_owned(),
            "from" => from = value.into_owned(),
            "charset" => charset = value.to_ascii_uppercase(),
            _ => {}
        }
    }
    // The text is taken as bytes: with a UCS-2 charset it is not UTF-8 at all.
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("text=") {
            let plus_as_space = value.replace('+', " ");
            raw_text = percent_decode(&plus_as_space);
        }
    }
    let text = if charset.starts_with("UTF-16") || charset == "UCS-2" {
        let units: Vec<u16> = raw_text
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(&raw_text).into_owned()
    };
    Inbound { token, from, text }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn reply(text: String) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        text.clone(),
    )
        .into_response();
    if needs_ucs2(&text) {
        response
            .headers_mut()
            .insert("x-kannel-coding", HeaderValue::from_static("2"));
    }
    response
}

/// The balance as a traveller reads it: money in its currency, data in MB.
fn balance_text(report: &lines::LineReport) -> String {
    let parts: Vec<String> = report
        .balance
        .iter()
        .filter(|b| b.live)
        .map(|b| match b.unit.parse::<Currency>() {
            Ok(currency) => Money::new(b.remaining, currency).to_string(),
            Err(_) => format!("{} {}", b.remaining, b.unit),
        })
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join(" + ")
    }
}

pub async fn inbound(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let Some(config) = state.sms_inbound.clone() else {
        return (StatusCode::NOT_FOUND, "inbound SMS are not configured").into_response();
    };
    let message = parse_query(query.as_deref().unwrap_or(""));
    if message.token.is_empty()
        || !crate::services::cancellation::constant_time_eq(
            message.token.as_bytes(),
            config.token.as_bytes(),
        )
    {
        return (StatusCode::FORBIDDEN, "wrong or missing token").into_response();
    }
    let parsed = keyword::parse(&message.text);
    let line = match message.from.parse::<Msisdn>() {
        Ok(msisdn) => state.ctx.store.line(&LineKey::Msisdn(msisdn)).await,
        Err(_) => Ok(None),
    };
    let line = match line {
        // A line never sold is nobody's to ask about.
        Ok(line) => line.filter(|l| l.state != simdesk_domain::line::LineState::InStock),
        Err(e) => {
            tracing::warn!(error = %e, "inbound SMS: the line could not be read");
            // Kannel treats a failure as "could not fetch" and, as configured, sends nothing.
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let customer_language = match line.as_ref().and_then(|l| l.holder) {
        Some(h) => match state.ctx.store.customer(h).await {
            Ok(customer) => customer.and_then(|c| c.language.parse::<Language>().ok()),
            Err(e) => {
                tracing::warn!(error = %e, "inbound SMS: the holder could not be read");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
        None => None,
    };
    let language = parsed
        .and_then(|(_, l)| l)
        .or(customer_language)
        .unwrap_or(Language::En);
    let mut params = BTreeMap::new();
    let answer = match (parsed.map(|(k, _)| k), line) {
        (_, None) => render_reply(Reply::UnknownLine, language, &params),
        (None, Some(_)) => render_reply(Reply::Help, language, &params),
        (Some(Keyword::Cancel), Some(_)) => {
            params.insert("portal_url".into(), format!("{}/", config.public_url));
            render_reply(Reply::Cancel, language, &params)
        }
        (Some(Keyword::Balance), Some(line)) => {
            let now = state.clock.now();
            match lines::report(
                state.ctx.store.as_ref(),
                &state.ctx.book,
                &LineKey::Id(line.id),
                now,
            )
            .await
            {
                Ok(report) => {
                    params.insert("msisdn".into(), report.msisdn.clone());
                    params.insert("balance".into(), balance_text(&report));
                    params.insert(
                        "valid_until".into(),
                        report.valid_until_jst.clone().unwrap_or_else(|| "-".into()),
                    );
                    render_reply(Reply::Balance, language, &params)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "inbound SMS: the balance could not be read");
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
            }
        }
    };
    match answer {
        Ok(text) => reply(text),
        Err(e) => {
            tracing::error!(error = %e, "inbound SMS: no reply template");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kannel_queries_are_decoded_by_their_charset() {
        let m = parse_query(
            "token=t&from=%2B819000000001&to=100&text=%E6%AE%8B%E9%AB%98&charset=UTF-8&coding=0",
        );
        assert_eq!(m.from, "+819000000001");
        assert_eq!(m.text, "残高");
        // 잔액 in UTF-16BE.
        let m = parse_query("token=t&from=1&text=%C7%94%C5%61&charset=UTF-16BE&coding=2");
        assert_eq!(m.text, "잔액");
        let m = parse_query("token=t&from=1&text=BAL+please&charset=UTF-8");
        assert_eq!(m.text, "BAL please");
        // A stray percent sign is kept, not a panic.
        let m = parse_query("text=100%&charset=UTF-8");
        assert_eq!(m.text, "100%");
    }
}
