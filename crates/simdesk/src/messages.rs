//! Messages to travellers: one template per event in every language simdesk speaks.
//!
//! The texts live in `locales/<language>/messages.ftl`: for every [`Event`] an SMS
//! (`<event>-sms`), an e-mail subject (`<event>-subject`) and a plain-text e-mail body
//! (`<event>-body`), plus the short answers to SMS keywords ([`Reply`], `reply-…`).
//! Values arrive already formatted; a message never carries the traveller's name or passport
//! number, so none of the events offers them as a placeholder.

use askama::Template;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{static_loader, LanguageIdentifier, Loader};
use simdesk_domain::customer::Language;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // SMS and e-mail are plain text: the marks Fluent puts around placeholders for
        // bidirectional layout are invisible noise there (and are stripped again below).
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

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
}

impl Event {
    pub const ALL: [Event; 13] = [
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

type FluentArgs = HashMap<Cow<'static, str>, FluentValue<'static>>;

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

fn langid(language: Language) -> LanguageIdentifier {
    language
        .tag()
        .parse()
        .unwrap_or_else(|_| unic_langid::langid!("en"))
}

fn lookup(language: Language, key: &str, args: &FluentArgs) -> Result<String, MessageError> {
    let id = langid(language);
    let text = match LOCALES.lookup_single_language(&id, key, Some(args)) {
        Ok(text) => Some(text),
        Err(e) => {
            // Shipped languages are complete (the tests check it); a gap must not stop the
            // message, but it must not go unnoticed either.
            tracing::warn!(key, language = language.tag(), error = %e, "no usable template; falling back to English");
            LOCALES.try_lookup_with_args(&id, key, args)
        }
    };
    text.map(|t| strip_isolation(&t))
        .ok_or_else(|| MessageError::MissingTemplate {
            key: key.to_string(),
            language,
        })
}

/// Fluent's bidirectional isolation marks must never reach a phone or a mailbox.
fn strip_isolation(s: &str) -> String {
    s.replace(['\u{2068}', '\u{2069}'], "")
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
mod tests {
    use super::*;
    use fluent_templates::fluent_bundle::FluentResource;
    use std::collections::BTreeSet;

    fn locales_dir(tag: &str) -> String {
        format!("{}/locales/{tag}", env!("CARGO_MANIFEST_DIR"))
    }

    /// The message ids of one .ftl file, after checking it parses without a single error
    /// (the loader panics at start-up on a file that does not).
    fn message_ids(path: &str) -> Vec<String> {
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if let Err((_, errors)) = FluentResource::try_new(source.clone()) {
            panic!("{path} does not parse: {errors:?}");
        }
        // A message starts in the first column with its identifier; continuation lines are
        // indented and comments start with '#', so this finds exactly the ids.
        source
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .filter_map(|l| {
                let (id, _) = l.split_once('=')?;
                let id = id.trim_end();
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    .then(|| id.to_string())
            })
            .collect()
    }

    fn expected_keys() -> BTreeSet<String> {
        let mut keys: BTreeSet<String> = Event::ALL
            .iter()
            .flat_map(|e| ["sms", "subject", "body"].map(|part| e.key(part)))
            .collect();
        keys.extend(Reply::ALL.map(|r| r.key().to_string()));
        keys
    }

    fn sample(name: &str) -> &'static str {
        match name {
            "msisdn" => "080-1234-5678",
            "plan" => "日本10日間カード 10GB",
            "valid_until" => "2025-05-20 23:59",
            "hours" => "37",
            "grace_until" => "2025-06-19 23:59",
            "effective_date" => "2025-05-22",
            "reason" => "本人確認書類の写真が不鮮明です",
            "receipt_number" => "RC-2025-000123",
            "refund" => "1,200円",
            "receipt_url" => "https://simdesk.example/my/receipts/RC-2025-000123",
            "amount" => "¥860",
            "reference" => "PO-7741-XK",
            "code" => "482906",
            "minutes" => "15",
            "kept_until" => "2028-05-31",
            "balance" => "¥350",
            "portal_url" => "https://simdesk.example/",
            other => panic!("no sample for {other}"),
        }
    }

    fn params(names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|n| (n.to_string(), sample(n).to_string()))
            .collect()
    }

    fn assert_clean(what: &str, text: &str) {
        assert!(!text.trim().is_empty(), "{what} is empty");
        for bad in ['{', '}', '$', '\u{2068}', '\u{2069}'] {
            assert!(
                !text.contains(bad),
                "{what} contains {bad:?} (an unfilled placeholder?): {text}"
            );
        }
        assert!(!text.contains("Unknown localization key"), "{what}: {text}");
    }

    #[test]
    fn every_language_has_exactly_every_template() {
        let expected = expected_keys();
        for lang in Language::ALL {
            let path = format!("{}/messages.ftl", locales_dir(lang.tag()));
            let ids = message_ids(&path);
            let mut seen = BTreeSet::new();
            for id in &ids {
                assert!(seen.insert(id.clone()), "{lang}: {id} is defined twice");
                assert!(
                    expected.contains(id),
                    "{lang}: messages.ftl has {id}, which no event or reply uses"
                );
            }
            for key in &expected {
                assert!(seen.contains(key), "{lang}: messages.ftl lacks {key}");
            }
            // Every .ftl of a language goes into one bundle, where a repeated id stops the
            // loader, so the other files must not define ours.
            let dir = locales_dir(lang.tag());
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
                let other = entry.unwrap().path();
                if other.extension().is_some_and(|x| x == "ftl")
                    && other.file_name().is_some_and(|n| n != "messages.ftl")
                {
                    for id in message_ids(&other.to_string_lossy()) {
                        assert!(
                            !expected.contains(&id),
                            "{lang}: {} also defines {id}",
                            other.display()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_template_formats_in_its_own_language_with_exactly_its_placeholders() {
        // No fallback here: a translation that names a placeholder its event does not offer,
        // or is missing, fails in that very language.
        for lang in Language::ALL {
            let id = langid(lang);
            for event in Event::ALL {
                let args = fluent_args(
                    event.as_str(),
                    event.placeholders(),
                    &params(event.placeholders()),
                )
                .unwrap();
                for part in ["sms", "subject", "body"] {
                    let key = event.key(part);
                    if let Err(e) = LOCALES.lookup_single_language(&id, &key, Some(&args)) {
                        panic!("{lang}: {key}: {e:?}");
                    }
                }
            }
            for reply in Reply::ALL {
                let args = fluent_args(
                    reply.key(),
                    reply.placeholders(),
                    &params(reply.placeholders()),
                )
                .unwrap();
                if let Err(e) = LOCALES.lookup_single_language(&id, reply.key(), Some(&args)) {
                    panic!("{lang}: {}: {e:?}", reply.key());
                }
            }
        }
    }

    #[test]
    fn no_placeholder_is_left_unfilled_or_dropped() {
        for lang in Language::ALL {
            for event in Event::ALL {
                let m = render(event, lang, &params(event.placeholders()))
                    .unwrap_or_else(|e| panic!("{lang} {event}: {e}"));
                assert_clean(&format!("{lang} {event} sms"), &m.sms);
                assert_clean(&format!("{lang} {event} subject"), &m.subject);
                assert_clean(&format!("{lang} {event} body"), &m.text);
                assert!(!m.html.contains(['\u{2068}', '\u{2069}']));
                for name in event.placeholders() {
                    assert!(
                        m.text.contains(sample(name)),
                        "{lang} {event} body does not show ${name}: {}",
                        m.text
                    );
                }
                assert!(
                    m.text.contains("\n\n"),
                    "{lang} {event} body has a single paragraph"
                );
                let last = m.text.lines().last().unwrap_or_default();
                assert!(
                    last.starts_with("— simdesk"),
                    "{lang} {event} body does not end with the desk's sign-off: {last}"
                );
            }
            for reply in Reply::ALL {
                let text = render_reply(reply, lang, &params(reply.placeholders()))
                    .unwrap_or_else(|e| panic!("{lang} {}: {e}", reply.key()));
                assert_clean(&format!("{lang} {}", reply.key()), &text);
                for name in reply.placeholders() {
                    assert!(
                        text.contains(sample(name)),
                        "{lang} {} does not show ${name}: {text}",
                        reply.key()
                    );
                }
            }
        }
    }

    #[test]
    fn texts_that_must_carry_a_value_do() {
        for lang in Language::ALL {
            let code = render(
                Event::OneTimeCode,
                lang,
                &params(Event::OneTimeCode.placeholders()),
            )
            .unwrap();
            assert!(code.sms.contains("482906"), "{lang}: {}", code.sms);
            assert!(code.sms.contains("15"), "{lang}: {}", code.sms);
            let done = render(
                Event::CancellationCompleted,
                lang,
                &params(Event::CancellationCompleted.placeholders()),
            )
            .unwrap();
            assert!(
                done.sms.contains(sample("receipt_url")),
                "{lang}: {}",
                done.sms
            );
            let approved = render(
                Event::CancellationApproved,
                lang,
                &params(Event::CancellationApproved.placeholders()),
            )
            .unwrap();
            assert!(
                approved.sms.contains("2025-05-22"),
                "{lang}: {}",
                approved.sms
            );
            let help = render_reply(Reply::Help, lang, &BTreeMap::new()).unwrap();
            let own = match lang {
                Language::Ja => ["残高", "解約"],
                Language::En => ["BAL", "CANCEL"],
                Language::ZhHans => ["余额", "注销"],
                Language::ZhHant => ["餘額", "註銷"],
                Language::Ko => ["잔액", "해지"],
            };
            for keyword in ["BAL", "CANCEL"].iter().chain(own.iter()) {
                assert!(
                    help.contains(keyword),
                    "{lang} help lacks {keyword}: {help}"
                );
            }
        }
    }

    #[test]
    fn english_counts_are_singular_or_plural() {
        let mut p = params(Event::ValidityReminder.placeholders());
        p.insert("hours".into(), "1".into());
        let one = render(Event::ValidityReminder, Language::En, &p).unwrap();
        assert!(one.sms.contains("about 1 hour,"), "{}", one.sms);
        assert!(one.text.contains("about 1 hour from now"), "{}", one.text);
        let many = render(
            Event::ValidityReminder,
            Language::En,
            &params(Event::ValidityReminder.placeholders()),
        )
        .unwrap();
        assert!(
            many.text.contains("about 37 hours from now"),
            "{}",
            many.text
        );
        let mut p = params(Event::OneTimeCode.placeholders());
        p.insert("minutes".into(), "1".into());
        let code = render(Event::OneTimeCode, Language::En, &p).unwrap();
        assert!(code.sms.contains("valid for 1 minute."), "{}", code.sms);
        // Anything but a plain count is shown exactly as given.
        p.insert("minutes".into(), "05".into());
        let code = render(Event::OneTimeCode, Language::En, &p).unwrap();
        assert!(code.sms.contains("valid for 05 minutes."), "{}", code.sms);
    }

    #[test]
    fn a_missing_placeholder_is_an_error_naming_it() {
        let mut p = params(Event::CancellationApproved.placeholders());
        p.remove("effective_date");
        let err = render(Event::CancellationApproved, Language::Ja, &p).unwrap_err();
        assert_eq!(
            err,
            MessageError::MissingPlaceholder {
                template: "cancellation_approved",
                placeholder: "effective_date"
            }
        );
        assert!(err.to_string().contains("effective_date"), "{err}");
        assert!(err.to_string().contains("cancellation_approved"), "{err}");

        p.insert("effective_date".into(), "  ".into());
        assert!(matches!(
            render(Event::CancellationApproved, Language::Ja, &p),
            Err(MessageError::MissingPlaceholder {
                placeholder: "effective_date",
                ..
            })
        ));

        let err = render_reply(
            Reply::Balance,
            Language::Ko,
            &params(&["msisdn", "balance"]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("valid_until"), "{err}");
    }

    #[test]
    fn extra_params_are_ignored() {
        let mut p = params(Event::DataErased.placeholders());
        p.insert("full_name".into(), "TARO YAMADA".into());
        let m = render(Event::DataErased, Language::En, &p).unwrap();
        assert!(!m.sms.contains("YAMADA") && !m.text.contains("YAMADA"));
    }

    #[test]
    fn html_is_escaped_linked_and_tagged_with_the_language() {
        let mut p = params(Event::CancellationRejected.placeholders());
        p.insert(
            "reason".into(),
            "<script>alert(\"x\")</script> & 'more'".into(),
        );
        let m = render(Event::CancellationRejected, Language::En, &p).unwrap();
        assert!(!m.html.contains("<script"), "{}", m.html);
        let escaped = m
            .html
            .replace("&#60;", "&lt;")
            .replace("&#62;", "&gt;")
            .replace("&#34;", "&quot;")
            .replace("&#39;", "&apos;")
            .replace("&#38;", "&amp;");
        assert!(
            escaped.contains(
                "Reason: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;more&apos;"
            ),
            "{}",
            m.html
        );
        assert!(m.html.contains("<html lang=\"en\">"), "{}", m.html);
        // The plain text keeps what was given.
        assert!(m.text.contains("<script>alert(\"x\")</script> & 'more'"));

        let mut p = params(Event::CancellationCompleted.placeholders());
        p.insert(
            "receipt_url".into(),
            "https://simdesk.example/my/receipts/RC-1?lang=zh-Hant&v=2".into(),
        );
        let m = render(Event::CancellationCompleted, Language::ZhHant, &p).unwrap();
        assert!(m.html.contains("<html lang=\"zh-Hant\">"), "{}", m.html);
        let href = "https://simdesk.example/my/receipts/RC-1?lang=zh-Hant";
        assert!(
            m.html.contains(&format!("<a href=\"{href}&amp;v=2\""))
                || m.html.contains(&format!("<a href=\"{href}&#38;v=2\"")),
            "{}",
            m.html
        );
        // The subject becomes the heading, each paragraph a <p>, each line break a <br>.
        assert!(m.html.contains(&format!("<h1 style=\"margin:0 0 20px;font-size:20px;line-height:1.4;color:#111827;\">{}</h1>", m.subject)), "{}", m.html);
        let paragraphs = m.text.split("\n\n").count();
        assert_eq!(m.html.matches("<p ").count(), paragraphs, "{}", m.html);
        assert!(m.html.contains("<br>"), "{}", m.html);
    }

    #[test]
    fn addresses_are_found_where_they_start_and_end() {
        let links = |line: &str| -> Vec<String> {
            linkify(line)
                .into_iter()
                .filter(|s| s.link)
                .map(|s| s.text)
                .collect()
        };
        assert_eq!(
            links("See https://a.example/r/1. Thanks"),
            ["https://a.example/r/1"]
        );
        assert_eq!(
            links("解約証明書：https://a.example/r/1をご確認ください"),
            ["https://a.example/r/1"]
        );
        assert_eq!(links("(http://a.example/x)"), ["http://a.example/x"]);
        assert_eq!(
            links("http://a.example/wiki/A_(b) and https://b.example"),
            ["http://a.example/wiki/A_(b)", "https://b.example"]
        );
        assert!(links("javascript:alert(1) and https:// alone").is_empty());
        let text: String = linkify("x https://a.example/q?a=1 y")
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(text, "x https://a.example/q?a=1 y");
    }

    #[test]
    fn cjk_values_come_out_intact() {
        for lang in Language::ALL {
            let m = render(
                Event::Registration,
                lang,
                &params(Event::Registration.placeholders()),
            )
            .unwrap();
            for out in [&m.sms, &m.text, &m.html] {
                assert!(out.contains("日本10日間カード 10GB"), "{lang}: {out}");
            }
            let m = render(
                Event::CancellationRejected,
                lang,
                &params(Event::CancellationRejected.placeholders()),
            )
            .unwrap();
            for out in [&m.sms, &m.text, &m.html] {
                assert!(
                    out.contains("本人確認書類の写真が不鮮明です"),
                    "{lang}: {out}"
                );
            }
            let m = render(
                Event::CancellationCompleted,
                lang,
                &params(Event::CancellationCompleted.placeholders()),
            )
            .unwrap();
            assert!(m.text.contains("1,200円"), "{lang}: {}", m.text);
            assert!(m.html.contains("1,200円"), "{lang}: {}", m.html);
        }
    }

    #[test]
    fn each_language_speaks_its_own_language() {
        let english = render(
            Event::Activation,
            Language::En,
            &params(Event::Activation.placeholders()),
        )
        .unwrap();
        for (lang, word) in [
            (Language::Ja, "開通"),
            (Language::ZhHans, "开通"),
            (Language::ZhHant, "開通"),
            (Language::Ko, "개통"),
        ] {
            let m = render(
                Event::Activation,
                lang,
                &params(Event::Activation.placeholders()),
            )
            .unwrap();
            assert_ne!(m.text, english.text, "{lang}");
            assert!(m.text.contains(word), "{lang}: {}", m.text);
        }
        let hant = render_reply(Reply::Cancel, Language::ZhHant, &params(&["portal_url"])).unwrap();
        assert!(hant.contains("門號") && hant.contains("註銷"), "{hant}");
        let hans = render_reply(Reply::Cancel, Language::ZhHans, &params(&["portal_url"])).unwrap();
        assert!(hans.contains("号码") && hans.contains("注销"), "{hans}");
    }

    #[test]
    fn events_have_stable_names() {
        for event in Event::ALL {
            assert_eq!(event.as_str().parse::<Event>(), Ok(event));
            assert_eq!(event.to_string(), event.as_str());
        }
        let err = "refund".parse::<Event>().unwrap_err();
        assert_eq!(err, MessageError::UnknownEvent("refund".into()));
        let text = err.to_string();
        assert!(
            text.contains("\"refund\"") && text.contains("refund_credited"),
            "{text}"
        );
    }

    #[test]
    fn sms_fit_in_two_parts() {
        // One part holds 70 characters of Japanese, Chinese or Korean, or 160 of English;
        // a longer text goes out in parts of 67 and 153. The texts aim for one part, but a
        // date, a reason or an address may take them into a second, never a third.
        for lang in Language::ALL {
            let limit = if lang == Language::En {
                2 * 153
            } else {
                2 * 67
            };
            for event in Event::ALL {
                let m = render(event, lang, &params(event.placeholders())).unwrap();
                let n = m.sms.chars().count();
                assert!(
                    n <= limit,
                    "{lang} {event} sms has {n} characters: {}",
                    m.sms
                );
            }
            for reply in Reply::ALL {
                let text = render_reply(reply, lang, &params(reply.placeholders())).unwrap();
                let n = text.chars().count();
                assert!(
                    n <= limit,
                    "{lang} {} has {n} characters: {text}",
                    reply.key()
                );
            }
        }
    }
}
