//! Brief busy-waiting before a thread parks.
//!
//! Parking and waking a thread costs a few microseconds on a VM, twice per
//! ask (the actor's thread and the asker). When the answer is that close, a
//! short spin finds it without either sleep. The budget is small, so an
//! idle thread only burns it once after its last piece of work.

use std::time::{Duration, Instant};

/// How long a thread polls before it parks.
pub(crate) const BUDGET: Duration = Duration::from_micros(50);

/// Polls `poll` until it yields a value or [`BUDGET`] has passed.
pub(crate) fn spin_for<T>(mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        // Read the clock once per round of polls: it costs more than a poll.
        for _ in 0..32 {
            if let Some(v) = poll() {
                return Some(v);
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= BUDGET {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_the_poll_yields_or_gives_up_after_the_budget() {
        let mut n = 0;
        assert_eq!(
            spin_for(|| {
                n += 1;
                (n == 100).then_some(n)
            }),
            Some(100)
        );
        let start = Instant::now();
        assert_eq!(spin_for(|| None::<()>), None);
        assert!(start.elapsed() >= BUDGET, "it gave up before its budget");
    }
}
