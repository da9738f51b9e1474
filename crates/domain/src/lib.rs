//! simdesk's pure domain: what the system decides, with no I/O, no async and no SQL.
//!
//! Services at the edge load state, ask these types to decide, and persist the decision.

pub mod attribution;
pub mod balance;
pub mod calendar;
pub mod cancellation;
pub mod customer;
pub mod esim;
pub mod identity;
pub mod ids;
pub mod keyword;
pub mod limits;
pub mod line;
pub mod money;
pub mod policy;
pub mod refund;
pub mod retention;
pub mod usage;
pub mod validity;
pub mod wallet;

#[cfg(test)]
mod fuzz;
