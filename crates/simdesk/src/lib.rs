//! simdesk: the operator-side system for short-term prepaid SIM cards and eSIMs for travellers.

pub mod adapters;
pub mod app;
pub mod audit;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod examples;
pub mod gy;
pub mod i18n;
pub mod keys;
pub mod messages;
pub mod node;
pub mod peers;
pub mod receipts;
pub mod services;
pub mod store;
pub mod vault;
pub mod web;

pub use simdesk_domain as domain;
