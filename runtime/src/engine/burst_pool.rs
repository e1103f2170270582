//! Spare mailbox buffers, kept after a burst for the next one.
//!
//! A mailbox that took a burst (say a million messages, ~48 MiB) gives its
//! buffer back once empty. Freed, that memory goes back to the system (the
//! allocator maps blocks this big afresh each time), and the next burst
//! faults in every page again: on a VM that was most of a burst's cost.
//! Kept here instead, the next burst in any mailbox starts in memory that
//! is already mapped. The pool holds at most [`SPARE_BYTES`], the same
//! ceiling glibc itself grows its own trim threshold to.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::engine::payload::Envelope;

/// The most buffer capacity, in bytes, the pool keeps.
pub(crate) const SPARE_BYTES: usize = 64 << 20;

/// Empty buffers with capacity, for reuse.
pub(crate) struct BurstPool {
    spares: Mutex<Vec<VecDeque<Envelope>>>,
    cap_bytes: usize,
}

/// The pool every mailbox uses.
pub(crate) static POOL: BurstPool = BurstPool::new(SPARE_BYTES);

fn bytes_of(buf: &VecDeque<Envelope>) -> usize {
    buf.capacity() * size_of::<Envelope>()
}

impl BurstPool {
    /// An empty pool that keeps at most `cap_bytes` of capacity.
    pub(crate) const fn new(cap_bytes: usize) -> BurstPool {
        BurstPool { spares: Mutex::new(Vec::new()), cap_bytes }
    }

    /// Keeps an emptied buffer if it fits under the cap; drops it otherwise
    /// (outside the lock).
    pub(crate) fn give(&self, mut buf: VecDeque<Envelope>) {
        buf.clear();
        let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
        let held: usize = spares.iter().map(bytes_of).sum();
        if held + bytes_of(&buf) <= self.cap_bytes {
            spares.push(buf);
            return;
        }
        drop(spares);
        drop(buf);
    }

    /// Drops every spare buffer (outside the lock).
    pub(crate) fn clear(&self) {
        let spares = std::mem::take(&mut *self.spares.lock().unwrap_or_else(|p| p.into_inner()));
        drop(spares);
    }

    /// The largest spare buffer if it has room for more than `than`
    /// envelopes.
    pub(crate) fn take_bigger(&self, than: usize) -> Option<VecDeque<Envelope>> {
        let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
        let (i, _) = spares.iter().enumerate().max_by_key(|(_, b)| b.capacity())?;
        (spares[i].capacity() > than).then(|| spares.swap_remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(slots: usize) -> VecDeque<Envelope> {
        VecDeque::with_capacity(slots)
    }

    #[test]
    fn keeps_buffers_up_to_its_cap_and_hands_out_the_largest() {
        let slot = size_of::<Envelope>();
        let pool = BurstPool::new(1000 * slot);
        pool.give(buffer(300));
        pool.give(buffer(600));
        pool.give(buffer(500)); // 300 + 600 + 500 slots would pass the cap
        let big = pool.take_bigger(100).expect("a spare");
        assert!(big.capacity() >= 600 && big.capacity() < 1000, "the largest first: {}", big.capacity());
        assert!(pool.take_bigger(10_000).is_none(), "nothing bigger than asked");
        let next = pool.take_bigger(0).expect("the other spare");
        assert!(next.capacity() >= 300 && next.capacity() < 500, "the refused one was not kept: {}", next.capacity());
        assert!(pool.take_bigger(0).is_none());
        pool.give(buffer(300));
        pool.clear();
        assert!(pool.take_bigger(0).is_none(), "clear empties the pool");
    }
}
