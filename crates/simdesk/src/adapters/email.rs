//! E-mail to a traveller.

use super::PeerError;
use async_trait::async_trait;

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
