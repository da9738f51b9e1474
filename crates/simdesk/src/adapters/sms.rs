//! Text messages to a phone number.

use super::PeerError;
use async_trait::async_trait;

/// An SMS gateway. `message_id` is the outbox key of the message, stable across retries.
#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends `text` (any script; the gateway encodes it) to `to`, an E.164 number with or without `+`.
    async fn send_sms(&self, message_id: &str, to: &str, text: &str) -> Result<(), PeerError>;
}
