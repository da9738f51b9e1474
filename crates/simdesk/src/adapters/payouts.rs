//! Paying e-wallet money out to a card or bank reference.

use super::PeerError;
use crate::store::Wallet;
use async_trait::async_trait;
use jiff::Timestamp;
use std::sync::Arc;

/// A payout could not be sent.
pub type PayoutError = PeerError;

/// A payment provider. `key` is the payout's idempotency key: sending twice pays once.
#[async_trait]
pub trait Payouts: Send + Sync {
    /// Returns the provider's reference for the transfer.
    async fn send(
        &self,
        key: &str,
        destination: &str,
        amount_minor: i64,
        currency: &str,
    ) -> Result<String, PayoutError>;
}

/// Marks payouts as sent in simdesk's own records, with the key as reference; stands in until a
/// payment provider is configured.
pub struct RecordingPayouts {
    store: Arc<dyn Wallet>,
}

impl RecordingPayouts {
    pub fn new(store: Arc<dyn Wallet>) -> Self {
        RecordingPayouts { store }
    }
}

#[async_trait]
impl Payouts for RecordingPayouts {
    async fn send(
        &self,
        key: &str,
        _destination: &str,
        _amount_minor: i64,
        _currency: &str,
    ) -> Result<String, PayoutError> {
        let reference = format!("recorded:{key}");
        self.store
            .mark_payout_sent(key, &reference, Timestamp::now())
            .await?;
        Ok(reference)
    }
}
