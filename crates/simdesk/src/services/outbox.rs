//! Delivering the outbox: each side effect once per idempotency key, retried with backoff, and
//! parked as dead after too many failures.

use super::ServiceResult;
use crate::adapters::network::Network;
use crate::adapters::payouts::Payouts;
use crate::store::{OutboxRow, Store};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::sync::Arc;

/// Attempts before a message is parked as dead for an operator to look at.
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a worker holds a claimed row before another may take it over.
const LEASE: SignedDuration = SignedDuration::from_secs(30);

/// The peers the outbox delivers to.
#[derive(Clone)]
pub struct Peers {
    pub network: Arc<dyn Network>,
    pub payouts: Arc<dyn Payouts>,
}

/// Kinds this release delivers. Customer notifications wait in the outbox for the messaging
/// adapters (SMS, e-mail), which deliver them from the same rows.
pub const DELIVERED_KINDS: [&str; 4] = [
    "network.bar",
    "network.unbar",
    "network.deprovision",
    "payout",
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

fn backoff(attempts: i64) -> SignedDuration {
    let secs = 10i64.saturating_mul(1 << attempts.clamp(0, 9));
    SignedDuration::from_secs(secs.min(3600))
}

pub async fn deliver(
    store: &dyn Store,
    peers: &Peers,
    now: Timestamp,
) -> ServiceResult<DeliveryReport> {
    let mut report = DeliveryReport::default();
    loop {
        // Leases run on the real clock: a worker that died holding one must not block delivery
        // for as long as simdesk's own clock (moved with --now) takes to pass it.
        let wall = Timestamp::now();
        let rows = store
            .claim_outbox(&DELIVERED_KINDS, now, wall, wall + LEASE, 100)
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            match deliver_one(peers, &row).await {
                Ok(()) => {
                    store.outbox_done(row.id, now).await?;
                    report.delivered += 1;
                }
                Err(error) if row.attempts >= MAX_ATTEMPTS => {
                    tracing::error!(kind = %row.kind, key = %row.idempotency_key, %error, "outbox message is dead after {} attempts", row.attempts);
                    store.outbox_failed(row.id, &error, None).await?;
                    report.dead += 1;
                }
                Err(error) => {
                    tracing::warn!(kind = %row.kind, key = %row.idempotency_key, %error, "delivery failed; will retry");
                    store
                        .outbox_failed(row.id, &error, Some(now + backoff(row.attempts)))
                        .await?;
                    report.retried += 1;
                }
            }
        }
    }
    Ok(report)
}

async fn deliver_one(peers: &Peers, row: &OutboxRow) -> Result<(), String> {
    let text = |field: &str| {
        row.payload
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let key = &row.idempotency_key;
    let result = match row.kind.as_str() {
        "network.bar" => peers
            .network
            .bar(key, &text("imsi"), &text("msisdn"))
            .await
            .map_err(|e| e.to_string()),
        "network.unbar" => peers
            .network
            .unbar(key, &text("imsi"), &text("msisdn"))
            .await
            .map_err(|e| e.to_string()),
        "network.deprovision" => peers
            .network
            .deprovision(key, &text("imsi"), &text("msisdn"))
            .await
            .map_err(|e| e.to_string()),
        "payout" => {
            let amount = row
                .payload
                .get("amount")
                .and_then(|v| v.as_i64())
                .unwrap_or_default();
            peers
                .payouts
                .send(key, &text("destination"), amount, &text("currency"))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        other => Err(format!("no delivery for outbox kind {other}")),
    };
    result
}
