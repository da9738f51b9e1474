//! Text messages to a phone number.

use super::PeerError;
use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

/// An SMS gateway. `message_id` is the outbox key of the message, stable across retries.
#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends `text` (any script; the gateway encodes it) to `to`, an E.164 number with or without `+`.
    async fn send_sms(&self, message_id: &str, to: &str, text: &str) -> Result<(), PeerError>;
}

/// Whether `text` must travel as UCS-2 (Kannel's `coding=2`): it has a character outside the GSM
/// 03.38 default alphabet and its extension table. Kannel replaces such characters with `?` in
/// the default coding, so kana, hanzi and Hangul — and even the ASCII backquote — need UCS-2. A
/// reply to an inbound SMS makes the same decision with `X-Kannel-Coding: 2`.
pub fn needs_ucs2(text: &str) -> bool {
    !text.chars().all(is_gsm7)
}

fn is_gsm7(c: char) -> bool {
    // Letters, digits and most ASCII punctuation are in the default alphabet; only '`' is not.
    (c.is_ascii_graphic() && c != '`')
        || matches!(
            c,
            ' ' | '\n'
                | '\r'
                | '\u{0C}'
                | '£'
                | '¥'
                | 'è'
                | 'é'
                | 'ù'
                | 'ì'
                | 'ò'
                | 'Ç'
                | 'Ø'
                | 'ø'
                | 'Å'
                | 'å'
                | 'Δ'
                | 'Φ'
                | 'Γ'
                | 'Λ'
                | 'Ω'
                | 'Π'
                | 'Ψ'
                | 'Σ'
                | 'Θ'
                | 'Ξ'
                | 'Æ'
                | 'æ'
                | 'ß'
                | 'É'
                | '¤'
                | '¡'
                | 'Ä'
                | 'Ö'
                | 'Ñ'
                | 'Ü'
                | '§'
                | '¿'
                | 'ä'
                | 'ö'
                | 'ñ'
                | 'ü'
                | 'à'
                | '€'
        )
}

/// Sends through Kannel's `sendsms` HTTP interface (smsbox), e.g.
/// `http://127.0.0.1:13013/cgi-bin/sendsms`.
///
/// Kannel answers 202 once the message is queued, 403 for bad credentials and 400 for a receiver
/// or field it rejects; those refusals will not change on retry. Anything that did not reach
/// smsbox or that it answered with 5xx may work later.
pub struct KannelSms {
    endpoint: Result<Endpoint, String>,
    username: String,
    password: String,
    from: String,
    timeout: Duration,
}

struct Endpoint {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The URL without query or user info, safe for error messages.
    shown: String,
}

// The password must never reach a log line through `{:?}`.
impl fmt::Debug for KannelSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KannelSms")
            .field(
                "endpoint",
                &self.endpoint.as_ref().map(|e| e.shown.as_str()),
            )
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How much of Kannel's answer an error quotes: its bodies are one short line.
const BODY_QUOTE_CHARS: usize = 200;

impl KannelSms {
    /// `sendsms_url` is smsbox's sendsms address; `username`/`password` a `sendsms-user`;
    /// `from` the sender shown on the phone; `timeout` bounds connecting and the whole request.
    pub fn new(
        sendsms_url: &str,
        username: &str,
        password: &str,
        from: &str,
        timeout: Duration,
    ) -> Self {
        KannelSms {
            endpoint: Endpoint::new(sendsms_url, timeout),
            username: username.to_string(),
            password: password.to_string(),
            from: from.to_string(),
            timeout,
        }
    }

    /// The query of one sendsms request, password included.
    fn query(&self, to: &str, text: &str) -> Vec<(&'static str, String)> {
        let mut query = vec![
            ("username", self.username.clone()),
            ("password", self.password.clone()),
            ("from", self.from.clone()),
            ("to", to.to_string()),
            ("text", text.to_string()),
            // The query string is UTF-8 whatever the coding; without this Kannel would have to
            // guess.
            ("charset", "UTF-8".to_string()),
        ];
        if needs_ucs2(text) {
            query.push(("coding", "2".to_string()));
        }
        query
    }

    fn request(
        &self,
        endpoint: &Endpoint,
        to: &str,
        text: &str,
    ) -> Result<reqwest::Request, PeerError> {
        endpoint
            .client
            .get(endpoint.url.clone())
            .query(&self.query(to, text))
            .build()
            .map_err(|e| {
                PeerError::Refused(format!(
                    "SMS request to {} could not be built: {}",
                    endpoint.shown,
                    describe(e)
                ))
            })
    }
}

impl Endpoint {
    fn new(sendsms_url: &str, timeout: Duration) -> Result<Endpoint, String> {
        let url = reqwest::Url::parse(sendsms_url)
            .map_err(|e| format!("the Kannel sendsms URL is not a URL: {e}"))?;
        let shown = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ) + url.path();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // The password travels in the query string: it must go to smsbox and nowhere else,
            // neither through a proxy from the environment nor after a redirect.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client for {shown}: {}", describe(e)))?;
        Ok(Endpoint { client, url, shown })
    }
}

/// `to` as Kannel should get it, or why it cannot be sent. Kannel reads a space in `to` as a
/// second receiver, so anything but digits after an optional `+` is refused here rather than
/// risking a message to a stranger. The `+` is kept: Kannel accepts it, and its SMPP driver turns
/// it into the international type of number.
fn receiver(to: &str) -> Result<&str, PeerError> {
    let to = to.trim();
    let digits = to.strip_prefix('+').unwrap_or(to);
    if (1..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(to)
    } else {
        Err(PeerError::Refused(format!(
            "{:?} is not a phone number: expected digits with an optional leading +",
            to.chars().take(32).collect::<String>()
        )))
    }
}

/// A reqwest error and its causes, without the URL, which holds the password.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn quote(body: &str) -> String {
    let body = body.trim();
    if body.chars().count() > BODY_QUOTE_CHARS {
        format!(
            "{}…",
            body.chars().take(BODY_QUOTE_CHARS).collect::<String>()
        )
    } else {
        body.to_string()
    }
}

#[async_trait]
impl SmsGateway for KannelSms {
    async fn send_sms(&self, message_id: &str, to: &str, text: &str) -> Result<(), PeerError> {
        let endpoint = self
            .endpoint
            .as_ref()
            .map_err(|e| PeerError::Refused(format!("SMS gateway is misconfigured: {e}")))?;
        let to = receiver(to)?;
        let request = self.request(endpoint, to, text)?;
        let response = endpoint.client.execute(request).await.map_err(|e| {
            let why = if e.is_timeout() {
                format!("no answer within {:?}", self.timeout)
            } else {
                describe(e)
            };
            PeerError::Unavailable(format!("Kannel at {} unreachable: {why}", endpoint.shown))
        })?;
        let status = response.status();
        // An unreadable body does not change what the status says.
        let body = response.text().await.unwrap_or_default();
        let answer = format!(
            "Kannel at {} answered {}: {}",
            endpoint.shown,
            status,
            quote(&body)
        );
        if status.is_success() {
            tracing::debug!(message_id, %status, "SMS accepted by Kannel");
            Ok(())
        } else if status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            Err(PeerError::Unavailable(answer))
        } else {
            // 403 (credentials), 400 (receiver, coding, sender) and 404 (wrong path) are
            // configuration or data errors: asking again gets the same answer.
            Err(PeerError::Refused(answer))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kannel() -> KannelSms {
        KannelSms::new(
            "http://127.0.0.1:13013/cgi-bin/sendsms",
            "simdesk",
            "s3cret&x=1",
            "SIMDESK",
            Duration::from_secs(5),
        )
    }

    fn url_of(sms: &KannelSms, to: &str, text: &str) -> reqwest::Url {
        let endpoint = sms.endpoint.as_ref().expect("valid endpoint");
        sms.request(endpoint, to, text)
            .expect("request builds")
            .url()
            .clone()
    }

    fn param(url: &reqwest::Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    #[test]
    fn ascii_text_keeps_the_default_coding() {
        let url = url_of(&kannel(), "819012345678", "Your balance is 1,200 yen.");
        assert_eq!(url.path(), "/cgi-bin/sendsms");
        assert_eq!(param(&url, "username").as_deref(), Some("simdesk"));
        assert_eq!(param(&url, "password").as_deref(), Some("s3cret&x=1"));
        assert_eq!(param(&url, "from").as_deref(), Some("SIMDESK"));
        assert_eq!(param(&url, "to").as_deref(), Some("819012345678"));
        assert_eq!(
            param(&url, "text").as_deref(),
            Some("Your balance is 1,200 yen.")
        );
        assert_eq!(param(&url, "charset").as_deref(), Some("UTF-8"));
        assert_eq!(param(&url, "coding"), None);
    }

    #[test]
    fn cjk_text_goes_as_ucs2_in_utf8() {
        let url = url_of(&kannel(), "819012345678", "残高は ¥1,200 です");
        assert_eq!(param(&url, "coding").as_deref(), Some("2"));
        assert_eq!(param(&url, "charset").as_deref(), Some("UTF-8"));
        assert_eq!(param(&url, "text").as_deref(), Some("残高は ¥1,200 です"));
        // Percent-encoded UTF-8 on the wire.
        assert!(url.as_str().contains("%E6%AE%8B%E9%AB%98"), "{url}");
    }

    #[test]
    fn plus_is_encoded_not_read_as_a_space() {
        let url = url_of(&kannel(), "+819012345678", "a+b");
        assert!(url.as_str().contains("to=%2B819012345678"), "{url}");
        assert_eq!(param(&url, "to").as_deref(), Some("+819012345678"));
        assert_eq!(param(&url, "text").as_deref(), Some("a+b"));
    }

    #[test]
    fn receivers_are_digits_with_an_optional_plus() {
        assert_eq!(receiver("819012345678"), Ok("819012345678"));
        assert_eq!(receiver(" +819012345678 "), Ok("+819012345678"));
        for bad in ["", "+", "8190 1234", "8190;1234", "+81-90", "abc", "++81"] {
            assert!(
                matches!(receiver(bad), Err(PeerError::Refused(_))),
                "{bad:?} accepted"
            );
        }
        assert!(receiver(&"1".repeat(21)).is_err());
    }

    #[test]
    fn gsm_or_ucs2() {
        for gsm in [
            "",
            "BAL",
            "Balance: 1,200 yen (until 2026-12-01) @ {x} [y] ~ | \\ ^ €",
            "café £5 ¥100 Ñandu ß Ω\n",
        ] {
            assert!(!needs_ucs2(gsm), "{gsm:?} should be GSM 7-bit");
        }
        for ucs2 in [
            "残高",
            "余额",
            "餘額",
            "잔액",
            "`code`",
            "naïve",
            "smile 😀",
            "ＢＡＬ",
        ] {
            assert!(needs_ucs2(ucs2), "{ucs2:?} should be UCS-2");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", kannel());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<hidden>"));
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_the_password() {
        let sms = KannelSms::new("not a url", "u", "s3cret", "S", Duration::from_secs(1));
        let err = sms.send_sms("m1", "8190", "hi").await.unwrap_err();
        assert!(err.is_permanent());
        assert!(!err.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn an_invalid_receiver_is_refused_before_sending() {
        // Asking port 9 would fail as unavailable; a refusal proves Kannel was never asked.
        let sms = KannelSms::new(
            "http://127.0.0.1:9/cgi-bin/sendsms",
            "u",
            "p",
            "S",
            Duration::from_secs(1),
        );
        let err = sms.send_sms("m1", "8190 1234", "hi").await.unwrap_err();
        assert!(err.is_permanent(), "{err}");
    }
}
