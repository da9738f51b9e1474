//! E-mail to a traveller.

use super::PeerError;
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// One message: a plain-text and an HTML version of the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The outbox key of the message, stable across retries; becomes the Message-ID so a
    /// receiving system can drop a copy delivered twice.
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send_mail(&self, mail: &Mail) -> Result<(), PeerError>;
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP: only for a relay on the same host or a test server.
    #[serde(rename = "none")]
    None,
    /// Plain connection upgraded with STARTTLS, which is required: a server that does not offer
    /// it is an error rather than a reason to send in clear.
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    #[serde(rename = "tls")]
    Tls,
}

/// Where and how to hand mail to the operator's SMTP relay.
#[derive(Clone, serde::Deserialize, serde::Serialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, `noreply@example.jp` or `Example SIM <noreply@example.jp>`.
    pub from: String,
    /// Bounds connecting and each SMTP command; lettre's default (60 s) when absent.
    pub timeout_secs: Option<u64>,
}

// Settings end up in logs and error reports; the password must not.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// The Message-ID for an outbox message: derived from its key alone, so a resend after a lost
/// acknowledgement carries the same ID and the receiver can recognise the duplicate. Hashing
/// keeps the outbox key itself out of the traveller's mail headers.
pub fn message_id_for(outbox_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(outbox_key.as_bytes()));
    format!("<{}@simdesk>", &digest[..32])
}

/// Sends mail through an SMTP relay.
pub struct SmtpMailer {
    /// `host:port`, to name the server in errors.
    server: String,
    from: Mailbox,
    password: Option<String>,
    builder: AsyncSmtpTransportBuilder,
    /// Built on first use rather than in `new`: lettre's connection pool spawns a task, which
    /// needs a running Tokio runtime, and settings are checked before one may exist.
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

// Hand-written so that no field that could hold the credentials is printed.
impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

fn bad_setting(name: &str, why: impl fmt::Display) -> PeerError {
    PeerError::Refused(format!("smtp setting `{name}` {why}"))
}

impl SmtpMailer {
    /// Checks the settings; nothing is sent and no connection is opened until the first mail.
    pub fn new(settings: &SmtpSettings) -> Result<SmtpMailer, PeerError> {
        let host = settings.host.trim();
        if host.is_empty() {
            return Err(bad_setting("host", "is empty"));
        }
        if settings.port == 0 {
            return Err(bad_setting("port", "must be between 1 and 65535"));
        }
        let from: Mailbox = settings.from.parse().map_err(|e| {
            bad_setting(
                "from",
                format!("is not an e-mail address ({:?}): {e}", settings.from),
            )
        })?;
        if settings.timeout_secs == Some(0) {
            return Err(bad_setting(
                "timeout_secs",
                "must be at least 1 (leave it out for the default)",
            ));
        }
        let credentials = match (&settings.username, &settings.password) {
            (None, None) => None,
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password.clone())),
            (Some(_), None) => {
                return Err(bad_setting("password", "is missing but `username` is set"))
            }
            (None, Some(_)) => {
                return Err(bad_setting("username", "is missing but `password` is set"))
            }
        };
        if credentials.is_some() && settings.security == SmtpSecurity::None {
            return Err(bad_setting(
                "security",
                "must be `starttls` or `tls` when a username and password are set: they would cross the network in clear",
            ));
        }

        let tls_builder = |r: Result<AsyncSmtpTransportBuilder, _>| {
            r.map_err(|e| bad_setting("host", format!("is not usable as a TLS server name: {e}")))
        };
        let mut builder = match settings.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::StartTls => {
                tls_builder(AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host))?
            }
            SmtpSecurity::Tls => tls_builder(AsyncSmtpTransport::<Tokio1Executor>::relay(host))?,
        }
        .port(settings.port);
        if let Some(secs) = settings.timeout_secs {
            builder = builder.timeout(Some(Duration::from_secs(secs)));
        }
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }

        Ok(SmtpMailer {
            server: format!("{host}:{}", settings.port),
            from,
            password: settings.password.clone().filter(|p| !p.is_empty()),
            builder,
            transport: OnceLock::new(),
        })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }

    fn message(&self, mail: &Mail) -> Result<Message, PeerError> {
        let to: Mailbox = mail.to.parse().map_err(|e| {
            PeerError::Refused(format!(
                "recipient {:?} is not an e-mail address: {e}",
                mail.to
            ))
        })?;
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(mail.text.clone()))
            .singlepart(SinglePart::html(mail.html.clone()));
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .date_now()
            .message_id(Some(message_id_for(&mail.message_id)));
        let built = if mail.attachments.is_empty() {
            builder.multipart(alternative)
        } else {
            let mut mixed = MultiPart::mixed().multipart(alternative);
            for attachment in &mail.attachments {
                let content_type = ContentType::parse(&attachment.content_type).map_err(|e| {
                    PeerError::Refused(format!(
                        "attachment {:?} has an invalid content type {:?}: {e}",
                        attachment.filename, attachment.content_type
                    ))
                })?;
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(attachment.filename.clone())
                        .body(attachment.content.clone(), content_type),
                );
            }
            builder.multipart(mixed)
        };
        // Building fails only on what this message contains, so sending it again cannot help.
        built.map_err(|e| {
            PeerError::Refused(format!("mail {:?} cannot be built: {e}", mail.message_id))
        })
    }

    fn classify(&self, e: &lettre::transport::smtp::Error) -> PeerError {
        let server = &self.server;
        let error = if e.is_permanent() {
            PeerError::Refused(format!("smtp server {server} refused the mail: {e}"))
        } else if e.is_client() && is_unsendable_here(e) {
            // lettre declines before sending when the message needs an extension this server
            // lacks: the same message to the same server fails the same way every time.
            PeerError::Refused(format!("smtp server {server} cannot take this mail: {e}"))
        } else if e.is_transient() {
            PeerError::Unavailable(format!("smtp server {server} asked to retry later: {e}"))
        } else if e.is_timeout() {
            PeerError::Unavailable(format!("smtp server {server} did not answer in time: {e}"))
        } else if e.is_tls() {
            PeerError::Unavailable(format!("TLS with smtp server {server} failed: {e}"))
        } else {
            // Refused connections, resets, a server without STARTTLS and the like: faults of
            // the path to the relay, not of this message, which will go once the path is fixed.
            PeerError::Unavailable(format!("smtp server {server} is unavailable: {e}"))
        };
        self.scrub(error)
    }

    /// Servers sometimes echo what they were sent; make sure the password never reaches a log.
    fn scrub(&self, error: PeerError) -> PeerError {
        let Some(password) = &self.password else {
            return error;
        };
        let clean = |text: String| text.replace(password.as_str(), "<hidden>");
        match error {
            PeerError::Refused(text) => PeerError::Refused(clean(text)),
            PeerError::Unavailable(text) => PeerError::Unavailable(clean(text)),
        }
    }
}

fn is_unsendable_here(e: &lettre::transport::smtp::Error) -> bool {
    let text = e.to_string();
    text.contains("SMTPUTF8") || text.contains("8BITMIME")
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send_mail(&self, mail: &Mail) -> Result<(), PeerError> {
        let message = self.message(mail)?;
        self.transport()
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| self.classify(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.jp".into(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: Some("relay-user".into()),
            password: Some("s3cret-Pa55".into()),
            from: "Example SIM <noreply@example.jp>".into(),
            timeout_secs: Some(10),
        }
    }

    fn mail() -> Mail {
        Mail {
            message_id: "outbox-42".into(),
            to: "traveller@example.com".into(),
            subject: "您的 SIM 卡已啟用".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
            attachments: vec![],
        }
    }

    #[test]
    fn message_id_depends_only_on_the_outbox_key() {
        let id = message_id_for("outbox-42");
        assert_eq!(id, message_id_for("outbox-42"));
        assert_ne!(id, message_id_for("outbox-43"));
        let expected = hex::encode(Sha256::digest(b"outbox-42"));
        assert_eq!(id, format!("<{}@simdesk>", &expected[..32]));
    }

    #[test]
    fn built_message_carries_the_derived_message_id() {
        let mailer = SmtpMailer::new(&settings()).unwrap();
        let first = mailer.message(&mail()).unwrap();
        let second = mailer.message(&mail()).unwrap();
        let header = |m: &Message| {
            m.headers()
                .get_raw("Message-ID")
                .map(str::to_owned)
                .unwrap()
        };
        assert_eq!(header(&first), message_id_for("outbox-42"));
        assert_eq!(header(&first), header(&second));
    }

    #[test]
    fn debug_hides_the_password() {
        let s = settings();
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret-Pa55"), "{shown}");
        assert!(shown.contains("<hidden>"), "{shown}");
        assert!(shown.contains("relay-user"), "{shown}");
        let mailer = SmtpMailer::new(&s).unwrap();
        assert!(!format!("{mailer:?}").contains("s3cret-Pa55"));
    }

    #[test]
    fn bad_from_address_is_refused_naming_the_setting() {
        let mut s = settings();
        s.from = "not an address".into();
        match SmtpMailer::new(&s) {
            Err(PeerError::Refused(msg)) => assert!(msg.contains("`from`"), "{msg}"),
            other => panic!("expected Refused, got {other:?}"),
        }
    }

    #[test]
    fn other_bad_settings_are_refused_naming_the_setting() {
        type Change = fn(&mut SmtpSettings);
        let cases: [(&str, Change); 5] = [
            ("host", |s| s.host = " ".into()),
            ("port", |s| s.port = 0),
            ("timeout_secs", |s| s.timeout_secs = Some(0)),
            ("password", |s| s.password = None),
            ("security", |s| s.security = SmtpSecurity::None),
        ];
        for (name, change) in cases {
            let mut s = settings();
            change(&mut s);
            match SmtpMailer::new(&s) {
                Err(PeerError::Refused(msg)) => {
                    assert!(msg.contains(&format!("`{name}`")), "{name}: {msg}");
                    assert!(!msg.contains("s3cret-Pa55"), "{msg}");
                }
                other => panic!("{name}: expected Refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_recipient_is_refused() {
        let mailer = SmtpMailer::new(&settings()).unwrap();
        let mut m = mail();
        m.to = "traveller at example dot com".into();
        assert!(matches!(mailer.message(&m), Err(PeerError::Refused(_))));
    }

    #[test]
    fn security_uses_the_documented_names() {
        for (security, name) in [
            (SmtpSecurity::None, "none"),
            (SmtpSecurity::StartTls, "starttls"),
            (SmtpSecurity::Tls, "tls"),
        ] {
            assert_eq!(serde_json::to_value(security).unwrap(), name);
            let back: SmtpSecurity = serde_json::from_value(name.into()).unwrap();
            assert_eq!(back, security);
        }
    }
}
