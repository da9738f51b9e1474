//! Delivering the outbox: each side effect once per idempotency key, retried with backoff, and
//! parked as dead after too many failures or a refusal that retrying cannot change.

use super::effects::{NetworkOp, OutboxKind};
use super::{notify, ServiceResult};
use crate::adapters::email::Mailer;
use crate::adapters::network::Network;
use crate::adapters::payouts::Payouts;
use crate::adapters::smdp::Es2Plus;
use crate::adapters::sms::SmsGateway;
use crate::adapters::PeerError;
use crate::store::{OutboxMessage, OutboxRow, Store};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::sync::Arc;

/// Attempts before a customer message or payout is parked as dead for an operator to look at.
pub const MAX_ATTEMPTS: i64 = 10;
/// Network calls keep trying for about a day (backoff tops out at an hour): an HLR outage delays
/// provisioning, it must not need an operator to revive every call afterwards.
pub const MAX_NETWORK_ATTEMPTS: i64 = 30;
/// How long a worker holds a claimed row before another may take it over.
const LEASE: SignedDuration = SignedDuration::from_secs(30);
/// A worker starts no delivery later than this into its lease, so every delivery it starts ends
/// (peers' calls are bounded by their timeouts, 10 s at most by default) before the lease lapses
/// and another worker could take the same row.
const START_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);
/// Rows claimed at a time: few, so a worker that dies strands little behind its leases.
const CLAIM: i64 = 10;

/// The peers the outbox delivers to, and where travellers reach simdesk for links in messages.
#[derive(Clone)]
pub struct Peers {
    pub network: Arc<dyn Network>,
    pub payouts: Arc<dyn Payouts>,
    pub sms: Arc<dyn SmsGateway>,
    pub mail: Arc<dyn Mailer>,
    /// The operator's SM-DP+ (ES2+); without `[smdp]` eSIM calls wait in the outbox.
    pub smdp: Option<Arc<dyn Es2Plus>>,
    /// Base URL of the portal (no trailing slash), for links in messages.
    pub public_url: String,
}

impl Peers {
    /// Peers that record instead of calling anything: the network journal, payouts marked as
    /// sent, messages kept in memory.
    pub fn recording(store: Arc<dyn Store>, public_url: &str) -> Peers {
        let messages = Arc::new(crate::adapters::messages::RecordingMessages::default());
        Peers {
            network: Arc::new(crate::adapters::network::RecordingNetwork::new(
                store.clone(),
            )),
            payouts: Arc::new(crate::adapters::payouts::RecordingPayouts::new(store)),
            sms: messages.clone(),
            mail: messages,
            smdp: None,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }
}

/// Every kind the outbox delivers.
pub const DELIVERED_KINDS: [&str; OutboxKind::ALL.len()] = {
    let mut kinds = [""; OutboxKind::ALL.len()];
    let mut i = 0;
    while i < kinds.len() {
        kinds[i] = OutboxKind::ALL[i].as_str();
        i += 1;
    }
    kinds
};

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

fn max_attempts(kind: &str) -> i64 {
    match kind.parse() {
        Ok(OutboxKind::Network(_)) => MAX_NETWORK_ATTEMPTS,
        _ => MAX_ATTEMPTS,
    }
}

pub async fn deliver(
    store: &dyn Store,
    peers: &Peers,
    now: Timestamp,
) -> ServiceResult<DeliveryReport> {
    if peers.smdp.is_some() {
        return deliver_kinds(store, peers, &DELIVERED_KINDS, now).await;
    }
    // Without an SM-DP+ to call, eSIM calls are left waiting (not failed): they go out as
    // they are once `[smdp]` is set.
    let kinds: Vec<&str> = DELIVERED_KINDS
        .into_iter()
        .filter(|k| !matches!(k.parse(), Ok(OutboxKind::Esim(_))))
        .collect();
    deliver_kinds(store, peers, &kinds, now).await
}

/// Why eSIM calls are not going out, when they are not.
pub const ESIM_CALLS_WAIT: &str = "eSIM calls wait in the outbox until the SM-DP+ is configured: \
     set [smdp] url, certificate, key and requester_id (see the README), then restart simdesk";

/// Delivers what is due of some kinds only.
pub async fn deliver_kinds(
    store: &dyn Store,
    peers: &Peers,
    kinds: &[&str],
    now: Timestamp,
) -> ServiceResult<DeliveryReport> {
    let mut report = DeliveryReport::default();
    loop {
        // Leases run on the real clock: a worker that died holding one must not block delivery
        // for as long as simdesk's own clock (moved with --now) takes to pass it.
        let wall = Timestamp::now();
        let rows = store
            .claim_outbox(kinds, now, wall, wall + LEASE, CLAIM)
            .await?;
        if rows.is_empty() {
            break;
        }
        let claimed = std::time::Instant::now();
        let mut progressed = false;
        for row in rows {
            // The rest stay leased and untouched; they go out once the lease lapses.
            if claimed.elapsed() > START_WITHIN {
                break;
            }
            match deliver_one(store, peers, &row, now).await {
                Ok(Delivered::Done) => {
                    store.outbox_done(row.id, now).await?;
                    metrics::counter!("simdesk_outbox_delivered_total", "kind" => row.kind.clone())
                        .increment(1);
                    report.delivered += 1;
                    progressed = true;
                }
                Ok(Delivered::FannedOut(messages)) => {
                    store.outbox_fan_out(row.id, &messages, now).await?;
                    metrics::counter!("simdesk_outbox_delivered_total", "kind" => row.kind.clone())
                        .increment(1);
                    report.delivered += 1;
                    progressed = true;
                }
                Err(error) if error.is_permanent() || row.attempts >= max_attempts(&row.kind) => {
                    tracing::error!(kind = %row.kind, key = %row.idempotency_key, %error, attempts = row.attempts, "outbox message is dead");
                    metrics::counter!("simdesk_outbox_failures_total", "kind" => row.kind.clone())
                        .increment(1);
                    store
                        .outbox_failed(row.id, &error.to_string(), None)
                        .await?;
                    report.dead += 1;
                }
                Err(error) => {
                    tracing::warn!(kind = %row.kind, key = %row.idempotency_key, %error, "delivery failed; will retry");
                    metrics::counter!("simdesk_outbox_failures_total", "kind" => row.kind.clone())
                        .increment(1);
                    store
                        .outbox_failed(
                            row.id,
                            &error.to_string(),
                            Some(now + backoff(row.attempts)),
                        )
                        .await?;
                    report.retried += 1;
                }
            }
        }
        // Rows fanned out just now are due at once; anything else failing waits for its backoff.
        if !progressed {
            break;
        }
    }
    Ok(report)
}

/// What delivering one row came to.
pub(super) enum Delivered {
    Done,
    /// The row became these rows (a notification becomes one message per channel).
    FannedOut(Vec<OutboxMessage>),
}

async fn deliver_one(
    store: &dyn Store,
    peers: &Peers,
    row: &OutboxRow,
    now: Timestamp,
) -> Result<Delivered, PeerError> {
    let text = |field: &str| {
        row.payload
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let key = &row.idempotency_key;
    let (imsi, msisdn) = (text("imsi"), text("msisdn"));
    let kind: OutboxKind = row
        .kind
        .parse()
        .map_err(|_| PeerError::Refused(format!("no delivery for outbox kind {}", row.kind)))?;
    match kind {
        OutboxKind::Network(NetworkOp::Provision) => {
            peers.network.provision(key, &imsi, &msisdn).await?
        }
        OutboxKind::Network(NetworkOp::Bar) => peers.network.bar(key, &imsi, &msisdn).await?,
        OutboxKind::Network(NetworkOp::Unbar) => peers.network.unbar(key, &imsi, &msisdn).await?,
        OutboxKind::Network(NetworkOp::BarData) => {
            peers.network.bar_data(key, &imsi, &msisdn).await?
        }
        OutboxKind::Network(NetworkOp::UnbarData) => {
            peers.network.unbar_data(key, &imsi, &msisdn).await?
        }
        OutboxKind::Network(NetworkOp::Deprovision) => {
            peers.network.deprovision(key, &imsi, &msisdn).await?
        }
        OutboxKind::Payout => {
            let amount = row
                .payload
                .get("amount")
                .and_then(|v| v.as_i64())
                .unwrap_or_default();
            let currency = text("currency");
            let reference = peers
                .payouts
                .send(key, &text("destination"), amount, &currency)
                .await?;
            return Ok(Delivered::FannedOut(notify::payout_sent(
                row, &reference, amount, &currency, now,
            )));
        }
        OutboxKind::Notify => {
            return notify::fan_out(store, row, now)
                .await
                .map(Delivered::FannedOut)
        }
        OutboxKind::Sms => {
            notify::send_sms(store, peers.sms.as_ref(), &peers.public_url, row).await?
        }
        OutboxKind::Email => {
            notify::send_email(store, peers.mail.as_ref(), &peers.public_url, row).await?
        }
        OutboxKind::Esim(call) => {
            let smdp = peers
                .smdp
                .as_ref()
                .ok_or_else(|| PeerError::Unavailable(ESIM_CALLS_WAIT.into()))?;
            super::esim::delivery::deliver(store, smdp.as_ref(), row, call, now).await?
        }
    }
    Ok(Delivered::Done)
}
