//! Turning a notification into the SMS and e-mail a traveller receives, in their language.
//!
//! A `notify` row says what happened to whom; delivering it fans it out into one `sms` and one
//! `email` row, each delivered (and retried) on its own, so a mail server that is down never
//! makes a traveller receive the same SMS twice. Contact details are read at sending time and
//! never copied into the outbox.

use super::effects::{Effect, Occasion};
use crate::adapters::email::{Attachment, Mail, Mailer};
use crate::adapters::sms::SmsGateway;
use crate::adapters::PeerError;
use crate::messages::{self, Event};
use crate::store::{LineKey, OutboxMessage, OutboxRow, Store};
use jiff::Timestamp;
use serde_json::{json, Value};
use simdesk_domain::customer::Language;
use simdesk_domain::ids::{CustomerId, Msisdn, RequestId};
use simdesk_domain::line::LineState;
use simdesk_domain::money::Money;
use std::collections::BTreeMap;

fn field<'a>(row: &'a OutboxRow, name: &str) -> &'a str {
    row.payload
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// The customer a notification is for: the payload's, or the line's holder.
async fn customer_of(store: &dyn Store, row: &OutboxRow) -> Result<Option<CustomerId>, PeerError> {
    match row.payload.get("customer").and_then(|c| c.as_i64()) {
        Some(id) if id > 0 => Ok(Some(CustomerId::new(id))),
        _ => Ok(match line_of(store, row).await? {
            Some(line) => line.holder,
            None => None,
        }),
    }
}

async fn line_of(
    store: &dyn Store,
    row: &OutboxRow,
) -> Result<Option<simdesk_domain::line::Line>, PeerError> {
    match field(row, "msisdn").parse::<Msisdn>() {
        Ok(msisdn) => Ok(store.line(&LineKey::Msisdn(msisdn)).await?),
        Err(_) => Ok(None),
    }
}

/// One row per channel the traveller can be reached on.
pub(super) async fn fan_out(
    store: &dyn Store,
    row: &OutboxRow,
    now: Timestamp,
) -> Result<Vec<OutboxMessage>, PeerError> {
    let event: Event = field(row, "event")
        .parse()
        .map_err(|e: messages::MessageError| PeerError::Refused(e.to_string()))?;
    let Some(customer_id) = customer_of(store, row).await? else {
        // Nobody to tell (a line without holder, or a holder already erased).
        return Ok(Vec::new());
    };
    let Some(customer) = store.customer(customer_id).await? else {
        return Ok(Vec::new());
    };
    let line = line_of(store, row).await?;
    let language = match field(row, "language") {
        "" => customer.language.clone(),
        tag => tag.to_string(),
    };
    // A line receives SMS only while it is in service; afterwards the contact number is used.
    let to_line = line
        .as_ref()
        .map(|l| matches!(l.state, LineState::Registered | LineState::Active))
        .unwrap_or(false);
    let mut payload = row.payload.clone();
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("customer".into(), customer_id.get().into());
        obj.insert("language".into(), language.into());
        obj.insert("event".into(), event.as_str().into());
    }
    let mut sms = payload.clone();
    if let Some(obj) = sms.as_object_mut() {
        obj.insert("to".into(), if to_line { "line" } else { "contact" }.into());
    }
    Ok(vec![
        Effect::Sms {
            notice_key: row.idempotency_key.clone(),
            payload: sms,
        }
        .queue(now),
        Effect::Email {
            notice_key: row.idempotency_key.clone(),
            payload,
        }
        .queue(now),
    ])
}

/// After a payout left, the traveller is told.
pub(super) fn payout_sent(
    row: &OutboxRow,
    reference: &str,
    amount: i64,
    currency: &str,
    now: Timestamp,
) -> Vec<OutboxMessage> {
    vec![Effect::Notify {
        event: Event::PayoutSent,
        occasion: Occasion::After(row.idempotency_key.clone()),
        customer: row
            .payload
            .get("customer")
            .and_then(Value::as_i64)
            .map(CustomerId::new),
        // Looked up when the notification fans out.
        language: None,
        msisdn: None,
        params: json!({ "amount": { "value": amount, "unit": currency }, "reference": reference }),
    }
    .queue(now)]
}

/// A parameter as a traveller reads it.
fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(_) => match serde_json::from_value::<Money>(value.clone()) {
            Ok(money) => money.to_string(),
            Err(_) => value.to_string(),
        },
        other => other.to_string(),
    }
}

/// The rendered message for a `sms`/`email` row, with what it needs filled in.
async fn render(
    store: &dyn Store,
    public_url: &str,
    row: &OutboxRow,
) -> Result<(Event, messages::Message, Option<String>), PeerError> {
    let event: Event = field(row, "event")
        .parse()
        .map_err(|e: messages::MessageError| PeerError::Refused(e.to_string()))?;
    let language: Language = field(row, "language").parse().unwrap_or(Language::En);
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    if let Some(Value::Object(given)) = row.payload.get("params") {
        for (k, v) in given {
            params.insert(k.clone(), param_text(v));
        }
    }
    params.insert("msisdn".into(), field(row, "msisdn").to_string());
    params.insert("portal_url".into(), format!("{}/", public_url));
    let mut receipt = None;
    if let Some(request) = row.payload.get("request").and_then(|r| r.as_i64()) {
        if let Some(record) = store.request(RequestId::new(request)).await? {
            if let Some(number) = record.receipt_number {
                params.insert(
                    "receipt_url".into(),
                    format!("{}/my/receipts/{number}", public_url),
                );
                params.insert("receipt_number".into(), number.clone());
                receipt = Some(number);
            }
        }
    }
    let wanted: BTreeMap<String, String> = params
        .into_iter()
        .filter(|(k, _)| event.placeholders().contains(&k.as_str()))
        .collect();
    let message = messages::render(event, language, &wanted)
        .map_err(|e| PeerError::Refused(e.to_string()))?;
    Ok((event, message, receipt))
}

pub(super) async fn send_sms(
    store: &dyn Store,
    sms: &dyn SmsGateway,
    public_url: &str,
    row: &OutboxRow,
) -> Result<(), PeerError> {
    let to = match field(row, "to") {
        "line" => field(row, "msisdn").to_string(),
        _ => {
            let Some(id) = row.payload.get("customer").and_then(|c| c.as_i64()) else {
                return Ok(());
            };
            match store
                .customer(CustomerId::new(id))
                .await?
                .and_then(|c| c.personal)
            {
                Some(p) => p.phone.to_string(),
                // Erased meanwhile: nobody left to tell.
                None => return Ok(()),
            }
        }
    };
    let (_, message, _) = render(store, public_url, row).await?;
    sms.send_sms(&row.idempotency_key, &to, &message.sms).await
}

pub(super) async fn send_email(
    store: &dyn Store,
    mail: &dyn Mailer,
    public_url: &str,
    row: &OutboxRow,
) -> Result<(), PeerError> {
    let Some(id) = row.payload.get("customer").and_then(|c| c.as_i64()) else {
        return Ok(());
    };
    // Erased meanwhile: nobody left to tell.
    let Some(personal) = store
        .customer(CustomerId::new(id))
        .await?
        .and_then(|c| c.personal)
    else {
        return Ok(());
    };
    let (event, message, receipt) = render(store, public_url, row).await?;
    let mut attachments = Vec::new();
    if event == Event::CancellationCompleted {
        if let Some(number) = receipt {
            if let Some(document) = store.receipt(&number).await? {
                if let Ok(signed) = crate::receipts::SignedReceipt::parse_unverified(&document) {
                    attachments.push(Attachment {
                        filename: format!("receipt-{number}.html"),
                        content_type: "text/html; charset=utf-8".into(),
                        content: crate::receipts::render_html(&signed).into_bytes(),
                    });
                }
                // The signed document itself, which anyone can verify with the carrier's key.
                attachments.push(Attachment {
                    filename: format!("receipt-{number}.json"),
                    content_type: "application/json".into(),
                    content: document.into_bytes(),
                });
            }
        }
    }
    mail.send_mail(&Mail {
        message_id: row.idempotency_key.clone(),
        to: personal.email.clone(),
        subject: message.subject,
        text: message.text,
        html: message.html,
        attachments,
    })
    .await
}
