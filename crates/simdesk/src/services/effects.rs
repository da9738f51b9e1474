//! Every side effect simdesk queues, and the one place it becomes an outbox row (kind, key, payload).
//!
//! Idempotency keys are part of the stored contract: rows already queued must still be delivered
//! and deduplicated after an upgrade, and the store finds some rows by their key's prefix
//! (`notify:validity_reminder:<end µs>:<line>`, `notify:data_erased:<customer>:`). Each key is
//! built here once, from the effect's occasion, and never patched afterwards.

use crate::messages::Event;
use crate::store::OutboxMessage;
use jiff::Timestamp;
use serde_json::{json, Map, Value};
use simdesk_domain::ids::{CustomerId, LineId, RequestId};
use simdesk_domain::line::Line;
use simdesk_domain::money::Money;
use std::fmt;
use std::str::FromStr;

/// What the network's subscriber database is asked to do with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkOp {
    Provision,
    Bar,
    Unbar,
    Deprovision,
    /// Data alone stopped (voice and SMS go on): nothing is left to pay for it.
    BarData,
    /// Data allowed again after a top-up or a data pack.
    UnbarData,
}

impl NetworkOp {
    pub const ALL: [NetworkOp; 6] = [
        NetworkOp::Provision,
        NetworkOp::Bar,
        NetworkOp::Unbar,
        NetworkOp::Deprovision,
        NetworkOp::BarData,
        NetworkOp::UnbarData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NetworkOp::Provision => "provision",
            NetworkOp::Bar => "bar",
            NetworkOp::Unbar => "unbar",
            NetworkOp::Deprovision => "deprovision",
            NetworkOp::BarData => "bar_data",
            NetworkOp::UnbarData => "unbar_data",
        }
    }
}

impl fmt::Display for NetworkOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of simdesk's network operations or outbox kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownKind {
    what: &'static str,
    name: String,
}

impl FromStr for NetworkOp {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NetworkOp::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| UnknownKind {
                what: "network operation",
                name: s.chars().take(64).collect(),
            })
    }
}

/// What simdesk asks the operator's SM-DP+ about an eSIM line's profile (ES2+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EsimCall {
    /// DownloadOrder then ConfirmOrder with `releaseFlag`: the profile is reserved for the line
    /// and downloadable; the answer carries the activation code.
    Order,
    /// CancelOrder: an order nobody downloaded is withdrawn.
    Cancel,
}

impl EsimCall {
    pub const ALL: [EsimCall; 2] = [EsimCall::Order, EsimCall::Cancel];

    pub fn as_str(self) -> &'static str {
        match self {
            EsimCall::Order => "order",
            EsimCall::Cancel => "cancel",
        }
    }
}

/// The kinds of row the outbox holds, each delivered by one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    Network(NetworkOp),
    Payout,
    /// What happened to whom; delivering it fans it out into one `Sms` and one `Email` row.
    Notify,
    Sms,
    Email,
    Esim(EsimCall),
}

impl OutboxKind {
    pub const ALL: [OutboxKind; 12] = [
        OutboxKind::Network(NetworkOp::Provision),
        OutboxKind::Network(NetworkOp::Bar),
        OutboxKind::Network(NetworkOp::Unbar),
        OutboxKind::Network(NetworkOp::Deprovision),
        OutboxKind::Network(NetworkOp::BarData),
        OutboxKind::Network(NetworkOp::UnbarData),
        OutboxKind::Payout,
        OutboxKind::Notify,
        OutboxKind::Sms,
        OutboxKind::Email,
        OutboxKind::Esim(EsimCall::Order),
        OutboxKind::Esim(EsimCall::Cancel),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Network(NetworkOp::Provision) => "network.provision",
            OutboxKind::Network(NetworkOp::Bar) => "network.bar",
            OutboxKind::Network(NetworkOp::Unbar) => "network.unbar",
            OutboxKind::Network(NetworkOp::Deprovision) => "network.deprovision",
            OutboxKind::Network(NetworkOp::BarData) => "network.bar_data",
            OutboxKind::Network(NetworkOp::UnbarData) => "network.unbar_data",
            OutboxKind::Payout => "payout",
            OutboxKind::Notify => "notify",
            OutboxKind::Sms => "sms",
            OutboxKind::Email => "email",
            OutboxKind::Esim(EsimCall::Order) => "esim.order",
            OutboxKind::Esim(EsimCall::Cancel) => "esim.cancel",
        }
    }
}

impl fmt::Display for OutboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutboxKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutboxKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind {
                what: "outbox kind",
                name: s.chars().take(64).collect(),
            })
    }
}

/// What a side effect is about; it keeps the effect's key apart from every other one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occasion {
    /// Something that happened to a line; `occasion` keeps the same effect on different
    /// occasions apart (a line may be barred at expiry and again later).
    Line { occasion: String, line: LineId },
    /// A step of a cancellation request that has an id.
    Request(RequestId),
    /// A step taken in the very change that opens a request, which has no id yet: keyed on the
    /// line and the instant instead.
    Opening { line: LineId, at: Timestamp },
    /// A request arriving for a line at an instant.
    Arrival { line: LineId, at: Timestamp },
    /// What follows the delivery of another outbox row, keyed on that row.
    After(String),
}

impl Occasion {
    /// A line's occasion, for effects of line changes, expiry, reconciliation and erasure.
    pub fn line(occasion: impl Into<String>, line: &Line) -> Occasion {
        Occasion::Line {
            occasion: occasion.into(),
            line: line.id,
        }
    }

    /// The request id a payload carries, for effects of a request's steps.
    fn request(&self) -> Option<i64> {
        match self {
            Occasion::Request(id) => Some(id.get()),
            Occasion::Opening { .. } => Some(0),
            _ => None,
        }
    }

    /// The key `<prefix>:<what>:…`; a request's notifications also name the customer.
    fn key(&self, prefix: &str, what: &str, customer: Option<CustomerId>) -> String {
        match (self, customer) {
            (Occasion::Line { occasion, line }, _) => format!("{prefix}:{what}:{occasion}:{line}"),
            (Occasion::Request(id), Some(customer)) => format!("{prefix}:{what}:{id}:{customer}"),
            (Occasion::Request(id), None) => format!("{prefix}:{what}:{id}"),
            (Occasion::Opening { line, at }, Some(customer)) => format!(
                "{prefix}:{what}:0:{customer}@line{line}:{}",
                at.as_microsecond()
            ),
            (Occasion::Opening { line, at }, None) => {
                format!("{prefix}:{what}:0@line{line}:{}", at.as_microsecond())
            }
            (Occasion::Arrival { line, at }, _) => {
                format!("{prefix}:{what}:{line}:{}", at.as_microsecond())
            }
            (Occasion::After(key), _) => format!("{prefix}:{what}:{key}"),
        }
    }
}

/// A side effect, queued in the same transaction as the decision that brings it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A call to the network's subscriber database about a line.
    Network {
        op: NetworkOp,
        occasion: Occasion,
        imsi: String,
        msisdn: String,
    },
    /// Telling a traveller what happened. `customer` 0 is the holder the same change registers;
    /// `language` and `msisdn`, when absent, are looked up when the notification is fanned out.
    Notify {
        event: Event,
        occasion: Occasion,
        customer: Option<CustomerId>,
        language: Option<String>,
        msisdn: Option<String>,
        params: Value,
    },
    /// Wallet money paid out to a card or bank reference; `key` is the caller's.
    Payout {
        key: String,
        customer: CustomerId,
        destination: String,
        amount: Money,
    },
    /// One channel of a fanned-out notification: keyed on the notification's row.
    Sms {
        notice_key: String,
        payload: Value,
    },
    Email {
        notice_key: String,
        payload: Value,
    },
    /// An ES2+ call about the line's profile. The payload names the profile, never its
    /// activation code: that comes back in the answer and is sealed at once.
    Esim {
        call: EsimCall,
        occasion: Occasion,
        line: LineId,
        iccid: String,
        eid: Option<String>,
        /// For CancelOrder: `available` or `unavailable`, as the policy says.
        final_status: Option<String>,
    },
}

impl Effect {
    /// A network call about `line` on a line's occasion or a request's step.
    pub fn network(op: NetworkOp, occasion: Occasion, line: &Line) -> Effect {
        Effect::Network {
            op,
            occasion,
            imsi: line.imsi.as_str().to_string(),
            msisdn: line.msisdn.as_str().to_string(),
        }
    }

    /// A message to `line`'s holder about `event`.
    pub fn notify(
        event: Event,
        occasion: Occasion,
        line: &Line,
        customer: CustomerId,
        language: &str,
        params: Value,
    ) -> Effect {
        Effect::Notify {
            event,
            occasion,
            customer: Some(customer),
            language: Some(language.to_string()),
            msisdn: Some(line.msisdn.as_str().to_string()),
            params,
        }
    }

    /// The outbox kind the effect is delivered as.
    pub fn kind(&self) -> OutboxKind {
        match self {
            Effect::Network { op, .. } => OutboxKind::Network(*op),
            Effect::Notify { .. } => OutboxKind::Notify,
            Effect::Payout { .. } => OutboxKind::Payout,
            Effect::Sms { .. } => OutboxKind::Sms,
            Effect::Email { .. } => OutboxKind::Email,
            Effect::Esim { call, .. } => OutboxKind::Esim(*call),
        }
    }

    /// The outbox row that carries the effect, available from `at`.
    pub fn queue(self, at: Timestamp) -> OutboxMessage {
        let kind = self.kind().as_str().to_string();
        let (idempotency_key, payload) = match self {
            Effect::Network {
                op,
                occasion,
                imsi,
                msisdn,
            } => {
                let mut payload = json!({ "imsi": imsi, "msisdn": msisdn });
                if let Some(request) = occasion.request() {
                    payload["request"] = request.into();
                }
                (occasion.key("network", op.as_str(), None), payload)
            }
            Effect::Notify {
                event,
                occasion,
                customer,
                language,
                msisdn,
                params,
            } => {
                let mut payload = Map::new();
                payload.insert("event".into(), event.as_str().into());
                if let Some(language) = language {
                    payload.insert("language".into(), language.into());
                }
                payload.insert("customer".into(), json!(customer));
                if let Some(msisdn) = msisdn {
                    payload.insert("msisdn".into(), msisdn.into());
                }
                if let Some(request) = occasion.request() {
                    payload.insert("request".into(), request.into());
                }
                payload.insert("params".into(), params);
                (
                    occasion.key("notify", event.as_str(), Some(customer.unwrap_or_default())),
                    Value::Object(payload),
                )
            }
            Effect::Payout {
                key,
                customer,
                destination,
                amount,
            } => (
                format!("payout:{key}"),
                json!({ "destination": destination, "amount": amount.minor(),
                    "currency": amount.currency().code(), "customer": customer }),
            ),
            Effect::Sms {
                notice_key,
                payload,
            } => (format!("{notice_key}:sms"), payload),
            Effect::Email {
                notice_key,
                payload,
            } => (format!("{notice_key}:email"), payload),
            Effect::Esim {
                call,
                occasion,
                line,
                iccid,
                eid,
                final_status,
            } => {
                let mut payload = json!({ "line": line.get(), "iccid": iccid });
                if let Some(eid) = eid {
                    payload["eid"] = eid.into();
                }
                if let Some(status) = final_status {
                    payload["final_status"] = status.into();
                }
                if let Some(request) = occasion.request() {
                    payload["request"] = request.into();
                }
                (occasion.key("esim", call.as_str(), None), payload)
            }
        };
        OutboxMessage {
            kind,
            idempotency_key,
            payload,
            available_at: at,
        }
    }
}

/// A call to the network's subscriber database about `line` on one of its occasions.
pub fn network(op: NetworkOp, occasion: &str, line: &Line, at: Timestamp) -> OutboxMessage {
    Effect::network(op, Occasion::line(occasion, line), line).queue(at)
}

/// A message to the line's holder (`customer` 0: the holder the same change registers).
pub fn notice(
    event: Event,
    occasion: &str,
    line: &Line,
    customer: CustomerId,
    language: &str,
    params: Value,
    at: Timestamp,
) -> OutboxMessage {
    Effect::notify(
        event,
        Occasion::line(occasion, line),
        line,
        customer,
        language,
        params,
    )
    .queue(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use simdesk_domain::line::{LineKind, LineState};
    use simdesk_domain::money::Currency;

    fn line() -> Line {
        Line {
            id: LineId::new(42),
            iccid: simdesk_domain::ids::Iccid::from_body("898110000000000001").unwrap(),
            imsi: "440101234567890".parse().unwrap(),
            msisdn: "09012345678".parse().unwrap(),
            carrier: "EX".into(),
            plan: "P".into(),
            kind: LineKind::Physical,
            eid: None,
            state: LineState::Active,
            holder: Some(CustomerId::new(9)),
            activated_at: None,
            validity_ends_at: None,
            grace_ends_at: None,
            state_before_pending: None,
            ended_at: None,
            version: 0,
        }
    }

    fn at() -> Timestamp {
        Timestamp::from_microsecond(1_700_000_000_123_456).unwrap()
    }

    #[test]
    fn keys_stay_what_rows_already_queued_carry() {
        let l = line();
        let key = |e: Effect| e.queue(at()).idempotency_key;
        assert_eq!(
            key(Effect::network(
                NetworkOp::Bar,
                Occasion::line("expired", &l),
                &l
            )),
            "network:bar:expired:42"
        );
        assert_eq!(
            key(Effect::network(
                NetworkOp::Deprovision,
                Occasion::Request(RequestId::new(7)),
                &l
            )),
            "network:deprovision:7"
        );
        assert_eq!(
            key(Effect::network(
                NetworkOp::Bar,
                Occasion::Opening {
                    line: LineId::new(42),
                    at: at()
                },
                &l
            )),
            "network:bar:0@line42:1700000000123456"
        );
        let notify = |occasion| {
            Effect::notify(
                Event::CancellationApproved,
                occasion,
                &l,
                CustomerId::new(9),
                "ja",
                json!({}),
            )
        };
        assert_eq!(
            key(notify(Occasion::Request(RequestId::new(7)))),
            "notify:cancellation_approved:7:9"
        );
        assert_eq!(
            key(notify(Occasion::Opening {
                line: LineId::new(42),
                at: at()
            })),
            "notify:cancellation_approved:0:9@line42:1700000000123456"
        );
        assert_eq!(
            key(Effect::notify(
                Event::CancellationReceived,
                Occasion::Arrival {
                    line: LineId::new(42),
                    at: at()
                },
                &l,
                CustomerId::new(9),
                "en",
                json!({})
            )),
            "notify:cancellation_received:42:1700000000123456"
        );
        assert_eq!(
            key(Effect::notify(
                Event::ValidityReminder,
                Occasion::line("1700000000000000", &l),
                &l,
                CustomerId::new(9),
                "en",
                json!({})
            )),
            "notify:validity_reminder:1700000000000000:42"
        );
        assert_eq!(
            key(Effect::Payout {
                key: "abc".into(),
                customer: CustomerId::new(9),
                destination: "card".into(),
                amount: Money::new(100, Currency::Jpy),
            }),
            "payout:abc"
        );
        assert_eq!(
            key(Effect::Sms {
                notice_key: "notify:expired:validity:42".into(),
                payload: json!({})
            }),
            "notify:expired:validity:42:sms"
        );
    }

    #[test]
    fn every_kind_reads_back() {
        for kind in OutboxKind::ALL {
            assert_eq!(kind.as_str().parse::<OutboxKind>(), Ok(kind));
        }
        assert!("network.reboot".parse::<OutboxKind>().is_err());
    }

    #[test]
    fn request_steps_carry_the_request() {
        let l = line();
        let row = Effect::notify(
            Event::CancellationRejected,
            Occasion::Request(RequestId::new(7)),
            &l,
            CustomerId::new(9),
            "ko",
            json!({ "reason": "r" }),
        )
        .queue(at());
        assert_eq!(row.kind, "notify");
        assert_eq!(row.payload["request"], 7);
        assert_eq!(row.payload["language"], "ko");
        assert_eq!(row.payload["params"]["reason"], "r");
        let row = Effect::network(NetworkOp::Bar, Occasion::line("expired", &l), &l).queue(at());
        assert_eq!(row.kind, "network.bar");
        assert!(row.payload.get("request").is_none());
    }
}
