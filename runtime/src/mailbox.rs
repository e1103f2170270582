//! An actor's mailbox: a FIFO of envelopes, many senders, one runner.
//!
//! A ring buffer under a mutex. Compared with a lock-free segment queue it
//! holds each message in one contiguous slot (no per-31-message block
//! allocations, no cache-padded head and tail in every idle actor), so a
//! burst of a million messages costs a few large allocations that grow by
//! `mremap`, and an idle mailbox costs a few words. The lock is held only
//! to push or pop one envelope.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::payload::Envelope;

/// Above this many slots an emptied buffer is given back to the allocator,
/// so one burst does not keep its memory for the life of the actor.
const KEEP_SLOTS: usize = 256;

/// One actor's queue of envelopes.
pub(crate) struct Mailbox {
    queue: Mutex<VecDeque<Envelope>>,
}

impl Mailbox {
    /// An empty mailbox (allocates nothing until the first push).
    pub(crate) const fn new() -> Mailbox {
        Mailbox { queue: Mutex::new(VecDeque::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Envelope>> {
        // Nothing panics while the lock is held, but a poisoned lock would
        // still hold a consistent queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an envelope.
    pub(crate) fn push(&self, env: Envelope) {
        self.lock().push_back(env);
    }

    /// Takes the oldest envelope.
    pub(crate) fn pop(&self) -> Option<Envelope> {
        let mut q = self.lock();
        let env = q.pop_front();
        if q.is_empty() && q.capacity() > KEEP_SLOTS {
            // Dropped after the lock is released.
            let old = std::mem::take(&mut *q);
            drop(q);
            drop(old);
        }
        env
    }

    /// True when no envelope is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Payload;
    use actor_abi::{Address, Message};

    fn env(n: i64) -> Envelope {
        Envelope { from: Address::NOBODY, payload: Payload::native(Message::Value(n.into())), done: None }
    }

    fn value(e: Envelope) -> Option<i64> {
        e.payload.into_value().and_then(|v| v.as_i64())
    }

    #[test]
    fn first_in_first_out_across_growth_and_release() {
        let m = Mailbox::new();
        for round in 0..2 {
            for i in 0..1000 {
                m.push(env(i));
            }
            for i in 0..1000 {
                assert_eq!(m.pop().and_then(value), Some(i), "round {round}");
            }
            assert!(m.pop().is_none());
            assert!(m.is_empty());
            assert_eq!(m.lock().capacity(), 0, "a burst's buffer is given back once empty");
        }
    }

    #[test]
    fn many_senders_lose_nothing() {
        let m = std::sync::Arc::new(Mailbox::new());
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || (0..10_000).for_each(|i| m.push(env(t * 100_000 + i))))
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 40_000 {
            match m.pop() {
                Some(e) => got.extend(value(e)),
                None => std::thread::yield_now(),
            }
        }
        senders.into_iter().for_each(|s| s.join().unwrap());
        for t in 0..4 {
            let mine: Vec<i64> = got.iter().copied().filter(|v| v / 100_000 == t).collect();
            assert_eq!(mine, (0..10_000).map(|i| t * 100_000 + i).collect::<Vec<_>>(), "sender {t} in order");
        }
    }
}
