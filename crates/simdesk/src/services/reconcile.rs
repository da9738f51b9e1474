//! Comparing what the network's subscriber database holds with what simdesk knows, and
//! putting right what disagrees.

use super::outbox::{self, Peers};
use super::policies::PolicyBook;
use super::{effects, ServiceError, ServiceResult};
use crate::adapters::network::Subscriber;
use crate::store::Store;
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::ids::CarrierCode;
use simdesk_domain::line::{Line, LineState};

/// What the network should hold for a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    Absent,
    InService,
    Barred,
    /// Active, with data stopped for want of balance: voice and SMS on, data off.
    DataBarred,
}

/// What the network holds for a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    Absent,
    InService {
        msisdn: Option<String>,
    },
    Barred {
        msisdn: Option<String>,
    },
    /// Voice and SMS allowed, data not.
    DataBarred {
        msisdn: Option<String>,
    },
    /// Some services allowed and others not: neither in service nor barred.
    Partial {
        msisdn: Option<String>,
    },
}

/// One line on which the network and simdesk disagree.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub iccid: String,
    pub imsi: String,
    pub msisdn: String,
    pub carrier: CarrierCode,
    pub state: String,
    pub expected: Expected,
    pub found: Found,
    /// The calls that put it right, in order; empty while earlier calls still wait in the
    /// outbox (they will settle it).
    pub fix: Vec<String>,
    pub waiting_in_outbox: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ReconcileReport {
    pub checked: u64,
    pub disagreements: Vec<Disagreement>,
    /// Corrective calls queued and delivered now.
    pub fixed: u64,
    /// Corrective calls queued but not delivered yet (the network refused or went away).
    pub left_in_outbox: u64,
}

/// The states whose lines are checked by default. Stock lines are checked only when asked: there
/// are many, and none should be on the network.
const CHECKED: [LineState; 6] = [
    LineState::Registered,
    LineState::Active,
    LineState::Expired,
    LineState::PendingTermination,
    LineState::Terminated,
    LineState::Closed,
];

fn expected(book: &PolicyBook, line: &Line, data_barred: bool) -> Expected {
    match line.state {
        LineState::Active if data_barred => Expected::DataBarred,
        LineState::Active => Expected::InService,
        LineState::Expired => Expected::Barred,
        LineState::PendingTermination => {
            let bar = book
                .for_line(line)
                .map(|(p, _)| p.cancellation().bar_while_pending)
                .unwrap_or(true);
            if bar || line.state_before_pending == Some(LineState::Expired) {
                Expected::Barred
            } else {
                Expected::InService
            }
        }
        _ => Expected::Absent,
    }
}

fn found(subscriber: Option<Subscriber>) -> Found {
    match subscriber {
        None => Found::Absent,
        Some(s) if s.is_barred() => Found::Barred { msisdn: s.msisdn },
        Some(s) if s.ps_enabled && s.cs_enabled => Found::InService { msisdn: s.msisdn },
        Some(s) if s.cs_enabled => Found::DataBarred { msisdn: s.msisdn },
        Some(s) => Found::Partial { msisdn: s.msisdn },
    }
}

/// The operations that take the network from `found` to `expected` for a line.
fn fix(expected: Expected, found: &Found, msisdn: &str) -> Vec<&'static str> {
    let digits = msisdn.trim_start_matches('+');
    let number_ok = |m: &Option<String>| m.as_deref() == Some(digits);
    match (expected, found) {
        (Expected::Absent, Found::Absent) => vec![],
        (Expected::Absent, _) => vec!["deprovision"],
        (Expected::InService, Found::InService { msisdn }) if number_ok(msisdn) => vec![],
        (Expected::InService, _) => vec!["provision"],
        (Expected::Barred, Found::Barred { msisdn }) if number_ok(msisdn) => vec![],
        (Expected::Barred, Found::Absent) => vec!["provision", "bar"],
        (
            Expected::Barred,
            Found::InService { msisdn } | Found::DataBarred { msisdn } | Found::Partial { msisdn },
        ) if number_ok(msisdn) => vec!["bar"],
        (Expected::Barred, _) => vec!["provision", "bar"],
        (Expected::DataBarred, Found::DataBarred { msisdn }) if number_ok(msisdn) => vec![],
        (Expected::DataBarred, Found::InService { msisdn }) if number_ok(msisdn) => {
            vec!["bar_data"]
        }
        (Expected::DataBarred, Found::Barred { msisdn } | Found::Partial { msisdn })
            if number_ok(msisdn) =>
        {
            vec!["unbar", "bar_data"]
        }
        (Expected::DataBarred, _) => vec!["provision", "bar_data"],
    }
}

/// Which lines to check, and whether to put them right.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// Only this carrier's lines.
    pub carrier: Option<&'a str>,
    /// Lines in stock too (none of them should be on the network).
    pub include_stock: bool,
    /// Queue and deliver the corrective calls; otherwise only list.
    pub apply: bool,
}

/// Checks every line that has been on the network (and stock, if asked); with `apply`, queues
/// and delivers the calls that put the network right.
pub async fn reconcile(
    store: &dyn Store,
    book: &PolicyBook,
    peers: &Peers,
    scope: Scope<'_>,
    now: Timestamp,
) -> ServiceResult<ReconcileReport> {
    let Scope {
        carrier,
        include_stock,
        apply,
    } = scope;
    let carriers: Vec<CarrierCode> = match carrier {
        Some(c) => vec![CarrierCode::new(c)],
        None => book.carrier_codes().cloned().collect(),
    };
    let mut report = ReconcileReport::default();
    let mut queued = Vec::new();
    for carrier in &carriers {
        let stock = include_stock.then_some(LineState::InStock);
        for state in CHECKED.into_iter().chain(stock) {
            let mut after = 0;
            loop {
                let lines = store
                    .lines_page(carrier, Some(state.as_str()), after, 500)
                    .await?;
                let Some(last) = lines.last() else { break };
                after = last.id.get();
                for line in lines {
                    report.checked += 1;
                    let data_barred = line.state == LineState::Active
                        && store.line_usage(line.id).await?.data_stopped
                            == Some(simdesk_domain::usage::WhenExhausted::Bar);
                    let want = expected(book, &line, data_barred);
                    let have = found(
                        peers
                            .network
                            .subscriber(line.imsi.as_str())
                            .await
                            .map_err(|e| ServiceError::Unavailable(e.to_string()))?,
                    );
                    let ops = fix(want, &have, line.msisdn.as_str());
                    if ops.is_empty() {
                        continue;
                    }
                    let waiting = store
                        .outbox_waiting_for(&format!("imsi:{}", line.imsi.as_str()))
                        .await?;
                    if apply && !waiting {
                        let occasion = format!("reconcile-{}", now.as_microsecond());
                        for op in ops.iter().filter_map(|op| op.parse().ok()) {
                            queued.push(effects::network(op, &occasion, &line, now));
                        }
                    }
                    report.disagreements.push(Disagreement {
                        iccid: line.iccid.to_string(),
                        imsi: line.imsi.as_str().to_string(),
                        msisdn: line.msisdn.to_string(),
                        carrier: line.carrier.clone(),
                        state: line.state.as_str().to_string(),
                        expected: want,
                        found: have,
                        fix: if waiting {
                            Vec::new()
                        } else {
                            ops.iter().map(|o| o.to_string()).collect()
                        },
                        waiting_in_outbox: waiting,
                    });
                }
            }
        }
    }
    if apply && !queued.is_empty() {
        let total = queued.len() as u64;
        store.enqueue(&queued).await?;
        let kinds = [
            "network.provision",
            "network.bar",
            "network.unbar",
            "network.deprovision",
        ];
        let delivered = outbox::deliver_kinds(store, peers, &kinds, now).await?;
        report.fixed = delivered.delivered.min(total);
        report.left_in_outbox = total.saturating_sub(report.fixed);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(msisdn: &str) -> Option<String> {
        Some(msisdn.to_string())
    }

    #[test]
    fn the_fix_takes_the_network_to_what_simdesk_knows() {
        let n = "+819012345678";
        let digits = "819012345678";
        assert!(fix(Expected::Absent, &Found::Absent, n).is_empty());
        assert_eq!(
            fix(Expected::Absent, &Found::Barred { msisdn: on(digits) }, n),
            ["deprovision"]
        );
        assert_eq!(fix(Expected::InService, &Found::Absent, n), ["provision"]);
        assert!(fix(
            Expected::InService,
            &Found::InService { msisdn: on(digits) },
            n
        )
        .is_empty());
        // A wrong number is set again by provisioning, which also restores service.
        assert_eq!(
            fix(
                Expected::InService,
                &Found::InService {
                    msisdn: on("81000")
                },
                n
            ),
            ["provision"]
        );
        assert_eq!(
            fix(
                Expected::InService,
                &Found::Barred { msisdn: on(digits) },
                n
            ),
            ["provision"]
        );
        assert_eq!(
            fix(Expected::Barred, &Found::Absent, n),
            ["provision", "bar"]
        );
        // Data stopped for want of balance: voice and SMS stay on.
        assert!(fix(
            Expected::DataBarred,
            &Found::DataBarred { msisdn: on(digits) },
            n
        )
        .is_empty());
        assert_eq!(
            fix(
                Expected::DataBarred,
                &Found::InService { msisdn: on(digits) },
                n
            ),
            ["bar_data"]
        );
        assert_eq!(
            fix(Expected::DataBarred, &Found::Absent, n),
            ["provision", "bar_data"]
        );
        assert_eq!(
            fix(Expected::Barred, &Found::Partial { msisdn: on(digits) }, n),
            ["bar"]
        );
        assert!(fix(Expected::Barred, &Found::Barred { msisdn: on(digits) }, n).is_empty());
    }
}
