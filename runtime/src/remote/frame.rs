//! The frames messages travel in between nodes: length-prefixed, versioned,
//! batched, little-endian.
//!
//! ```text
//! frame    := len:u32 body                  len = bytes of body, 2..=MAX_FRAME
//! body     := version:u8 kind:u8 ...        version = PROTOCOL_VERSION
//! kind 1   := count:u32 envelope*count      a batch, 1..=MAX_BATCH envelopes
//! kind 2   := op:u8 ...                     a control message (see below)
//! envelope := from:addr to:addr tag:u8 ...
//! tag 1    := bytes                         a value (wire bytes)
//! tag 2    :=                               ActorExitRequest
//! tag 3    := child:addr                    ChildActorExited
//! tag 4    := bytes                         WakeupMessage (payload as wire bytes)
//! tag 5    := target:addr bytes text        PoisonMessage (original value, details)
//! tag 6    := ticket:u64 tag ...            a tracked message (tags 1-5 only)
//! tag 7    := ticket:u64 ok:u8 [text]       Delivered (the text when ok = 0)
//! addr     := id:u64 home:u32 node:u32
//! bytes    := len:u32 byte*len              text = bytes that are UTF-8
//! texts    := count:u32 text*count          count <= MAX_TEXTS
//! op 1 Hello   := node:u32 pid:u32          op 2 Load := text*6 texts
//! op 3 Loaded  := home:u32 text texts       op 4 Create := text texts(0..=1) addr
//! op 5 Created := addr                      op 6 Failed := text
//! op 7 Stop    := drain_ms:u64               op 8 Log := level:u8 text text addr
//! op 9 ClaimName := id:u64 text addr         op 10 NameClaimed := id:u64 addr
//! op 11 ReleaseName := text addr             op 12 Stopped := undelivered:u64
//! ```
//!
//! Decoding trusts nothing: every length is checked against what is left,
//! counts and sizes are capped, unknown versions, kinds and tags are refused
//! and nothing may follow the last envelope.
//!
//! ```
//! use actor_abi::Address;
//! use runtime::remote::{RemoteEnvelope, RemoteMessage, frame};
//!
//! let env = RemoteEnvelope {
//!     from: Address::from_parts(1, 2, 3),
//!     to: Address::from_parts(0, 0, 9),
//!     msg: RemoteMessage::ExitRequest,
//! };
//! let mut out = Vec::new();
//! frame::encode_batch(std::slice::from_ref(&env), &mut out);
//! let Some(frame::Frame::Batch(back)) = frame::read_frame(&mut out.as_slice(), &mut Vec::new())? else { panic!() };
//! assert_eq!(back, vec![env]);
//! # Ok::<(), frame::ReadError>(())
//! ```

use std::io::Read;

use actor_abi::Address;

use crate::remote::control::{Control, LoadRequest};
use crate::remote::message::{RemoteEnvelope, RemoteMessage};

/// The protocol version this runtime speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// The largest frame body accepted (16 MiB).
pub const MAX_FRAME: usize = 16 << 20;
/// The most envelopes in one batch.
pub const MAX_BATCH: u32 = 65_536;
/// The most texts in one list of a control message (class names).
pub const MAX_TEXTS: u32 = 10_000;

const KIND_BATCH: u8 = 1;
const KIND_CONTROL: u8 = 2;
const OP_HELLO: u8 = 1;
const OP_LOAD: u8 = 2;
const OP_LOADED: u8 = 3;
const OP_CREATE: u8 = 4;
const OP_CREATED: u8 = 5;
const OP_FAILED: u8 = 6;
const OP_STOP: u8 = 7;
const OP_LOG: u8 = 8;
const OP_CLAIM_NAME: u8 = 9;
const OP_NAME_CLAIMED: u8 = 10;
const OP_RELEASE_NAME: u8 = 11;
const OP_STOPPED: u8 = 12;
const TAG_VALUE: u8 = 1;
const TAG_EXIT: u8 = 2;
const TAG_CHILD_EXITED: u8 = 3;
const TAG_WAKEUP: u8 = 4;
const TAG_POISON: u8 = 5;
const TAG_TRACKED: u8 = 6;
const TAG_DELIVERED: u8 = 7;
const ADDR_LEN: usize = 16;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Messages, in the order they were sent.
    Batch(Vec<RemoteEnvelope>),
    /// A control message.
    Control(Control),
}

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is out of bounds.
    #[error("frame length {len} is outside 2..={max}")]
    Length {
        /// The length the prefix gave.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// Another protocol version.
    #[error("protocol version {got}, this side speaks {PROTOCOL_VERSION}")]
    Version {
        /// The version the frame names.
        got: u8,
    },
    /// An unknown frame kind.
    #[error("unknown frame kind {0}")]
    Kind(u8),
    /// An unknown message tag.
    #[error("unknown message tag {0}")]
    Tag(u8),
    /// An unknown control operation.
    #[error("unknown control operation {0}")]
    Op(u8),
    /// A batch count out of bounds.
    #[error("batch of {0} messages (1..={MAX_BATCH} allowed)")]
    Count(u32),
    /// A list of texts longer than allowed.
    #[error("a list of {0} texts (at most {MAX_TEXTS} allowed)")]
    Texts(u32),
    /// A log level outside 1..=5.
    #[error("log level {0} (1..=5 allowed)")]
    Level(u8),
    /// An optional field with more than one value.
    #[error("an optional field holds {0} values")]
    Optional(usize),
    /// A field runs past the end of the frame.
    #[error("the frame ends inside a field at byte {at} (needs {needed} more)")]
    Truncated {
        /// Where the field starts.
        at: usize,
        /// How many bytes it needs.
        needed: usize,
    },
    /// Text that is not UTF-8.
    #[error("text at byte {0} is not UTF-8")]
    NotUtf8(usize),
    /// Bytes after the last message.
    #[error("{0} bytes after the last message")]
    Trailing(usize),
}

/// Why reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stream failed or ended inside a frame.
    #[error("reading a frame: {0}")]
    Io(#[from] std::io::Error),
    /// The frame broke the format.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Appends one batch frame holding `envs` to `out`. The caller keeps a
/// batch under [`MAX_BATCH`] messages and [`MAX_FRAME`] bytes.
pub fn encode_batch(envs: &[RemoteEnvelope], out: &mut Vec<u8>) {
    framed(out, KIND_BATCH, |out| {
        put_u32(out, u32::try_from(envs.len()).unwrap_or(u32::MAX));
        for env in envs {
            put_envelope(out, env);
        }
    });
}

/// Appends one control frame to `out`.
pub fn encode_control(ctrl: &Control, out: &mut Vec<u8>) {
    framed(out, KIND_CONTROL, |out| put_control(out, ctrl));
}

/// Appends one frame of `kind` whose body after the header `body` writes,
/// with its length prefix.
fn framed(out: &mut Vec<u8>, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&[PROTOCOL_VERSION, kind]);
    body(out);
    let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn put_control(out: &mut Vec<u8>, ctrl: &Control) {
    match ctrl {
        Control::Hello { node, pid } => {
            out.push(OP_HELLO);
            put_u32(out, *node);
            put_u32(out, *pid);
        }
        Control::Load(LoadRequest { dir, library, sha256, group, version, hash, actors }) => {
            out.push(OP_LOAD);
            for t in [dir, library, sha256, group, version, hash] {
                put_bytes(out, t.as_bytes());
            }
            put_texts(out, actors);
        }
        Control::Loaded { home, library, classes } => {
            out.push(OP_LOADED);
            put_u32(out, *home);
            put_bytes(out, library.as_bytes());
            put_texts(out, classes);
        }
        Control::Create { class, global_name, parent } => {
            out.push(OP_CREATE);
            put_bytes(out, class.as_bytes());
            put_texts(out, global_name.as_slice());
            put_addr(out, *parent);
        }
        Control::Created { addr } => {
            out.push(OP_CREATED);
            put_addr(out, *addr);
        }
        Control::Failed { reason } => {
            out.push(OP_FAILED);
            put_bytes(out, reason.as_bytes());
        }
        Control::Stop { drain_ms } => {
            out.push(OP_STOP);
            out.extend_from_slice(&drain_ms.to_le_bytes());
        }
        Control::Stopped { undelivered } => {
            out.push(OP_STOPPED);
            out.extend_from_slice(&undelivered.to_le_bytes());
        }
        Control::Log { level, target, message, actor } => {
            out.push(OP_LOG);
            out.push(*level);
            put_bytes(out, target.as_bytes());
            put_bytes(out, message.as_bytes());
            put_addr(out, *actor);
        }
        Control::ClaimName { id, name, addr } => {
            out.push(OP_CLAIM_NAME);
            out.extend_from_slice(&id.to_le_bytes());
            put_bytes(out, name.as_bytes());
            put_addr(out, *addr);
        }
        Control::NameClaimed { id, holder } => {
            out.push(OP_NAME_CLAIMED);
            out.extend_from_slice(&id.to_le_bytes());
            put_addr(out, *holder);
        }
        Control::ReleaseName { name, addr } => {
            out.push(OP_RELEASE_NAME);
            put_bytes(out, name.as_bytes());
            put_addr(out, *addr);
        }
    }
}

/// Reads one frame from `r`, using `buf` for its bytes. `Ok(None)` at a
/// clean end of the stream (between frames).
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<Frame>, ReadError> {
    let mut prefix = [0u8; 4];
    if !read_exact_or_eof(r, &mut prefix)? {
        return Ok(None);
    }
    let len = body_len(prefix)?;
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf)?;
    Ok(Some(decode(buf)?))
}

/// The body length a prefix announces, if it is within bounds.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(prefix) as usize;
    if (2..=MAX_FRAME).contains(&len) { Ok(len) } else { Err(FrameError::Length { len, max: MAX_FRAME }) }
}

/// Decodes a frame body (the bytes after the length prefix).
pub fn decode(body: &[u8]) -> Result<Frame, FrameError> {
    let mut c = Cursor { bytes: body, at: 0 };
    let version = c.u8()?;
    if version != PROTOCOL_VERSION {
        return Err(FrameError::Version { got: version });
    }
    match c.u8()? {
        KIND_BATCH => {
            let count = c.u32()?;
            if count == 0 || count > MAX_BATCH {
                return Err(FrameError::Count(count));
            }
            // Each envelope takes at least 33 bytes: no allocation beyond what the body can hold.
            let mut envs = Vec::with_capacity((count as usize).min(body.len() / (2 * ADDR_LEN + 1)));
            for _ in 0..count {
                envs.push(c.envelope()?);
            }
            c.finish(Frame::Batch(envs))
        }
        KIND_CONTROL => {
            let ctrl = c.control()?;
            c.finish(Frame::Control(ctrl))
        }
        other => Err(FrameError::Kind(other)),
    }
}

/// Like `read_exact`, but `false` if the stream ends before the first byte.
fn read_exact_or_eof(r: &mut impl Read, out: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < out.len() {
        match r.read(&mut out[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_addr(out: &mut Vec<u8>, a: Address) {
    out.extend_from_slice(&a.id().to_le_bytes());
    out.extend_from_slice(&a.home().to_le_bytes());
    out.extend_from_slice(&a.node().to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(b);
}

fn put_texts(out: &mut Vec<u8>, texts: &[String]) {
    put_u32(out, u32::try_from(texts.len()).unwrap_or(u32::MAX));
    for t in texts {
        put_bytes(out, t.as_bytes());
    }
}

fn put_envelope(out: &mut Vec<u8>, env: &RemoteEnvelope) {
    put_addr(out, env.from);
    put_addr(out, env.to);
    put_message(out, &env.msg);
}

fn put_message(out: &mut Vec<u8>, msg: &RemoteMessage) {
    match msg {
        RemoteMessage::Value(b) => {
            out.push(TAG_VALUE);
            put_bytes(out, b);
        }
        RemoteMessage::ExitRequest => out.push(TAG_EXIT),
        RemoteMessage::ChildExited { child } => {
            out.push(TAG_CHILD_EXITED);
            put_addr(out, *child);
        }
        RemoteMessage::Wakeup(b) => {
            out.push(TAG_WAKEUP);
            put_bytes(out, b);
        }
        RemoteMessage::Poison { original, target, details } => {
            out.push(TAG_POISON);
            put_addr(out, *target);
            put_bytes(out, original);
            put_bytes(out, details.as_bytes());
        }
        RemoteMessage::Tracked { ticket, msg } => {
            out.push(TAG_TRACKED);
            out.extend_from_slice(&ticket.to_le_bytes());
            put_message(out, msg);
        }
        RemoteMessage::Delivered { ticket, error } => {
            out.push(TAG_DELIVERED);
            out.extend_from_slice(&ticket.to_le_bytes());
            match error {
                None => out.push(1),
                Some(e) => {
                    out.push(0);
                    put_bytes(out, e.as_bytes());
                }
            }
        }
    }
}

/// Reads fields off a frame body, never past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(FrameError::Truncated { at: self.at, needed: n })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn addr(&mut self) -> Result<Address, FrameError> {
        let id = u64::from_le_bytes(self.array()?);
        let home = u32::from_le_bytes(self.array()?);
        let node = u32::from_le_bytes(self.array()?);
        Ok(Address::from_parts(node, home, id))
    }

    fn bytes(&mut self) -> Result<Box<[u8]>, FrameError> {
        let len = self.u32()? as usize;
        Ok(self.take(len)?.into())
    }

    fn text(&mut self) -> Result<String, FrameError> {
        let at = self.at;
        let bytes = self.bytes()?;
        String::from_utf8(bytes.into_vec()).map_err(|_| FrameError::NotUtf8(at))
    }

    /// `frame` if nothing follows it.
    fn finish(&self, frame: Frame) -> Result<Frame, FrameError> {
        match self.bytes.len() - self.at {
            0 => Ok(frame),
            n => Err(FrameError::Trailing(n)),
        }
    }

    fn texts(&mut self) -> Result<Vec<String>, FrameError> {
        let count = self.u32()?;
        if count > MAX_TEXTS {
            return Err(FrameError::Texts(count));
        }
        (0..count).map(|_| self.text()).collect()
    }

    fn control(&mut self) -> Result<Control, FrameError> {
        Ok(match self.u8()? {
            OP_HELLO => Control::Hello { node: self.u32()?, pid: self.u32()? },
            OP_LOAD => Control::Load(LoadRequest {
                dir: self.text()?,
                library: self.text()?,
                sha256: self.text()?,
                group: self.text()?,
                version: self.text()?,
                hash: self.text()?,
                actors: self.texts()?,
            }),
            OP_LOADED => Control::Loaded { home: self.u32()?, library: self.text()?, classes: self.texts()? },
            OP_CREATE => {
                let class = self.text()?;
                let mut names = self.texts()?;
                if names.len() > 1 {
                    return Err(FrameError::Optional(names.len()));
                }
                Control::Create { class, global_name: names.pop(), parent: self.addr()? }
            }
            OP_CREATED => Control::Created { addr: self.addr()? },
            OP_FAILED => Control::Failed { reason: self.text()? },
            OP_STOP => Control::Stop { drain_ms: self.u64()? },
            OP_STOPPED => Control::Stopped { undelivered: self.u64()? },
            OP_LOG => {
                let level = self.u8()?;
                if !(1..=5).contains(&level) {
                    return Err(FrameError::Level(level));
                }
                Control::Log { level, target: self.text()?, message: self.text()?, actor: self.addr()? }
            }
            OP_CLAIM_NAME => Control::ClaimName { id: self.u64()?, name: self.text()?, addr: self.addr()? },
            OP_NAME_CLAIMED => Control::NameClaimed { id: self.u64()?, holder: self.addr()? },
            OP_RELEASE_NAME => Control::ReleaseName { name: self.text()?, addr: self.addr()? },
            other => return Err(FrameError::Op(other)),
        })
    }

    fn envelope(&mut self) -> Result<RemoteEnvelope, FrameError> {
        let from = self.addr()?;
        let to = self.addr()?;
        let msg = match self.u8()? {
            TAG_TRACKED => {
                let ticket = u64::from_le_bytes(self.array()?);
                let tag = self.u8()?;
                RemoteMessage::Tracked { ticket, msg: Box::new(self.plain(tag)?) }
            }
            TAG_DELIVERED => {
                let ticket = u64::from_le_bytes(self.array()?);
                let error = match self.u8()? {
                    1 => None,
                    0 => Some(self.text()?),
                    other => return Err(FrameError::Tag(other)),
                };
                RemoteMessage::Delivered { ticket, error }
            }
            tag => self.plain(tag)?,
        };
        Ok(RemoteEnvelope { from, to, msg })
    }

    /// A message with tag `tag`, one of the plain kinds (1-5).
    fn plain(&mut self, tag: u8) -> Result<RemoteMessage, FrameError> {
        Ok(match tag {
            TAG_VALUE => RemoteMessage::Value(self.bytes()?),
            TAG_EXIT => RemoteMessage::ExitRequest,
            TAG_CHILD_EXITED => RemoteMessage::ChildExited { child: self.addr()? },
            TAG_WAKEUP => RemoteMessage::Wakeup(self.bytes()?),
            TAG_POISON => {
                let target = self.addr()?;
                let original = self.bytes()?;
                RemoteMessage::Poison { original, target, details: self.text()? }
            }
            other => return Err(FrameError::Tag(other)),
        })
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
