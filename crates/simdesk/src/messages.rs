//! Messages to travellers: one template per event in every language simdesk speaks.
//!
//! The texts live in `locales/<language>/messages.ftl`, read through [`crate::i18n`]: for every
//! [`Event`] an SMS (`<event>-sms`), an e-mail subject (`<event>-subject`) and a plain-text
//! e-mail body (`<event>-body`), plus the short answers to SMS keywords ([`Reply`], `reply-…`).
//! Values arrive already formatted; a message never carries the traveller's name or passport
//! number, so none of the events offers them as a placeholder.

use crate::i18n::{self, strip_isolation, Args as FluentArgs};
use askama::Template;
use fluent_templates::fluent_bundle::FluentValue;
use simdesk_domain::customer::Language;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// What happens in a line's life that the traveller is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    Registration,
    Activation,
    ValidityReminder,
    Expired,
    CancellationReceived,
    CancellationApproved,
    CancellationRejected,
    CancellationWithdrawn,
    CancellationCompleted,
    RefundCredited,
    PayoutSent,
    OneTimeCode,
    DataErased,
    /// A share of the data allowance is used (a threshold the carrier's policy lists).
    DataThreshold,
    /// Nothing is left to pay for data: it is barred until a top-up or a data pack.
    DataBarred,
    /// Nothing is left to pay for data: it goes on slowly until a top-up or a data pack.
    DataSlowed,
}

impl Event {
    pub const ALL: [Event; 16] = [
        Event::Registration,
        Event::Activation,
        Event::ValidityReminder,
        Event::Expired,
        Event::CancellationReceived,
        Event::CancellationApproved,
        Event::CancellationRejected,
        Event::CancellationWithdrawn,
        Event::CancellationCompleted,
        Event::RefundCredited,
        Event::PayoutSent,
        Event::OneTimeCode,
        Event::DataErased,
        Event::DataThreshold,
        Event::DataBarred,
        Event::DataSlowed,
    ];

    /// The name stored with queued notifications and used as the prefix of the template ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Registration => "registration",
            Event::Activation => "activation",
            Event::ValidityReminder => "validity_reminder",
            Event::Expired => "expired",
            Event::CancellationReceived => "cancellation_received",
            Event::CancellationApproved => "cancellation_approved",
            Event::CancellationRejected => "cancellation_rejected",
            Event::CancellationWithdrawn => "cancellation_withdrawn",
            Event::CancellationCompleted => "cancellation_completed",
            Event::RefundCredited => "refund_credited",
            Event::PayoutSent => "payout_sent",
            Event::OneTimeCode => "one_time_code",
            Event::DataErased => "data_erased",
            Event::DataThreshold => "data_threshold",
            Event::DataBarred => "data_barred",
            Event::DataSlowed => "data_slowed",
        }
    }

    /// The values every language's e-mail body shows; [`render`] refuses to go without them.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Event::Registration => &["msisdn", "plan"],
            Event::Activation => &["msisdn", "valid_until"],
            Event::ValidityReminder => &["msisdn", "valid_until", "hours"],
            Event::Expired => &["msisdn", "grace_until"],
            Event::CancellationReceived => &["msisdn"],
            Event::CancellationApproved => &["msisdn", "effective_date"],
            Event::CancellationRejected => &["msisdn", "reason"],
            Event::CancellationWithdrawn => &["msisdn"],
            Event::CancellationCompleted => &["msisdn", "receipt_number", "refund", "receipt_url"],
            Event::RefundCredited => &["msisdn", "amount"],
            Event::PayoutSent => &["amount", "reference"],
            Event::OneTimeCode => &["code", "minutes"],
            Event::DataErased => &["kept_until"],
            Event::DataThreshold => &["msisdn", "percent", "left_mb"],
            Event::DataBarred | Event::DataSlowed => &["msisdn"],
        }
    }

    fn key(self, part: &str) -> String {
        format!("{}-{part}", self.as_str())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = MessageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s.trim())
            .ok_or_else(|| MessageError::UnknownEvent(s.chars().take(64).collect()))
    }
}

/// The answers to keywords a traveller texts to simdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    /// BAL / 残高 / 余额 / 餘額 / 잔액
    Balance,
    /// CANCEL / 解約 / 注销 / 註銷 / 해지
    Cancel,
    /// Anything not understood: which keywords there are.
    Help,
    /// The sender's number is not a line simdesk manages.
    UnknownLine,
}

impl Reply {
    pub const ALL: [Reply; 4] = [
        Reply::Balance,
        Reply::Cancel,
        Reply::Help,
        Reply::UnknownLine,
    ];

    /// The template id.
    pub fn key(self) -> &'static str {
        match self {
            Reply::Balance => "reply-balance",
            Reply::Cancel => "reply-cancel",
            Reply::Help => "reply-help",
            Reply::UnknownLine => "reply-unknown-line",
        }
    }

    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Reply::Balance => &["msisdn", "balance", "valid_until"],
            Reply::Cancel => &["portal_url"],
            Reply::Help | Reply::UnknownLine => &[],
        }
    }
}

/// One event's message in one language, ready for the SMS and e-mail gateways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub sms: String,
    pub subject: String,
    /// The plain-text e-mail body.
    pub text: String,
    /// The same e-mail as self-contained HTML.
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("unknown event {0:?}; expected one of: {names}", names = event_names())]
    UnknownEvent(String),
    #[error("{template} needs the placeholder ${placeholder}, which is missing or empty")]
    MissingPlaceholder {
        template: &'static str,
        placeholder: &'static str,
    },
    #[error("no template {key:?} for language {language}, nor in English")]
    MissingTemplate { key: String, language: Language },
    #[error("the HTML e-mail could not be rendered: {0}")]
    Html(String),
}

fn event_names() -> String {
    Event::ALL.map(Event::as_str).join(", ")
}

/// The SMS, e-mail subject, text and HTML for `event` in `language`.
///
/// `params` must hold a non-empty value for each of [`Event::placeholders`]; other entries are
/// ignored, so that a template can only ever show what its event declares.
pub fn render(
    event: Event,
    language: Language,
    params: &BTreeMap<String, String>,
) -> Result<Message, MessageError> {
    let args = fluent_args(event.as_str(), event.placeholders(), params)?;
    let sms = lookup(language, &event.key("sms"), &args)?;
    // A subject is one header line, whatever a value contained.
    let subject = lookup(language, &event.key("subject"), &args)?.replace(['\r', '\n'], " ");
    let text = lookup(language, &event.key("body"), &args)?;
    let html = html_email(language, &subject, &text)?;
    Ok(Message {
        sms,
        subject,
        text,
        html,
    })
}

/// The SMS answering a keyword, in `language`.
pub fn render_reply(
    reply: Reply,
    language: Language,
    params: &BTreeMap<String, String>,
) -> Result<String, MessageError> {
    let args = fluent_args(reply.key(), reply.placeholders(), params)?;
    lookup(language, reply.key(), &args)
}

/// Counts a translation may need for singular and plural ("1 hour", "2 hours").
const COUNTS: [&str; 2] = ["hours", "minutes"];

fn fluent_args(
    template: &'static str,
    needed: &'static [&'static str],
    params: &BTreeMap<String, String>,
) -> Result<FluentArgs, MessageError> {
    let mut args = FluentArgs::new();
    for &name in needed {
        let value = params
            .get(name)
            .map(|v| strip_isolation(v.trim()))
            .filter(|v| !v.is_empty())
            .ok_or(MessageError::MissingPlaceholder {
                template,
                placeholder: name,
            })?;
        let value = match plain_count(&value) {
            // Only a plain count becomes a number: it prints back exactly as given, while a
            // phone number or a date must never be reformatted.
            Some(n) if COUNTS.contains(&name) => FluentValue::from(n),
            _ => FluentValue::from(value),
        };
        args.insert(Cow::Borrowed(name), value);
    }
    Ok(args)
}

/// `Some` for digits without a leading zero, small enough to print back unchanged.
fn plain_count(value: &str) -> Option<u32> {
    let digits = value.len() <= 6 && value.bytes().all(|b| b.is_ascii_digit());
    let canonical = value == "0" || !value.starts_with('0');
    if digits && canonical {
        value.parse().ok()
    } else {
        None
    }
}

fn lookup(language: Language, key: &str, args: &FluentArgs) -> Result<String, MessageError> {
    let text = match i18n::lookup_exact(language, key, Some(args)) {
        Ok(text) => Some(text),
        Err(e) => {
            // Shipped languages are complete (the tests check it); a gap must not stop the
            // message, but it must not go unnoticed either.
            tracing::warn!(key, language = language.tag(), error = %e, "no usable template; falling back to English");
            i18n::lookup_with_args(language, key, args)
        }
    };
    text.ok_or_else(|| MessageError::MissingTemplate {
        key: key.to_string(),
        language,
    })
}

/// A run of e-mail text; `link` when it is a web address to make clickable.
struct Segment {
    text: String,
    link: bool,
}

/// Paragraphs of lines of segments; askama escapes every piece.
#[derive(Template)]
#[template(path = "message.html")]
struct HtmlEmail<'a> {
    lang: &'a str,
    subject: &'a str,
    paragraphs: Vec<Vec<Vec<Segment>>>,
}

fn html_email(language: Language, subject: &str, text: &str) -> Result<String, MessageError> {
    HtmlEmail {
        lang: language.tag(),
        subject,
        paragraphs: paragraphs(text),
    }
    .render()
    .map_err(|e| MessageError::Html(e.to_string()))
}

/// Paragraphs are separated by blank lines; lines within one stay lines.
fn paragraphs(text: &str) -> Vec<Vec<Vec<Segment>>> {
    let mut out = Vec::new();
    let mut current: Vec<Vec<Segment>> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(linkify(line.trim_end()));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Splits a line into text and http(s) addresses.
fn linkify(line: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = next_url_start(rest) {
        let tail = &rest[start..];
        let len = url_len(tail);
        let scheme_len = if tail.starts_with("https://") { 8 } else { 7 };
        if len <= scheme_len {
            // A bare scheme is not an address.
            push_text(&mut out, &rest[..start + scheme_len]);
            rest = &rest[start + scheme_len..];
            continue;
        }
        push_text(&mut out, &rest[..start]);
        out.push(Segment {
            text: tail[..len].to_string(),
            link: true,
        });
        rest = &tail[len..];
    }
    push_text(&mut out, rest);
    out
}

fn push_text(out: &mut Vec<Segment>, text: &str) {
    if !text.is_empty() {
        out.push(Segment {
            text: text.to_string(),
            link: false,
        });
    }
}

fn next_url_start(s: &str) -> Option<usize> {
    match (s.find("https://"), s.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How much of `s` (which starts with the scheme) is the address. Addresses in our texts are
/// ASCII, so the first space or non-ASCII character (a Japanese particle, a full-width
/// bracket) ends one; sentence punctuation right after it is not part of it.
fn url_len(s: &str) -> usize {
    let mut len = s
        .bytes()
        .take_while(|b| b.is_ascii_graphic() && !b"<>\"'`{}|\\^".contains(b))
        .count();
    loop {
        let url = &s[..len];
        let unbalanced_paren =
            url.ends_with(')') && url.matches('(').count() < url.matches(')').count();
        if url.ends_with(['.', ',', ';', ':', '!', '?']) || unbalanced_paren {
            len -= 1;
        } else {
            return len;
        }
    }
}

#[cfg(test)]
mod tests;
