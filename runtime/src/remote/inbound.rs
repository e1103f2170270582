//! The reading side of a shared-memory channel, drained by whichever
//! thread gets there first: the connection's reader thread, or (in a
//! worker) an idle actor thread polling the ring before it parks. A
//! message an actor thread takes from the ring is run on that thread with
//! no hand-over, which on two cores is most of a round trip's cost.
//!
//! Invariants: one thread drains at a time (`state` is a try-lock for
//! pollers, a lock for the reader thread); a frame is decoded only from
//! bytes copied out of the ring; the first violation ends the connection
//! (it is kept in `state`, further bytes are left alone, and the reader
//! thread is woken to tear the connection down). Lock order: `state`
//! before whatever the frame handler takes (routes, mailboxes, the sender's
//! queue); nothing taken inside the handler ever waits for `state`.
//!
//! Wake-ups: while a thread polls, it holds a [`PollGuard`] counted in the
//! shared header, so the peer rings no doorbell; a poller that stops polls
//! once more after dropping its guard (see `ring`'s handshake). The reader
//! thread sleeps on the doorbell socket only with `sleeping` set.

use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use crate::remote::Violation;
use crate::remote::frame::{self, Frame};
use crate::remote::ring::{Consumer, DOORBELL, PollGuard, RingError, Watch};
use crate::remote::stream::{BrokenRing, Ended};

/// What a connection does with each frame its peer sends.
pub(crate) type FrameHandler = Box<dyn FnMut(Frame) -> Result<(), Violation> + Send>;

/// The most doorbell bytes read per wake-up (a peer that floods the socket
/// must not keep the reader from the ring).
const DOORBELL_DRAIN: usize = 4096;

/// Bytes copied out of the ring per take.
const CHUNK: usize = 64 << 10;

/// A ring's reading side and what handles its frames.
pub(crate) struct Inbound {
    peer: u32,
    /// A view of the ring that needs no lock: is there anything to read?
    watch: Watch,
    state: Mutex<State>,
    doorbell: UnixStream,
    /// A break the sending side found in the ring it writes.
    broken: BrokenRing,
}

struct State {
    consumer: Consumer,
    /// Bytes copied out that do not make a whole frame yet.
    pending: Vec<u8>,
    handle: FrameHandler,
    /// Set once: how the connection ended (a violation or a broken ring).
    ended: Option<Ended>,
}

impl State {
    /// Copies out what waits and handles every whole frame; stops at the
    /// first violation. True if any frame was handled.
    fn drain(&mut self, peer: u32) -> bool {
        let mut handled = false;
        while self.ended.is_none() {
            let waiting = match self.consumer.available() {
                Ok(0) => break,
                Ok(n) => n.min(CHUNK),
                Err(error) => {
                    self.ended = Some(Ended::Violation(Violation::BadRing { peer, error }));
                    break;
                }
            };
            let have = self.pending.len();
            self.pending.resize(have + waiting, 0);
            match self.consumer.take(&mut self.pending[have..]) {
                Ok(n) => self.pending.truncate(have + n),
                Err(error) => self.ended = Some(Ended::Violation(Violation::BadRing { peer, error })),
            }
            handled |= self.handle_frames(peer);
        }
        // One huge frame must not pin its buffer for good.
        if self.pending.is_empty() && self.pending.capacity() > 4 * CHUNK {
            self.pending = Vec::new();
        }
        handled
    }

    /// Handles the whole frames at the front of `pending`.
    fn handle_frames(&mut self, peer: u32) -> bool {
        let mut at = 0;
        let mut handled = false;
        while self.ended.is_none() && self.pending.len() - at >= 4 {
            let prefix = [self.pending[at], self.pending[at + 1], self.pending[at + 2], self.pending[at + 3]];
            let len = match frame::body_len(prefix) {
                Ok(len) => len,
                Err(error) => {
                    self.ended = Some(Ended::Violation(Violation::BadFrame { peer, error }));
                    break;
                }
            };
            if self.pending.len() - at - 4 < len {
                break;
            }
            let body = &self.pending[at + 4..at + 4 + len];
            at += 4 + len;
            let result = frame::decode(body)
                .map_err(|error| Violation::BadFrame { peer, error })
                .and_then(|frame| (self.handle)(frame));
            if let Err(v) = result {
                self.ended = Some(Ended::Violation(v));
            }
            handled = true;
        }
        self.pending.drain(..at);
        handled
    }
}

impl Inbound {
    /// The reading side of `consumer` (whose doorbell is `doorbell`),
    /// handing every frame to `handle`.
    pub(crate) fn new(
        peer: u32,
        consumer: Consumer,
        doorbell: UnixStream,
        broken: BrokenRing,
        handle: FrameHandler,
    ) -> Inbound {
        let watch = consumer.watch();
        let state = State { consumer, pending: Vec::new(), handle, ended: None };
        Inbound { peer, watch, state: Mutex::new(state), doorbell, broken }
    }

    /// Data waits in the ring (or the ring is corrupt: a drain reports it).
    fn has_data(&self) -> bool {
        self.watch.has_data()
    }

    /// Counts the caller as polling (no doorbell is rung while it does).
    pub(crate) fn polling(&self) -> PollGuard<'_> {
        self.watch.poll_guard()
    }

    /// From an idle actor thread: handles what waits, unless another
    /// thread is at it. True if any frame was handled here.
    pub(crate) fn try_drain(&self) -> bool {
        if !self.has_data() {
            return false;
        }
        let Ok(mut state) = self.state.try_lock() else { return false };
        let handled = state.drain(self.peer);
        if state.ended.is_some() {
            // The reader thread tears the connection down.
            let _ = self.doorbell.shutdown(std::net::Shutdown::Read);
        }
        handled
    }

    /// The reader thread: handles frames until the connection ends. With
    /// `spin`, polls the ring briefly before sleeping on the doorbell
    /// (when no actor thread polls it).
    ///
    /// Call [`Inbound::retire`] once the ending is dealt with.
    pub(crate) fn run(&self, spin: bool) -> Ended {
        let mut spinner = crate::spin::Spinner::new();
        let mut peer_closed = false;
        loop {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.drain(self.peer);
            if let Some(ended) = state.ended.take() {
                return ended;
            }
            drop(state);
            if let Some(error) = self.broken.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Ended::Violation(Violation::BadRing { peer: self.peer, error });
            }
            if peer_closed {
                return Ended::Closed(self.peer);
            }
            let waited = if spin {
                spinner.wait(|| self.has_data().then_some(Ok(false)), || self.sleep())
            } else if self.has_data() {
                Ok(false)
            } else {
                self.sleep()
            };
            match waited {
                Ok(closed) => peer_closed = closed,
                Err(Woken::Broken(error)) => return Ended::Broken { peer: self.peer, error },
                Err(Woken::Bad(error)) => return Ended::Violation(Violation::BadRing { peer: self.peer, error }),
            }
        }
    }

    /// After the connection ended: drops the frame handler (and with it
    /// whatever it holds, such as the sending end of a control channel,
    /// whose reader then learns that the peer is gone), even if actor
    /// threads still hold this `Inbound`; they find nothing more to do.
    pub(crate) fn retire(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.handle = Box::new(|_| Ok(()));
        state.ended = Some(Ended::Closed(self.peer));
    }

    /// Sleeps on the doorbell unless data came meanwhile; true if the
    /// socket ended (the peer is gone, or the connection is closing).
    fn sleep(&self) -> Result<bool, Woken> {
        let watch = &self.watch;
        watch.set_sleeping(true);
        let mut closed = false;
        if !self.has_data() {
            crate::native::os::wait_readable(&self.doorbell).map_err(Woken::Broken)?;
            closed = drain_doorbell(&self.doorbell)?;
        }
        watch.set_sleeping(false);
        Ok(closed)
    }
}

/// A sleep on the doorbell that went wrong.
enum Woken {
    /// The socket failed.
    Broken(std::io::Error),
    /// The peer wrote something other than doorbells.
    Bad(RingError),
}

/// Reads the doorbell bytes waiting; true if the socket has ended.
fn drain_doorbell(doorbell: &UnixStream) -> Result<bool, Woken> {
    let mut scratch = [0u8; 256];
    let mut read = 0;
    while read < DOORBELL_DRAIN {
        match crate::native::os::recv_nonblocking(doorbell, &mut scratch).map_err(Woken::Broken)? {
            None => return Ok(false),
            Some(0) => return Ok(true),
            Some(n) => {
                if let Some(&bad) = scratch[..n].iter().find(|&&b| b != DOORBELL) {
                    return Err(Woken::Bad(RingError::NotADoorbell(bad)));
                }
                read += n;
            }
        }
    }
    Ok(false)
}
