//! Real peers started on loopback for a test: OsmoHLR, Kannel with a fake SMSC, an SMTP mailbox.
//! A missing program fails the test with the command that installs it.

pub mod hlr;
pub mod kannel;
pub mod smdp;
pub mod smtp;
