//! How many log lines a peer may have logged here: a fixed budget per
//! second, so that a worker that floods its output or its log cannot flood
//! the daemon's log. What is over budget is counted and reported once the
//! next second begins.

use std::time::{Duration, Instant};

/// Lines a worker may have logged per second.
pub const LINES_PER_SECOND: u32 = 1000;

/// A per-second line budget for one source, which reports its own drops.
#[derive(Debug)]
pub struct LineBudget {
    per_second: u32,
    what: String,
    window: Instant,
    used: u32,
    dropped: u64,
}

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// Log it.
    Yes,
    /// Log it, after a line saying that `n` lines were dropped before it.
    AfterDropped(u64),
    /// Drop it (counted).
    No,
}

impl LineBudget {
    /// A budget of `per_second` lines a second for the source `what`
    /// (named in the report of what was dropped).
    pub fn new(per_second: u32, what: String) -> LineBudget {
        LineBudget { per_second, what, window: Instant::now(), used: 0, dropped: 0 }
    }

    /// Whether a line arriving at `now` may be logged; the first one after
    /// a drop is preceded by a line that says how many were dropped.
    pub fn admit(&mut self, now: Instant) -> bool {
        match self.decide(now) {
            Admit::Yes => true,
            Admit::AfterDropped(n) => {
                self.report(n);
                true
            }
            Admit::No => false,
        }
    }

    /// Reports what was dropped and not reported yet (the source ended).
    pub fn finish(&mut self) {
        let n = std::mem::take(&mut self.dropped);
        if n > 0 {
            self.report(n);
        }
    }

    fn report(&self, n: u64) {
        log::warn!(target: "thespian::worker", "{}: {n} lines over budget were dropped", self.what);
    }

    fn decide(&mut self, now: Instant) -> Admit {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.used = 0;
        }
        if self.used >= self.per_second {
            self.dropped += 1;
            return Admit::No;
        }
        self.used += 1;
        match std::mem::take(&mut self.dropped) {
            0 => Admit::Yes,
            n => Admit::AfterDropped(n),
        }
    }
}

impl Drop for LineBudget {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_budget_and_the_drop_reported_next_second() {
        let mut b = LineBudget::new(3, "test".into());
        let t0 = Instant::now();
        let first: Vec<Admit> = (0..5).map(|_| b.decide(t0)).collect();
        assert_eq!(first, [Admit::Yes, Admit::Yes, Admit::Yes, Admit::No, Admit::No]);
        assert_eq!(b.decide(t0 + Duration::from_millis(1100)), Admit::AfterDropped(2));
        assert_eq!(b.decide(t0 + Duration::from_millis(1100)), Admit::Yes);
        assert_eq!(b.dropped, 0, "nothing left to report");
    }
}
