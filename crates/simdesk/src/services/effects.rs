//! The side effects a change to a line brings, as outbox rows queued with the change itself.

use crate::store::OutboxMessage;
use jiff::Timestamp;
use serde_json::{json, Value};
use simdesk_domain::line::Line;

/// A call to the network's subscriber database about `line`. `occasion` keeps keys of the same
/// operation on different occasions apart (a line may be barred at expiry and again later).
pub fn network(op: &str, occasion: &str, line: &Line, at: Timestamp) -> OutboxMessage {
    OutboxMessage {
        kind: format!("network.{op}"),
        idempotency_key: format!("network:{op}:{occasion}:{}", line.id),
        payload: json!({ "imsi": line.imsi.as_str(), "msisdn": line.msisdn.as_str() }),
        available_at: at,
    }
}

/// A message to the line's holder (`customer` 0: the holder the same change registers).
pub fn notice(
    event: &str,
    occasion: &str,
    line: &Line,
    customer: i64,
    language: &str,
    params: Value,
    at: Timestamp,
) -> OutboxMessage {
    OutboxMessage {
        kind: "notify".into(),
        idempotency_key: format!("notify:{event}:{occasion}:{}", line.id),
        payload: json!({ "event": event, "language": language, "customer": customer,
            "msisdn": line.msisdn.as_str(), "params": params }),
        available_at: at,
    }
}
