//! The network's subscriber database: bar, unbar and deprovision a line.

use crate::store::{Store, StoreError};
use async_trait::async_trait;
use jiff::Timestamp;
use std::sync::Arc;

/// A call to the network failed; the outbox retries it later.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("the subscriber database is unreachable: {0}")]
    Unreachable(String),
    #[error("the subscriber database refused: {0}")]
    Refused(String),
}

impl From<StoreError> for NetworkError {
    fn from(e: StoreError) -> Self {
        NetworkError::Unreachable(e.to_string())
    }
}

/// Provisioning operations. Every call carries an idempotency key and must be safe to repeat.
#[async_trait]
pub trait Network: Send + Sync {
    async fn bar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    async fn unbar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    async fn deprovision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
}

/// Records what would be sent to the subscriber database in simdesk's own journal, once per key.
/// Stands in until a real HLR is configured; the journal shows exactly what happened.
pub struct RecordingNetwork {
    store: Arc<dyn Store>,
}

impl RecordingNetwork {
    pub fn new(store: Arc<dyn Store>) -> Self {
        RecordingNetwork { store }
    }

    async fn record(
        &self,
        key: &str,
        operation: &str,
        imsi: &str,
        msisdn: &str,
    ) -> Result<(), NetworkError> {
        self.store
            .record_network_call(key, operation, imsi, msisdn, Timestamp::now())
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Network for RecordingNetwork {
    async fn bar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "bar", imsi, msisdn).await
    }
    async fn unbar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "unbar", imsi, msisdn).await
    }
    async fn deprovision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "deprovision", imsi, msisdn).await
    }
}
