//! Online charging: simdesk as the Diameter credit-control server of the network's Gy
//! interface (RFC 4006 as 3GPP TS 32.299 uses it). This is the protocol layer only — the
//! connections, the base protocol's housekeeping and the translation of CCRs and CCAs; what
//! to grant is decided behind the [`CreditControl`] trait, so the two can be built and tested
//! apart and plugged together in `app.rs`.
//!
//! - `types.rs`: the plain request, answer and trait — the boundary.
//! - `settings.rs`: the `[gy]` settings section.
//! - `server.rs`: the TCP server, one task per peer connection.
//! - `base.rs`: capabilities exchange, watchdog and disconnect (RFC 6733).
//! - `codec.rs`: CCR to [`CreditRequest`], [`CreditAnswer`] to CCA, and refusals.
//! - `wire.rs`: framing, and the checks that run before the `diameter` crate decodes.
//! - `dictionary.rs`, `avp.rs`: the AVPs and the numbers, named once.

pub mod avp;
pub mod base;
pub mod codec;
pub mod dictionary;
pub mod server;
pub mod settings;
pub mod types;
pub mod wire;

pub use server::serve;
pub use settings::GySettings;
pub use types::{
    CreditAnswer, CreditControl, CreditRequest, NoCreditControl, Outcome, RequestType,
    ServiceGrant, ServiceUsage, Subscriber, Units,
};

use diameter::dictionary::Dictionary;
use std::sync::Arc;

/// Who simdesk is on the Diameter link, as every message it sends says, and the dictionary it
/// builds them with. Made once per server.
#[derive(Debug, Clone)]
pub struct Local {
    pub origin_host: String,
    pub origin_realm: String,
    /// `Origin-State-Id`: the second this server started, so it grows with every restart and
    /// peers can tell that sessions held before it are gone.
    pub state_id: u32,
    /// The `Validity-Time` of grants that do not name their own.
    pub validity_secs: u32,
    pub dict: Arc<Dictionary>,
}

impl Local {
    pub fn new(settings: &GySettings) -> Local {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        Local {
            origin_host: settings.origin_host.clone(),
            origin_realm: settings.origin_realm.clone(),
            state_id: started,
            validity_secs: settings.validity_secs,
            dict: dictionary::dictionary(),
        }
    }
}
