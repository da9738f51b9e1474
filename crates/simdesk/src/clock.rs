//! simdesk's clock: the real time, moved forward by an offset in tests and the demo, or held at
//! one instant when an operator acts "as if it were" then (`--now`).

use jiff::{SignedDuration, Timestamp};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The time decisions, limits and lockouts are judged at. Clones share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Set for a clock held at one instant; the real time otherwise.
    fixed: Option<Timestamp>,
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The real time.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that stands still at `at` until it is moved forward.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock {
            fixed: Some(at),
            offset_micros: Arc::default(),
        }
    }

    pub fn now(&self) -> Timestamp {
        let base = self.fixed.unwrap_or_else(Timestamp::now);
        let offset = SignedDuration::from_micros(self.offset_micros.load(Ordering::Relaxed));
        base.saturating_add(offset).unwrap_or(base)
    }

    /// Moves this clock (and its clones) forward, as a test or a demo does to let time pass.
    pub fn advance(&self, by: SignedDuration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_until_moved_and_clones_move_with_it() {
        let at: Timestamp = "2026-11-25T03:00:00Z".parse().unwrap();
        let clock = Clock::fixed(at);
        let clone = clock.clone();
        assert_eq!(clock.now(), at);
        clock.advance(SignedDuration::from_hours(1));
        assert_eq!(clone.now(), at + SignedDuration::from_hours(1));
    }
}
