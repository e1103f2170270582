//! An actor's mailbox: a FIFO of envelopes, many senders, one runner, and
//! the flag that says whether the actor is scheduled to run.
//!
//! A ring buffer under a mutex. Compared with a lock-free segment queue it
//! holds each message in one contiguous slot (no per-31-message block
//! allocations, no cache-padded head and tail in every idle actor), so a
//! burst of a million messages costs a few large allocations that grow by
//! `mremap` (and later bursts reuse a spare buffer, see
//! [`crate::engine::burst_pool`]), and an idle mailbox costs a few words. The lock
//! is held only to push one envelope or take a batch.
//!
//! The scheduled flag lives under the same lock, so "push, then schedule if
//! idle" and "go idle if empty" cannot miss each other: one of them sees
//! the other's effect, and no message is left in an idle actor's mailbox
//! (the lost wakeup that two separate atomics needed SeqCst fences for).
//!
//! # Messages taken but not started
//!
//! A runner takes a batch out of the queue, so a message can be out of the
//! queue and still not handled. `unstarted` counts them for an unload that
//! must report exactly what was never handled ([`Mailbox::discard`]): it is
//! set under the queue lock when a batch is taken, and a runner that counts
//! claims each message with [`Mailbox::start_next`] before handling it. The
//! discard takes the queue and sets [`DISCARDED`] under the same lock, so a
//! message is either started (handled) or counted (discarded), never both.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::engine::burst_pool::POOL;
use crate::engine::payload::Envelope;

/// Above this many slots an emptied buffer leaves the mailbox (for the
/// burst pool, see [`crate::engine::burst_pool`]), so one burst does not keep its
/// memory for the life of the actor; a mailbox that fills this many slots
/// looks in the pool for a bigger buffer before growing its own.
const KEEP_SLOTS: usize = 256;

struct Queue {
    items: VecDeque<Envelope>,
    /// True from the moment the actor is handed to a thread until that
    /// thread finds the queue empty after a batch.
    scheduled: bool,
}

/// Set in `unstarted` once the queue was discarded: the runner must not
/// start the rest of its batch.
const DISCARDED: u64 = 1 << 63;

/// One actor's queue of envelopes and its scheduled flag.
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
    /// Messages of the runner's batch not started yet, and [`DISCARDED`].
    unstarted: AtomicU64,
}

impl Mailbox {
    /// An empty, idle mailbox (allocates nothing until the first push).
    pub(crate) const fn new() -> Mailbox {
        Mailbox { queue: Mutex::new(Queue { items: VecDeque::new(), scheduled: false }), unstarted: AtomicU64::new(0) }
    }

    /// Claims the next message of the runner's batch: false if the queue was
    /// discarded since the batch was taken (the rest of the batch is
    /// counted there and must not run).
    /// An exit request is not counted (`counts` false), as a discard does
    /// not count it either.
    pub(crate) fn start_next(&self, counts: bool) -> bool {
        let step = u64::from(counts);
        self.unstarted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n & DISCARDED == 0).then(|| n.saturating_sub(step)))
            .is_ok()
    }

    /// Takes every queued envelope and stops the runner from starting the
    /// rest of its batch; returns them and how many batched messages (exit
    /// requests aside) were left unstarted (each will be dropped by the
    /// runner).
    pub(crate) fn discard(&self) -> (VecDeque<Envelope>, u64) {
        let mut q = self.lock();
        let items = std::mem::take(&mut q.items);
        let unstarted = self.unstarted.fetch_or(DISCARDED, Ordering::AcqRel) & !DISCARDED;
        drop(q);
        (items, unstarted)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while the lock is held, but a poisoned lock would
        // still hold a consistent queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an envelope; true if the actor was idle and the caller must
    /// now hand it to a thread.
    pub(crate) fn push(&self, env: Envelope) -> bool {
        let mut q = self.lock();
        if q.items.len() == q.items.capacity() && q.items.capacity() >= KEEP_SLOTS {
            Self::grow_from_pool(&mut q);
        }
        q.items.push_back(env);
        !std::mem::replace(&mut q.scheduled, true)
    }

    /// Marks the actor scheduled; true if it was idle and the caller must
    /// now hand it to a thread.
    pub(crate) fn claim(&self) -> bool {
        !std::mem::replace(&mut self.lock().scheduled, true)
    }

    /// After a batch: goes idle if nothing is waiting (false), else stays
    /// scheduled and the caller must hand the actor to a thread again (true).
    pub(crate) fn release(&self) -> bool {
        let mut q = self.lock();
        q.scheduled = !q.items.is_empty();
        q.scheduled
    }

    /// Takes the oldest envelope.
    pub(crate) fn pop(&self) -> Option<Envelope> {
        let mut q = self.lock();
        let env = q.items.pop_front();
        Self::release_burst(q);
        env
    }

    /// Moves up to `max` of the oldest envelopes to the back of `out`, under
    /// one lock.
    pub(crate) fn pop_batch(&self, out: &mut VecDeque<Envelope>, max: usize) {
        let mut q = self.lock();
        // One by one: a batch is often a single envelope, for which
        // `extend(drain(..))` costs several times a pop.
        let mut counted = 0;
        for _ in 0..max {
            let Some(env) = q.items.pop_front() else { break };
            counted += u64::from(!env.payload.is_exit_request());
            out.push_back(env);
        }
        self.unstarted.store(counted, Ordering::Release);
        Self::release_burst(q);
    }

    /// Moves a full queue into a bigger spare buffer, if the pool has one.
    fn grow_from_pool(q: &mut Queue) {
        if let Some(mut bigger) = POOL.take_bigger(q.items.capacity()) {
            bigger.extend(q.items.drain(..));
            q.items = bigger;
        }
    }

    /// Hands an emptied burst buffer to the pool, after unlocking.
    fn release_burst(mut q: MutexGuard<'_, Queue>) {
        if q.items.is_empty() && q.items.capacity() > KEEP_SLOTS {
            let old = std::mem::take(&mut q.items);
            drop(q);
            POOL.give(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::payload::Payload;
    use actor_abi::{Address, Message};

    fn env(n: i64) -> Envelope {
        Envelope { from: Address::NOBODY, payload: Payload::native(Message::Value(n.into())) }
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
            assert_eq!(m.lock().items.capacity(), 0, "a burst's buffer is given back once empty");
            assert!(!m.release(), "empty after the batch: idle");
        }
    }

    #[test]
    fn a_batch_takes_the_oldest_in_order_and_leaves_the_rest() {
        let m = Mailbox::new();
        (0..10).for_each(|i| {
            m.push(env(i));
        });
        let mut out = VecDeque::new();
        m.pop_batch(&mut out, 4);
        assert_eq!(out.into_iter().filter_map(value).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        let mut out = VecDeque::new();
        m.pop_batch(&mut out, 100);
        assert_eq!(out.into_iter().filter_map(value).collect::<Vec<_>>(), (4..10).collect::<Vec<_>>());
        assert!(m.pop().is_none());
    }

    #[test]
    fn a_discard_takes_the_queue_and_the_unstarted_part_of_the_batch() {
        let m = Mailbox::new();
        (0..10).for_each(|i| {
            m.push(env(i));
        });
        let mut out = VecDeque::new();
        m.pop_batch(&mut out, 4);
        assert!(m.start_next(true), "the first of the batch starts");
        let (queued, unstarted) = m.discard();
        assert_eq!(queued.into_iter().filter_map(value).collect::<Vec<_>>(), (4..10).collect::<Vec<_>>());
        assert_eq!(unstarted, 3, "three of the batch of four never started");
        assert!(!m.start_next(true), "the rest of the batch must not start");
        m.push(env(99));
        let mut out = VecDeque::new();
        m.pop_batch(&mut out, 4);
        assert!(m.start_next(true), "a later batch runs");
    }

    #[test]
    fn exactly_one_push_schedules_an_idle_actor_and_release_keeps_a_nonempty_one() {
        let m = Mailbox::new();
        assert!(m.push(env(1)), "the first push wakes an idle actor");
        assert!(!m.push(env(2)), "already scheduled");
        assert!(!m.claim(), "already scheduled");
        assert!(m.pop().is_some());
        assert!(m.release(), "a message is still waiting: stay scheduled");
        assert!(m.pop().is_some());
        assert!(!m.release(), "empty: idle");
        assert!(m.claim(), "an idle actor can be claimed once");
        assert!(!m.push(env(3)));
    }

    /// Many senders against one runner that goes idle whenever it finds the
    /// queue empty: every message is run, none is stranded in an idle mailbox.
    #[test]
    fn no_message_is_left_behind_when_the_runner_goes_idle() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let m = Arc::new(Mailbox::new());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let ran = Arc::new(AtomicUsize::new(0));
        let runner = {
            let (m, ran) = (m.clone(), ran.clone());
            std::thread::spawn(move || {
                // Each wake-up runs the actor until its mailbox is released.
                while rx.recv().is_ok() {
                    loop {
                        while m.pop().is_some() {
                            ran.fetch_add(1, Ordering::SeqCst);
                        }
                        if !m.release() {
                            break;
                        }
                    }
                }
            })
        };
        let senders: Vec<_> = (0..3)
            .map(|_| {
                let (m, tx) = (m.clone(), tx.clone());
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        if m.push(env(i)) {
                            tx.send(()).unwrap();
                        }
                    }
                })
            })
            .collect();
        senders.into_iter().for_each(|s| s.join().unwrap());
        drop(tx);
        runner.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 60_000);
    }

    #[test]
    fn many_senders_lose_nothing() {
        let m = std::sync::Arc::new(Mailbox::new());
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    (0..10_000).for_each(|i| {
                        m.push(env(t * 100_000 + i));
                    })
                })
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
