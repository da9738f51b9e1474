//! Ports to the world outside simdesk, and the implementations this release ships.

pub mod documents;
pub mod messages;
pub mod network;
pub mod payouts;
