//! A test SM-DP+ speaking the ES2+ interface of GSMA SGP.22 (v2.x), for simdesk's tests and demo.
//!
//! It is its own program so that nothing here is ever linked into the `simdesk` binary: simdesk
//! talks to it over HTTPS with mutual TLS exactly as it would to a real SM-DP+.

pub mod certs;
pub mod es2p;
pub mod notify;
pub mod server;
pub mod store;
pub mod tls;

pub use server::{start, Running, ServeOptions};
