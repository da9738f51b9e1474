//! The network's subscriber database: provision, bar, unbar and delete a line's subscriber.

use super::PeerError;
use crate::store::Outbox;
use async_trait::async_trait;
use jiff::Timestamp;
use std::sync::Arc;

/// A call to the network failed.
pub type NetworkError = PeerError;

/// What the subscriber database holds for one IMSI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// The MSISDN digits (no `+`), if one is set.
    pub msisdn: Option<String>,
    /// Packet-switched (data) service allowed.
    pub ps_enabled: bool,
    /// Circuit-switched (voice/SMS) service allowed.
    pub cs_enabled: bool,
}

impl Subscriber {
    /// Barred means no service of either kind.
    pub fn is_barred(&self) -> bool {
        !self.ps_enabled && !self.cs_enabled
    }
}

/// Provisioning operations. Every call carries an idempotency key and must be safe to repeat:
/// provisioning an existing subscriber or deleting a missing one succeeds.
#[async_trait]
pub trait Network: Send + Sync {
    /// Creates the subscriber if missing, sets its MSISDN and allows service.
    async fn provision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    async fn bar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    async fn unbar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    /// Stops data (packet-switched service) alone; voice and SMS go on.
    async fn bar_data(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    /// Allows data again, leaving voice and SMS as they are.
    async fn unbar_data(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    /// Deletes the subscriber; a missing one is already deleted.
    async fn deprovision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError>;
    /// What the subscriber database holds for `imsi`; `None` when it has no such subscriber.
    async fn subscriber(&self, imsi: &str) -> Result<Option<Subscriber>, NetworkError>;
}

/// Records what would be sent to the subscriber database in simdesk's own journal, once per key.
/// Stands in until a real HLR is configured; the journal shows exactly what happened.
pub struct RecordingNetwork {
    store: Arc<dyn Outbox>,
}

impl RecordingNetwork {
    pub fn new(store: Arc<dyn Outbox>) -> Self {
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
    async fn provision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "provision", imsi, msisdn).await
    }
    async fn bar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "bar", imsi, msisdn).await
    }
    async fn unbar(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "unbar", imsi, msisdn).await
    }
    async fn bar_data(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "bar_data", imsi, msisdn).await
    }
    async fn unbar_data(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "unbar_data", imsi, msisdn).await
    }
    async fn deprovision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        self.record(key, "deprovision", imsi, msisdn).await
    }
    /// Replays the journal: the state the calls recorded so far would have left.
    async fn subscriber(&self, imsi: &str) -> Result<Option<Subscriber>, NetworkError> {
        let calls = self.store.network_calls(imsi).await?;
        Ok(replay(&calls))
    }
}

/// The subscriber a sequence of recorded operations leaves behind.
fn replay(operations: &[(String, String)]) -> Option<Subscriber> {
    let mut current: Option<Subscriber> = None;
    for (operation, msisdn) in operations {
        let digits = msisdn.trim_start_matches('+').to_string();
        current = match (operation.as_str(), current) {
            ("provision", _) => Some(Subscriber {
                msisdn: Some(digits),
                ps_enabled: true,
                cs_enabled: true,
            }),
            ("bar", Some(s)) => Some(Subscriber {
                ps_enabled: false,
                cs_enabled: false,
                ..s
            }),
            ("unbar", Some(s)) => Some(Subscriber {
                ps_enabled: true,
                cs_enabled: true,
                ..s
            }),
            ("bar_data", Some(s)) => Some(Subscriber {
                ps_enabled: false,
                ..s
            }),
            ("unbar_data", Some(s)) => Some(Subscriber {
                ps_enabled: true,
                ..s
            }),
            ("deprovision", _) => None,
            (_, other) => other,
        };
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: &[&str]) -> Vec<(String, String)> {
        list.iter()
            .map(|o| (o.to_string(), "+819012345678".to_string()))
            .collect()
    }

    #[test]
    fn the_journal_replays_to_the_subscriber_it_would_have_left() {
        assert_eq!(replay(&ops(&[])), None);
        let barred = replay(&ops(&["provision", "bar"])).unwrap();
        assert!(barred.is_barred());
        assert_eq!(barred.msisdn.as_deref(), Some("819012345678"));
        assert!(!replay(&ops(&["provision", "bar", "unbar"]))
            .unwrap()
            .is_barred());
        assert_eq!(replay(&ops(&["provision", "bar", "deprovision"])), None);
        // Data alone: voice and SMS stay as they were.
        let no_data = replay(&ops(&["provision", "bar_data"])).unwrap();
        assert!(!no_data.ps_enabled && no_data.cs_enabled);
        assert!(
            replay(&ops(&["provision", "bar_data", "unbar_data"]))
                .unwrap()
                .ps_enabled
        );
        // Barring a subscriber that was never provisioned leaves nothing.
        assert_eq!(replay(&ops(&["bar"])), None);
    }
}
