//! Online charging: simdesk as the Diameter credit-control server of the network's Gy
//! interface (RFC 4006 as 3GPP TS 32.299 uses it).
//!
//! - `wire.rs`: framing, and the checks that run before the `diameter` crate decodes.
//! - `dictionary.rs`, `avp.rs`: the AVPs and the numbers, named once.

pub mod avp;
pub mod dictionary;
pub mod wire;
