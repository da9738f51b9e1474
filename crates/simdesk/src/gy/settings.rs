//! The `[gy]` section of the settings: where simdesk listens as a Diameter credit-control
//! server and who it says it is. Without the section, simdesk opens no Diameter port.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// How simdesk serves online charging (Diameter Gy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GySettings {
    /// The TCP address the network's charging clients (the PGW/PCEF) connect to; Diameter's
    /// port is 3868.
    pub listen: SocketAddr,
    /// simdesk's Diameter identity (`Origin-Host`), e.g. `ocs.sim.example.jp`; the clients are
    /// usually configured with it.
    pub origin_host: String,
    /// simdesk's realm (`Origin-Realm`), e.g. `sim.example.jp`.
    pub origin_realm: String,
    /// After this many seconds without a message from a peer simdesk sends it a
    /// Device-Watchdog-Request, and closes the connection when this long passes again without an
    /// answer (RFC 3539's Tw, 30 s by default). A peer that has not sent its
    /// Capabilities-Exchange-Request this long after connecting is dropped too.
    #[serde(default = "default_watchdog_secs")]
    pub watchdog_secs: u64,
    /// The `Validity-Time` put in grants that do not name their own: how long a quota may be
    /// used before the network must report. The charging side also reaps a session silent for
    /// this long. 900 s by default.
    #[serde(default = "default_validity_secs")]
    pub validity_secs: u32,
}

fn default_watchdog_secs() -> u64 {
    30
}

fn default_validity_secs() -> u32 {
    900
}

impl GySettings {
    /// Settings with the defaults for everything but the address and identity.
    pub fn new(listen: SocketAddr, origin_host: &str, origin_realm: &str) -> GySettings {
        GySettings {
            listen,
            origin_host: origin_host.to_string(),
            origin_realm: origin_realm.to_string(),
            watchdog_secs: default_watchdog_secs(),
            validity_secs: default_validity_secs(),
        }
    }

    /// The watchdog interval, at least a second.
    pub fn watchdog(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.watchdog_secs.max(1))
    }
}
