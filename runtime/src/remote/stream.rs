//! A transport over a byte stream to a worker process: a Unix socketpair,
//! or two rings in memory shared with the worker (see `ring`) with the
//! socket as their doorbell. A sender writes each message as soon as it
//! can, batching whatever piles up, and a read loop decodes frames and
//! hands each message on.
//!
//! Sending never blocks on the peer. When nothing is queued or being
//! written, [`StreamSender::send`] writes the message's frame itself
//! without waiting (no thread hop: an ask across costs two fewer
//! wake-ups); whatever the wire does not take at once, and every message
//! sent while another write is under way, goes to the writer thread, which
//! writes all that is queued as one frame (at most [`frame::MAX_BATCH`]
//! messages and about [`BATCH_BYTES`] bytes). The queue is bounded
//! ([`MAX_QUEUED`] messages): a peer that stops reading is a peer gone, not
//! a daemon out of memory.
//!
//! Order: `busy` marks the one write under way (inline or the writer's);
//! nothing else is written until it clears, and bytes an inline write left
//! over (`leftover`) go out before anything queued after them. So a wire
//! has one writer at a time, which a ring needs.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::native::shared_memory::SharedRegion;
use crate::remote::frame::{self, Frame, ReadError};
use crate::remote::ring::{self, Consumer, Producer, RingError, Side};
use crate::remote::{Control, Outbound, PeerGone, RemoteEnvelope, Violation};

/// About how many bytes one frame carries before the writer starts another.
pub const BATCH_BYTES: usize = 1 << 20;
/// The most messages waiting for one peer; beyond it the peer counts as gone.
pub const MAX_QUEUED: usize = 1 << 20;

thread_local! {
    /// The frame an inline write encodes, reused across sends (a host
    /// thread-local: the host is never unloaded).
    static INLINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What waits to be written, in order.
enum Item {
    Message(RemoteEnvelope),
    Control(Control),
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    /// Bytes of a frame an inline write could not finish; written first.
    leftover: Vec<u8>,
    /// A write is under way (inline or by the writer thread).
    busy: bool,
    closed: bool,
    /// Someone waits in [`StreamSender::flush`] to be told of idleness.
    flushing: bool,
}

impl Queue {
    fn idle(&self) -> bool {
        !self.busy && self.items.is_empty() && self.leftover.is_empty()
    }
}

/// What a connection runs over.
#[derive(Debug)]
pub(crate) enum Channel {
    /// Frames on the socket itself.
    Socket(UnixStream),
    /// Frames in rings shared with the peer; the socket carries only
    /// doorbell bytes, and its end is the peer's end.
    Shared {
        /// The doorbell (and the peer's liveness).
        socket: UnixStream,
        /// The region holding both rings.
        region: Arc<SharedRegion>,
        /// Which end of the region this process is.
        side: Side,
    },
}

impl Channel {
    /// The socket under the channel.
    pub(crate) fn socket(&self) -> &UnixStream {
        match self {
            Channel::Socket(s) | Channel::Shared { socket: s, .. } => s,
        }
    }

    /// The channel's writing and reading halves.
    pub(crate) fn split(&self) -> std::io::Result<(Wire, Reader)> {
        Ok(match self {
            Channel::Socket(s) => (Wire::Socket(s.try_clone()?), Reader::Socket(SpinningReader::new(s.try_clone()?))),
            Channel::Shared { socket, region, side } => {
                let (producer, consumer) = ring::ends(region.clone(), *side);
                let broken = Arc::new(Mutex::new(None));
                let wire = Wire::Ring {
                    producer: Mutex::new(producer),
                    doorbell: socket.try_clone()?,
                    broken: broken.clone(),
                };
                let reader = Reader::Ring(consumer, socket.try_clone()?, broken);
                (wire, reader)
            }
        })
    }
}

/// Where a sender's bytes go.
pub(crate) enum Wire {
    Socket(UnixStream),
    /// `broken`: set when the peer broke the ring this side writes (see
    /// [`Wire::send_nonblocking`]); the reader reports it as the violation.
    Ring {
        producer: Mutex<Producer>,
        doorbell: UnixStream,
        broken: BrokenRing,
    },
}

/// Where a sender leaves the ring error it found, for the reader thread.
pub(crate) type BrokenRing = Arc<Mutex<Option<RingError>>>;

impl Wire {
    /// Writes what the wire takes of `bytes` now; how many bytes went. A
    /// ring the peer broke is left in `broken` and the socket's reading
    /// side shut, so that the reader thread wakes and drops the peer.
    fn send_nonblocking(&self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Wire::Socket(s) => crate::native::os::send_nonblocking(s, bytes),
            Wire::Ring { producer, doorbell, broken } => {
                let mut p = producer.lock().unwrap_or_else(|e| e.into_inner());
                let n = match p.put(bytes) {
                    Ok(n) => n,
                    Err(e) => {
                        broken.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e.clone());
                        let _ = doorbell.shutdown(std::net::Shutdown::Read);
                        return Err(e.into());
                    }
                };
                if n > 0 && p.consumer_asleep() {
                    ring_doorbell(doorbell)?;
                }
                Ok(n)
            }
        }
    }

    /// Writes all of `bytes`, waiting for room as long as the peer is there.
    fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        let doorbell = match self {
            Wire::Socket(s) => return (&*s).write_all(bytes).and_then(|()| (&*s).flush()),
            Wire::Ring { doorbell, .. } => doorbell,
        };
        let mut off = 0;
        let mut nap = std::time::Duration::from_micros(20);
        while off < bytes.len() {
            let n = self.send_nonblocking(&bytes[off..])?;
            off += n;
            if n > 0 {
                nap = std::time::Duration::from_micros(20);
                continue;
            }
            // The ring is full: the reader is busy or gone.
            if crate::native::os::hung_up(doorbell) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(std::time::Duration::from_millis(1));
        }
        Ok(())
    }
}

/// Tells a sleeping reader that the ring has data. A full socket buffer
/// means doorbells are waiting to be read already.
fn ring_doorbell(doorbell: &UnixStream) -> std::io::Result<()> {
    crate::native::os::send_nonblocking(doorbell, &[ring::DOORBELL]).map(drop)
}

/// The sending half of a stream transport (an [`Outbound`]).
pub struct StreamSender {
    peer: u32,
    out: Wire,
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl StreamSender {
    /// Stops sending: queued messages are dropped, later sends fail, and the
    /// writer thread ends.
    pub fn close(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.closed = true;
        q.items.clear();
        q.leftover.clear();
        self.ready.notify_all();
    }

    /// Waits up to `limit` until everything queued so far is written (or
    /// the sender is closed); true if it was.
    pub fn flush(&self, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        while !q.idle() && !q.closed {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            q.flushing = true;
            q = self.ready.wait_timeout(q, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        q.flushing = false;
        true
    }

    /// Wakes a [`StreamSender::flush`] once the queue is idle.
    fn wake_flusher(&self, q: &Queue) {
        if q.flushing && q.idle() {
            self.ready.notify_all();
        }
    }

    /// Sends a control message (after every message sent before it).
    pub fn send_control(&self, ctrl: Control) -> Result<(), PeerGone> {
        self.push(Item::Control(ctrl))
    }

    fn push(&self, item: Item) -> Result<(), PeerGone> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.closed || q.items.len() >= MAX_QUEUED {
            return Err(PeerGone(self.peer));
        }
        if q.idle() {
            q.busy = true;
            drop(q);
            self.write_inline(item);
            return Ok(());
        }
        q.items.push_back(item);
        if q.items.len() == 1 {
            self.ready.notify_all();
        }
        Ok(())
    }

    /// Writes one item's frame from the sending thread without blocking;
    /// hands what the socket did not take to the writer thread.
    fn write_inline(&self, item: Item) {
        INLINE.with(|buf| {
            let mut bytes = buf.borrow_mut();
            bytes.clear();
            encode_item(item, &mut bytes);
            let sent = self.out.send_nonblocking(&bytes);
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.busy = false;
            match sent {
                Ok(n) if n == bytes.len() => {}
                Ok(n) => q.leftover.extend_from_slice(&bytes[n..]),
                Err(_) => {
                    q.closed = true;
                    q.items.clear();
                }
            }
            if !q.idle() || q.closed {
                self.ready.notify_all();
            }
            self.wake_flusher(&q);
            drop(q);
            // One large message must not pin its buffer on this thread.
            if bytes.capacity() > BATCH_BYTES {
                *bytes = Vec::new();
            }
        });
    }

    /// Waits until there is something to write and no write is under way,
    /// and encodes it into `out`: left-over bytes first, then the messages
    /// at the head of the queue as one batch frame, or one control frame.
    /// Marks the write under way. `None` once closed.
    fn next_frames(&self, batch: &mut Vec<RemoteEnvelope>, out: &mut Vec<u8>) -> Option<()> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        while !q.closed && (q.busy || (q.items.is_empty() && q.leftover.is_empty())) {
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        if q.closed {
            return None;
        }
        q.busy = true;
        out.append(&mut q.leftover);
        if let Some(Item::Control(_)) = q.items.front() {
            if let Some(item) = q.items.pop_front() {
                drop(q);
                encode_item(item, out);
            }
            return Some(());
        }
        let mut bytes = 0;
        while let Some(Item::Message(_)) = q.items.front() {
            let Some(Item::Message(env)) = q.items.pop_front() else { break };
            bytes += approx_size(&env);
            batch.push(env);
            if batch.len() == frame::MAX_BATCH as usize || bytes >= BATCH_BYTES {
                break;
            }
        }
        drop(q);
        if !batch.is_empty() {
            frame::encode_batch(batch, out);
            batch.clear();
        }
        Some(())
    }

    /// The writer's write ended: the next one may start.
    fn done_writing(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.busy = false;
        self.wake_flusher(&q);
    }
}

fn encode_item(item: Item, out: &mut Vec<u8>) {
    match item {
        Item::Message(env) => frame::encode_batch(std::slice::from_ref(&env), out),
        Item::Control(ctrl) => frame::encode_control(&ctrl, out),
    }
}

impl Outbound for StreamSender {
    fn send(&self, env: RemoteEnvelope) -> Result<(), PeerGone> {
        self.push(Item::Message(env))
    }
}

/// A rough byte size of an envelope, to cut batches.
fn approx_size(env: &RemoteEnvelope) -> usize {
    40 + body_size(&env.msg)
}

fn body_size(msg: &crate::remote::RemoteMessage) -> usize {
    use crate::remote::RemoteMessage as M;
    match msg {
        M::Value(b) | M::Wakeup(b) => b.len(),
        M::Poison { original, details, .. } => original.len() + details.len(),
        M::Tracked { msg, .. } => 8 + body_size(msg),
        M::Delivered { error, .. } => 9 + error.as_ref().map_or(0, String::len),
        M::ExitRequest | M::ChildExited { .. } => 16,
    }
}

/// Starts the writer thread for `peer` on `out`. The thread ends when the
/// sender is closed or a write fails (the sender is then closed too).
pub(crate) fn start_writer(peer: u32, out: Wire) -> std::io::Result<(Arc<StreamSender>, JoinHandle<()>)> {
    let sender = Arc::new(StreamSender { peer, out, queue: Mutex::default(), ready: Condvar::new() });
    let me = sender.clone();
    let handle = std::thread::Builder::new().name(format!("thespian-out-{peer}")).spawn(move || {
        let (mut batch, mut bytes) = (Vec::new(), Vec::new());
        loop {
            bytes.clear();
            if me.next_frames(&mut batch, &mut bytes).is_none() {
                break;
            }
            let wrote = me.out.write_all(&bytes);
            me.done_writing();
            if wrote.is_err() {
                me.close();
            }
        }
    })?;
    Ok((sender, handle))
}

/// The reading half of a stream transport: reads through a 64 KiB buffer,
/// and when the socket is empty polls it briefly (see `crate::spin`)
/// before blocking, so that a reply that follows a message closely is
/// read without the reader thread sleeping and waking.
pub struct SpinningReader {
    inner: std::io::BufReader<Polled>,
}

impl SpinningReader {
    /// A reader of `stream`.
    pub fn new(stream: UnixStream) -> SpinningReader {
        SpinningReader {
            inner: std::io::BufReader::with_capacity(1 << 16, Polled(stream, crate::spin::Spinner::new())),
        }
    }
}

impl Read for SpinningReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact(buf)
    }
}

/// A socket read that polls before it blocks.
struct Polled(UnixStream, crate::spin::Spinner);

impl Read for Polled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use crate::native::os::{readable_now, recv_nonblocking, wait_readable};
        if let Some(n) = recv_nonblocking(&self.0, buf)? {
            return Ok(n);
        }
        let stream = &self.0;
        self.1.wait(|| readable_now(stream).then_some(Ok(())), || wait_readable(stream))?;
        (&self.0).read(buf)
    }
}

/// The reading half of a channel: a socket to read frames from, or a ring
/// and its doorbell (see `inbound`).
pub(crate) enum Reader {
    Socket(SpinningReader),
    Ring(Consumer, UnixStream, BrokenRing),
}

/// How a read loop ended.
#[derive(Debug, thiserror::Error)]
pub enum Ended {
    /// The peer closed the stream between frames.
    #[error("node {0} closed its connection")]
    Closed(u32),
    /// The stream failed or ended inside a frame.
    #[error("node {peer}: {error}")]
    Broken {
        /// The peer.
        peer: u32,
        /// What failed.
        error: std::io::Error,
    },
    /// The peer broke the protocol (it must be dropped).
    #[error(transparent)]
    Violation(#[from] Violation),
}

/// Reads frames from `peer` until the stream ends or the peer breaks the
/// protocol, handing each to `handle`; a refusal by it ends the loop too.
pub(crate) fn read_loop(
    peer: u32,
    mut input: impl Read,
    mut handle: impl FnMut(Frame) -> Result<(), Violation>,
) -> Ended {
    let mut buf = Vec::new();
    loop {
        match frame::read_frame(&mut input, &mut buf) {
            Ok(None) => return Ended::Closed(peer),
            Ok(Some(frame)) => {
                if let Err(v) = handle(frame) {
                    return Ended::Violation(v);
                }
            }
            Err(ReadError::Io(error)) => return Ended::Broken { peer, error },
            Err(ReadError::Frame(error)) => return Ended::Violation(Violation::BadFrame { peer, error }),
        }
    }
}

/// A live stream transport to one peer: its writer and reader threads.
/// Dropping it leaves the threads running; [`Connection::close`] ends them.
pub struct Connection {
    peer: u32,
    sender: Arc<StreamSender>,
    channel: Channel,
    reader: Option<JoinHandle<Ended>>,
    writer: Option<JoinHandle<()>>,
    violation: Arc<Mutex<Option<Violation>>>,
}

impl Connection {
    pub(crate) fn new(
        peer: u32,
        sender: Arc<StreamSender>,
        channel: Channel,
        reader: JoinHandle<Ended>,
        writer: JoinHandle<()>,
        violation: Arc<Mutex<Option<Violation>>>,
    ) -> Connection {
        Connection { peer, sender, channel, reader: Some(reader), writer: Some(writer), violation }
    }

    /// The protocol violation the peer was dropped for, if that is how the
    /// reader ended ([`Connection::join`] gives every ending).
    pub fn violation(&self) -> Option<Violation> {
        self.violation.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The peer's node.
    pub fn peer(&self) -> u32 {
        self.peer
    }

    /// Sends a control message to the peer (after the messages before it).
    pub fn send_control(&self, ctrl: Control) -> Result<(), PeerGone> {
        self.sender.send_control(ctrl)
    }

    /// The sending half, for whatever else must write to the peer (a
    /// worker's log forwarder).
    pub fn sender(&self) -> Arc<StreamSender> {
        self.sender.clone()
    }

    /// Waits up to `limit` until everything sent so far is written; true
    /// if it was (see [`StreamSender::flush`]).
    pub fn flush(&self, limit: std::time::Duration) -> bool {
        self.sender.flush(limit)
    }

    /// Shuts the stream down and waits for both threads; returns how the
    /// reader ended. What is still queued is dropped: [`Connection::flush`]
    /// first to send it.
    pub fn close(mut self) -> Option<Ended> {
        self.sender.close();
        let _ = self.channel.socket().shutdown(std::net::Shutdown::Both);
        self.join()
    }

    /// Waits for the reader to end (the peer goes away), then for the
    /// writer; returns how the reader ended.
    pub fn join(&mut self) -> Option<Ended> {
        let ended = self.reader.take().and_then(|h| h.join().ok());
        self.sender.close();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        ended
    }
}
