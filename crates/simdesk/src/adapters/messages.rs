//! Delivering one-time codes to a line or an e-mail address, right away rather than through the
//! outbox, so the code never rests anywhere in the clear.

use async_trait::async_trait;
use std::sync::Mutex;

/// Where a code goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeDestination {
    /// An SMS to the line itself (E.164).
    Line(String),
    /// The registered e-mail address.
    Email(String),
}

impl CodeDestination {
    /// What a person may be shown: enough to recognise, not enough to harvest.
    pub fn masked(&self) -> String {
        match self {
            CodeDestination::Line(n) => {
                let keep = n.len().saturating_sub(4);
                format!("{}{}", "•".repeat(keep.min(8)), &n[keep..])
            }
            CodeDestination::Email(e) => match e.split_once('@') {
                Some((local, domain)) => {
                    format!("{}•••@{domain}", local.chars().next().unwrap_or('•'))
                }
                None => "•••".into(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the code could not be delivered: {0}")]
pub struct DeliveryError(pub String);

#[async_trait]
pub trait CodeSender: Send + Sync {
    async fn send_code(
        &self,
        to: &CodeDestination,
        code: &str,
        language: &str,
    ) -> Result<(), DeliveryError>;
}

/// Keeps sent codes in memory for whoever runs simdesk in-process (tests, the demo); it forgets
/// them when the process ends.
#[derive(Default)]
pub struct RecordingCodeSender {
    sent: Mutex<Vec<(CodeDestination, String)>>,
}

impl RecordingCodeSender {
    /// The last code sent to `to`.
    pub fn last_code_to(&self, to: &CodeDestination) -> Option<String> {
        let sent = self.sent.lock().ok()?;
        sent.iter()
            .rev()
            .find(|(d, _)| d == to)
            .map(|(_, c)| c.clone())
    }
}

#[async_trait]
impl CodeSender for RecordingCodeSender {
    async fn send_code(
        &self,
        to: &CodeDestination,
        code: &str,
        _language: &str,
    ) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .map_err(|_| DeliveryError("recorder poisoned".into()))?
            .push((to.clone(), code.to_string()));
        Ok(())
    }
}

/// Appends every code to a file: the demo's stand-in for an SMS gateway and a mailbox, so a
/// person trying the demo can read the code "sent" to a fictional traveller. Never for real lines.
pub struct DemoOutbox {
    path: std::path::PathBuf,
}

impl DemoOutbox {
    pub fn new(path: std::path::PathBuf) -> Self {
        DemoOutbox { path }
    }
}

/// Keeps every SMS and e-mail in memory: the messaging peers of an installation that has none
/// configured yet (their messages stay readable in `simdesk outbox list`) and of tests.
#[derive(Default)]
pub struct RecordingMessages {
    sms: Mutex<Vec<(String, String)>>,
    mail: Mutex<Vec<super::email::Mail>>,
}

impl RecordingMessages {
    /// SMS sent so far: (to, text).
    pub fn sms(&self) -> Vec<(String, String)> {
        self.sms.lock().map(|s| s.clone()).unwrap_or_default()
    }
    pub fn mail(&self) -> Vec<super::email::Mail> {
        self.mail.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl super::sms::SmsGateway for RecordingMessages {
    async fn send_sms(
        &self,
        _message_id: &str,
        to: &str,
        text: &str,
    ) -> Result<(), super::PeerError> {
        self.sms
            .lock()
            .map_err(|_| super::PeerError::Unavailable("recorder poisoned".into()))?
            .push((to.to_string(), text.to_string()));
        Ok(())
    }
}

#[async_trait]
impl super::email::Mailer for RecordingMessages {
    async fn send_mail(&self, mail: &super::email::Mail) -> Result<(), super::PeerError> {
        self.mail
            .lock()
            .map_err(|_| super::PeerError::Unavailable("recorder poisoned".into()))?
            .push(mail.clone());
        Ok(())
    }
}

impl DemoOutbox {
    fn append(&self, entry: &str) -> Result<(), super::PeerError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| super::PeerError::Unavailable(e.to_string()))?;
        writeln!(file, "{} {entry}", jiff::Timestamp::now())
            .map_err(|e| super::PeerError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl super::sms::SmsGateway for DemoOutbox {
    async fn send_sms(
        &self,
        _message_id: &str,
        to: &str,
        text: &str,
    ) -> Result<(), super::PeerError> {
        self.append(&format!("SMS to {to}: {text}"))
    }
}

#[async_trait]
impl super::email::Mailer for DemoOutbox {
    async fn send_mail(&self, mail: &super::email::Mail) -> Result<(), super::PeerError> {
        let attached: Vec<&str> = mail
            .attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect();
        self.append(&format!(
            "e-mail to {}: {}\n{}\n(attached: {})\n",
            mail.to,
            mail.subject,
            mail.text,
            if attached.is_empty() {
                "nothing".to_string()
            } else {
                attached.join(", ")
            }
        ))
    }
}

/// Sends one-time codes as the `one_time_code` message, by SMS to a line or by e-mail, in the
/// traveller's language.
pub struct MessageCodes {
    sms: std::sync::Arc<dyn super::sms::SmsGateway>,
    mail: std::sync::Arc<dyn super::email::Mailer>,
}

impl MessageCodes {
    pub fn new(
        sms: std::sync::Arc<dyn super::sms::SmsGateway>,
        mail: std::sync::Arc<dyn super::email::Mailer>,
    ) -> Self {
        MessageCodes { sms, mail }
    }
}

/// How long a code lasts, as the message states it.
const CODE_MINUTES: &str = "10";

#[async_trait]
impl CodeSender for MessageCodes {
    async fn send_code(
        &self,
        to: &CodeDestination,
        code: &str,
        language: &str,
    ) -> Result<(), DeliveryError> {
        use crate::messages::{render, Event};
        let language = language
            .parse()
            .unwrap_or(simdesk_domain::customer::Language::En);
        let params = [
            ("code".to_string(), code.to_string()),
            ("minutes".to_string(), CODE_MINUTES.to_string()),
        ]
        .into_iter()
        .collect();
        let message = render(Event::OneTimeCode, language, &params)
            .map_err(|e| DeliveryError(e.to_string()))?;
        // A code is never retried from a queue: each send is a fresh message id.
        let id = format!("code:{}", rand::random::<u64>());
        match to {
            CodeDestination::Line(number) => self
                .sms
                .send_sms(&id, number, &message.sms)
                .await
                .map_err(|e| DeliveryError(e.to_string())),
            CodeDestination::Email(address) => self
                .mail
                .send_mail(&super::email::Mail {
                    message_id: id,
                    to: address.clone(),
                    subject: message.subject,
                    text: message.text,
                    html: message.html,
                    attachments: Vec::new(),
                })
                .await
                .map_err(|e| DeliveryError(e.to_string())),
        }
    }
}
