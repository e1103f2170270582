//! Brief busy-waiting before a thread parks (or blocks in a read).
//!
//! Parking and waking a thread costs tens of microseconds on a VM (two
//! processes answering each other over a socket with blocking reads take
//! ~60 µs per round trip on this machine kind; polling, ~3 µs). When the
//! next piece of work is that close, a short spin finds it without a sleep.
//!
//! The budget adapts per waiting place ([`Spinner`]): it starts at
//! [`MIN`]; a wait that outlasted the spin but ended within [`MAX`] raises
//! it to [`MAX`], so a steady exchange whose round trip is just over the
//! budget (a message to a worker process and its answer) stops paying
//! wake-ups on every hop; a longer wait halves it back toward [`MIN`], so
//! a thread that sees sporadic work burns little more than [`MIN`] per
//! piece, as before. Spinning
//! yields the processor between rounds of polls: on two cores, four
//! spinning threads must not starve the one that has the work.

use std::time::{Duration, Instant};

/// The least a waiting thread polls before it parks.
pub(crate) const MIN: Duration = Duration::from_micros(50);
/// The most a waiting thread polls before it parks.
pub(crate) const MAX: Duration = Duration::from_micros(200);

/// Polls `poll` until it yields a value or `budget` has passed.
pub(crate) fn spin_for<T>(budget: Duration, mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        // Read the clock once per round of polls: it costs more than a poll.
        for _ in 0..4 {
            if let Some(v) = poll() {
                return Some(v);
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= budget {
            return None;
        }
        std::thread::yield_now();
    }
}

/// One waiting place's spin budget (see the module doc).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spinner {
    budget: Duration,
}

impl Default for Spinner {
    fn default() -> Self {
        Spinner::new()
    }
}

impl Spinner {
    /// A spinner at the least budget.
    pub(crate) const fn new() -> Spinner {
        Spinner { budget: MIN }
    }

    /// Polls `poll` for up to the budget, then waits with `block`; adapts
    /// the budget to how long the wait really was.
    pub(crate) fn wait<T>(&mut self, poll: impl FnMut() -> Option<T>, block: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        if let Some(v) = spin_for(self.budget, poll) {
            return v;
        }
        let v = block();
        self.adapt(start.elapsed());
        v
    }

    /// A wait that outlasted the spin took `waited` in all: worth spinning
    /// for next time if it was short, less so if it was long.
    fn adapt(&mut self, waited: Duration) {
        self.budget = if waited <= MAX { MAX } else { (self.budget / 2).max(MIN) };
    }

    /// The current budget.
    #[cfg(test)]
    pub(crate) fn budget(&self) -> Duration {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_the_poll_yields_or_gives_up_after_the_budget() {
        // A budget no loaded machine exhausts in 100 polls: the count matters.
        let mut n = 0;
        let found = spin_for(Duration::from_secs(60), || {
            n += 1;
            (n == 100).then_some(n)
        });
        assert_eq!(found, Some(100));
        let start = Instant::now();
        assert_eq!(spin_for(MIN, || None::<()>), None);
        assert!(start.elapsed() >= MIN, "it gave up before its budget");
    }

    #[test]
    fn the_budget_grows_for_waits_just_past_it_and_shrinks_for_long_ones() {
        let mut s = Spinner::new();
        assert_eq!(s.budget(), MIN);
        // A wait that ended just after the spin gave up: worth spinning for.
        s.adapt(MIN + Duration::from_micros(10));
        assert_eq!(s.budget(), MAX);
        // Sporadic work: a long wait halves the budget, never below MIN.
        for _ in 0..4 {
            s.adapt(Duration::from_millis(2));
        }
        assert_eq!(s.budget(), MIN);
        // Work that comes while spinning leaves the budget as it is.
        assert_eq!(s.wait(|| Some(7), || 0), 7);
        assert_eq!(s.budget(), MIN);
    }
}
