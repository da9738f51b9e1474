//! What running out of data does to a line: notices as thresholds are crossed, data stopped
//! (barred on the network or slowed) when nothing is left to pay for it, and started again by
//! a top-up or a data pack.
//!
//! Everything here is added to the line change that counts the usage or adds the balance, so
//! the notice, the network call and the recorded stop are written with it in one transaction and
//! delivered once through the outbox. Notices are keyed on the usage record that crossed the
//! threshold: a retried batch queues nothing twice, and a line topped up and used down again is
//! told again.

use crate::messages::Event;
use crate::services::effects::{Effect, NetworkOp, Occasion};
use crate::store::{DataStopChange, LineChange};
use jiff::Timestamp;
use simdesk_domain::line::{Line, LineState};
use simdesk_domain::usage::WhenExhausted;

/// What one batch's records did to a line's data, as rating reported it record by record.
#[derive(Debug, Default, Clone)]
pub struct DataWatch {
    /// Thresholds crossed (percent of the allowance used), with the record that crossed each.
    pub crossed: Vec<(u8, String)>,
    /// The first record after which nothing was left to pay for data, while that still holds.
    pub exhausted_by: Option<String>,
}

impl DataWatch {
    /// Notes what rating said of one record.
    pub fn saw(&mut self, record_id: &str, crossed: &[u8], exhausted: bool) {
        self.crossed
            .extend(crossed.iter().map(|p| (*p, record_id.to_string())));
        if !exhausted {
            self.exhausted_by = None;
        } else if self.exhausted_by.is_none() {
            self.exhausted_by = Some(record_id.to_string());
        }
    }
}

/// Adds to `change` the notices for thresholds crossed and, when the line's data ran out and is
/// not already stopped, the stop the policy asks for with its network call and notice.
pub fn after_usage(
    change: &mut LineChange,
    line: &Line,
    watch: &DataWatch,
    already_stopped: Option<WhenExhausted>,
    when_exhausted: WhenExhausted,
    left_mb: i64,
    at: Timestamp,
) {
    let Some(holder) = line.holder else { return };
    let notify = |event: Event, occasion: String, params: serde_json::Value| {
        // The language is looked up when the notice is fanned out, off the counting path.
        Effect::Notify {
            event,
            occasion: Occasion::line(occasion, line),
            customer: Some(holder),
            language: None,
            msisdn: Some(line.msisdn.as_str().to_string()),
            params,
        }
        .queue(at)
    };
    for (percent, record) in &watch.crossed {
        change.outbox.push(notify(
            Event::DataThreshold,
            format!("data-{percent}:{record}"),
            serde_json::json!({
                "percent": percent.to_string(),
                "left_mb": left_mb.max(0).to_string(),
            }),
        ));
    }
    let Some(record) = &watch.exhausted_by else {
        return;
    };
    if already_stopped.is_some() || line.state != LineState::Active {
        return;
    }
    change.data_stop = Some(DataStopChange::Stopped(when_exhausted));
    let occasion = format!("data-stop:{record}");
    let event = match when_exhausted {
        WhenExhausted::Bar => {
            change.outbox.push(
                Effect::network(
                    NetworkOp::BarData,
                    Occasion::line(occasion.clone(), line),
                    line,
                )
                .queue(at),
            );
            Event::DataBarred
        }
        // The network slows the line by its own rule; simdesk records the state.
        WhenExhausted::Throttle => Event::DataSlowed,
    };
    change
        .outbox
        .push(notify(event, occasion, serde_json::json!({})));
}

/// Starts data again on a line whose data was stopped: called for a change that gives it
/// something to pay with (a top-up that buys data, a data pack).
pub fn lift(change: &mut LineChange, stopped: Option<WhenExhausted>, at: Timestamp) {
    let Some(how) = stopped else { return };
    change.data_stop = Some(DataStopChange::Lifted);
    if how == WhenExhausted::Bar {
        let line = &change.line;
        let occasion = format!("data-lift:{}", at.as_microsecond());
        change.outbox.push(
            Effect::network(NetworkOp::UnbarData, Occasion::line(occasion, line), line).queue(at),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_is_remembered_from_the_first_record_while_it_lasts() {
        let mut w = DataWatch::default();
        w.saw("r1", &[75], false);
        w.saw("r2", &[90], true);
        w.saw("r3", &[], true);
        assert_eq!(w.exhausted_by.as_deref(), Some("r2"));
        assert_eq!(w.crossed, vec![(75, "r1".into()), (90, "r2".into())]);
        // Something paid for data again within the batch: no longer exhausted.
        w.saw("r4", &[], false);
        assert_eq!(w.exhausted_by, None);
    }
}
