//! Ports to the world outside simdesk, and the implementations this release ships.

pub mod documents;
pub mod email;
pub mod hlr;
pub mod messages;
pub mod network;
pub mod payouts;
pub mod smdp;
pub mod sms;

/// Why a peer did not do what was asked. The outbox retries the first kind with backoff and parks
/// the second at once: asking again cannot help, an operator must look.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer could not be reached or was busy; the same call may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// The peer understood and refused; the same call will be refused again.
    #[error("{0}")]
    Refused(String),
}

impl PeerError {
    /// Whether retrying the same call cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, PeerError::Refused(_))
    }
}

impl From<crate::store::StoreError> for PeerError {
    fn from(e: crate::store::StoreError) -> Self {
        PeerError::Unavailable(e.to_string())
    }
}
