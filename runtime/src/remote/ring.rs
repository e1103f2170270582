//! Two byte rings in memory shared with a worker process: one each way,
//! each with one producer and one consumer. They carry the same frames a
//! socket would (see `frame`), without a system call per message: on this
//! machine kind a send, a poll and a receive cost microseconds each, most
//! of a round trip to a worker.
//!
//! Layout of the region ([`REGION_BYTES`]): a page of headers, then the
//! starter-to-worker ring's bytes, then the worker-to-starter ring's. Each
//! header has the producer's line (`tail`: bytes written so far) and the
//! consumer's line (`head`: bytes read so far; `sleeping`: the consumer is
//! about to block on the doorbell socket and wants a byte there for new
//! data; `pollers`: threads polling the ring right now, so no doorbell is
//! needed). Positions only grow; a byte's place is its position modulo
//! [`RING_BYTES`].
//!
//! Trust: each side keeps its own position privately and never takes it
//! back from the region. The other side's position is checked on every
//! read (a consumer ahead of the producer, or a producer more than a ring
//! ahead, is [`RingError::Corrupt`]), and bytes are copied out before
//! anything parses them, so a worker that scribbles on the region can only
//! produce bad frames, which the frame decoder refuses.
//!
//! Wake-ups (a Dekker handshake, both sides with a SeqCst fence between
//! their store and their load): the producer publishes `tail`, then reads
//! `pollers` and `sleeping`; a consumer that wants to block stores
//! `sleeping`, then reads `tail` again. At least one of them sees the
//! other's store, so data is never left unseen with the consumer asleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};

use crate::native::shared_memory::SharedRegion;

/// The bytes of one ring.
pub const RING_BYTES: usize = 1 << 20;
/// The header page.
const HEADERS: usize = 4096;
/// The whole shared region.
pub const REGION_BYTES: usize = HEADERS + 2 * RING_BYTES;

/// Offsets in a ring's header (each side's words on a line of their own).
const HEADER: usize = 256;
const TAIL: usize = 0;
const HEAD: usize = 128;
const SLEEPING: usize = 136;
const POLLERS: usize = 144;

/// Which end of the region this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The process that made the region and started the worker: writes
    /// ring 0, reads ring 1.
    Starter,
    /// The worker: writes ring 1, reads ring 0.
    Worker,
}

impl Side {
    fn rings(self) -> (usize, usize) {
        match self {
            Side::Starter => (0, 1),
            Side::Worker => (1, 0),
        }
    }
}

/// The other side broke the ring protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// A position in the shared header is impossible.
    #[error("the shared ring is corrupt: {0}")]
    Corrupt(String),
    /// Something other than a doorbell came on the socket.
    #[error("wrote {0:#04x} on the doorbell socket, which carries only doorbells ({DOORBELL:#04x})")]
    NotADoorbell(u8),
}

impl From<RingError> for std::io::Error {
    fn from(e: RingError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// The byte that says "the ring has data" on the socket.
pub const DOORBELL: u8 = 1;

/// One ring's place in the region.
#[derive(Debug, Clone)]
struct Ring {
    region: Arc<SharedRegion>,
    index: usize,
}

impl Ring {
    fn word(&self, at: usize) -> &std::sync::atomic::AtomicU64 {
        self.region.atomic(self.index * HEADER + at)
    }

    /// Where `len` bytes from position `pos` lie in the region: the offset
    /// of the ring's data, the offset of `pos` in it, and how many of the
    /// bytes fit before the ring's end (the rest wrap to its start).
    fn span(&self, pos: u64, len: usize) -> (usize, usize, usize) {
        let data = HEADERS + self.index * RING_BYTES;
        let at = (pos % RING_BYTES as u64) as usize;
        (data, at, len.min(RING_BYTES - at))
    }

    /// Copies `bytes` in at position `pos`, wrapping at the ring's end.
    fn copy_in(&self, pos: u64, bytes: &[u8]) {
        let (data, at, first) = self.span(pos, bytes.len());
        self.region.copy_in(data + at, &bytes[..first]);
        self.region.copy_in(data, &bytes[first..]);
    }

    /// Copies `out.len()` bytes out from position `pos`, wrapping.
    fn copy_out(&self, pos: u64, out: &mut [u8]) {
        let (data, at, first) = self.span(pos, out.len());
        let (a, b) = out.split_at_mut(first);
        self.region.copy_out(data + at, a);
        self.region.copy_out(data, b);
    }
}

/// The writing end of one ring (one thread writes at a time: the caller
/// serializes).
#[derive(Debug)]
pub struct Producer {
    ring: Ring,
    tail: u64,
}

impl Producer {
    /// Copies in as much of `bytes` as there is room for; how many went.
    pub fn put(&mut self, bytes: &[u8]) -> Result<usize, RingError> {
        let head = self.ring.word(HEAD).load(Ordering::Acquire);
        let used = self.tail.wrapping_sub(head);
        if used > RING_BYTES as u64 {
            return Err(RingError::Corrupt(format!(
                "the reader says it read up to {head}, but only {} bytes were written",
                self.tail
            )));
        }
        let n = bytes.len().min(RING_BYTES - used as usize);
        if n > 0 {
            self.ring.copy_in(self.tail, &bytes[..n]);
            self.tail += n as u64;
            self.ring.word(TAIL).store(self.tail, Ordering::Release);
        }
        Ok(n)
    }

    /// After a put: true if the consumer is blocked (or about to) and no
    /// thread polls the ring, so it needs a doorbell.
    pub fn consumer_asleep(&self) -> bool {
        fence(Ordering::SeqCst);
        self.ring.word(POLLERS).load(Ordering::Relaxed) == 0 && self.ring.word(SLEEPING).load(Ordering::Relaxed) != 0
    }
}

/// The reading end of one ring (one thread reads at a time: the caller
/// serializes).
#[derive(Debug)]
pub struct Consumer {
    ring: Ring,
    head: u64,
    /// `head` for [`Watch`]es (process-private memory, never the region).
    seen: Arc<AtomicU64>,
}

impl Consumer {
    /// How many bytes wait to be read.
    pub fn available(&self) -> Result<usize, RingError> {
        let tail = self.ring.word(TAIL).load(Ordering::Acquire);
        let avail = tail.wrapping_sub(self.head);
        if avail > RING_BYTES as u64 {
            return Err(RingError::Corrupt(format!(
                "the writer says it wrote up to {tail}, but {} bytes were read and a ring holds {RING_BYTES}",
                self.head
            )));
        }
        Ok(avail as usize)
    }

    /// Copies out up to `out.len()` waiting bytes; how many (0: none wait).
    pub fn take(&mut self, out: &mut [u8]) -> Result<usize, RingError> {
        let n = self.available()?.min(out.len());
        if n > 0 {
            self.ring.copy_out(self.head, &mut out[..n]);
            self.head += n as u64;
            self.ring.word(HEAD).store(self.head, Ordering::Release);
            self.seen.store(self.head, Ordering::Relaxed);
        }
        Ok(n)
    }

    /// A lock-free view of this ring for threads that poll it.
    pub fn watch(&self) -> Watch {
        Watch { ring: self.ring.clone(), seen: self.seen.clone() }
    }
}

/// A view of a ring's reading end that any thread may hold: whether data
/// waits, and the consumer's words in the header.
#[derive(Debug, Clone)]
pub struct Watch {
    ring: Ring,
    seen: Arc<AtomicU64>,
}

impl Watch {
    /// A hint that data waits: the producer's position differs from what
    /// the consumer has read (its own count, not the region's word, which
    /// the peer could set to keep pollers busy for nothing). The consumer's
    /// checks decide what is really read.
    pub fn has_data(&self) -> bool {
        self.ring.word(TAIL).load(Ordering::Acquire) != self.seen.load(Ordering::Relaxed)
    }

    /// Says whether the consumer is about to block (and wants a doorbell)
    /// or awake again. After `true`, check [`Watch::has_data`] once more
    /// before blocking.
    pub fn set_sleeping(&self, sleeping: bool) {
        self.ring.word(SLEEPING).store(u64::from(sleeping), Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Counts a thread that polls the ring until the guard drops (no
    /// doorbell is rung meanwhile); after the drop, check for data once
    /// more before waiting elsewhere.
    pub fn poll_guard(&self) -> PollGuard<'_> {
        self.ring.word(POLLERS).fetch_add(1, Ordering::SeqCst);
        PollGuard(self)
    }
}

/// See [`Watch::poll_guard`].
pub struct PollGuard<'a>(&'a Watch);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.ring.word(POLLERS).fetch_sub(1, Ordering::SeqCst);
    }
}

/// This side's ends of a region: what it writes and what it reads.
pub(crate) fn ends(region: Arc<SharedRegion>, side: Side) -> (Producer, Consumer) {
    let (write, read) = side.rings();
    (
        Producer { ring: Ring { region: region.clone(), index: write }, tail: 0 },
        Consumer { ring: Ring { region, index: read }, head: 0, seen: Arc::new(AtomicU64::new(0)) },
    )
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
