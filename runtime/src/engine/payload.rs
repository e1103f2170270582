//! What sits in a mailbox: messages in the form that costs least to carry.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

use actor_abi::ffi::{self, FfiMessage, FfiStr};
use actor_abi::{Address, Message, Value, wire};

use crate::engine::reply::ReplySlot;
use crate::engine::state::EngineState;
use crate::error::AskError;
use crate::native::library::Library;

/// A message as the runtime carries it.
///
/// Every variant is at most two words, so an [`Envelope`] stays small: a
/// mailbox can hold a million of them (W1), and its memory is page faults.
pub(crate) enum Payload {
    /// Built by the host (host actors, the embedding API, system messages).
    Native(Box<Native>),
    /// A value a plugin sent to another package or to the host, as bytes.
    Encoded(Box<[u8]>),
    /// A plugin-owned message for an actor of the same package version.
    Opaque(OpaqueMsg),
    /// A plugin-originated message (`Encoded` or `Opaque`) that poisoned its target.
    PoisonOf(Box<PoisonOf>),
}

/// A host-made message.
pub(crate) struct Native {
    pub(crate) msg: Message,
    /// Completed once the handler has run (or the message is dead), for
    /// `ActorSystem::tell_delivered`.
    /// Kept here rather than in every [`Envelope`]: only host messages
    /// carry one.
    pub(crate) done: Option<Done>,
}

/// Who waits until a message's handler has run.
pub(crate) enum Done {
    /// A waiter of this node (`ActorSystem::tell_delivered`).
    Here(Arc<ReplySlot>),
    /// A waiter of another node, told by a `Delivered` message.
    Elsewhere {
        /// The other node's number for this delivery.
        ticket: u64,
        /// The other node.
        peer: u32,
    },
}

impl Done {
    /// Tells the waiter the handler ran (`Ok`) or why the message died.
    pub(crate) fn complete(&self, engine: &Arc<EngineState>, result: Result<(), AskError>) {
        match self {
            Done::Here(slot) => slot.complete(result.map(|()| Value::Null)),
            Done::Elsewhere { ticket, peer } => {
                crate::engine::nodes::delivered(engine, *peer, *ticket, result.err().map(|e| e.to_string()));
            }
        }
    }
}

/// A plugin-originated message that poisoned its target.
pub(crate) struct PoisonOf {
    /// The message that was sent.
    pub(crate) original: Payload,
    /// The actor that could not handle it.
    pub(crate) target: Address,
    /// The panic text.
    pub(crate) details: String,
}

/// A message in one mailbox.
pub(crate) struct Envelope {
    pub(crate) from: Address,
    pub(crate) payload: Payload,
}

impl Envelope {
    /// Takes the delivery waiter, if the message has one.
    pub(crate) fn take_done(&mut self) -> Option<Done> {
        self.payload.take_done()
    }

    /// The delivery waiter, if the message has one.
    pub(crate) fn done(&self) -> Option<&Done> {
        match &self.payload {
            Payload::Native(n) => n.done.as_ref(),
            _ => None,
        }
    }
}

/// A message owned by a plugin library (a `Box<Message>`, or a typed
/// message's box as two pointers; see `actor_abi::ffi::FfiMessage`), held by
/// the host until it is delivered back to that library or dropped there.
/// Holds a reference on the library so it cannot be unloaded first.
pub(crate) struct OpaqueMsg {
    ptr: NonNull<c_void>,
    meta: *mut c_void,
    library: Arc<Library>,
}

// SAFETY: the pointers are a plugin box whose contents are `Send` (the
// plugin's Message type only holds `Send` data); the host never reads them.
unsafe impl Send for OpaqueMsg {}

impl OpaqueMsg {
    /// Takes ownership of a plugin's message.
    pub(crate) fn new(ptr: NonNull<c_void>, meta: *mut c_void, library: Arc<Library>) -> Self {
        OpaqueMsg { ptr, meta, library }
    }

    fn lend(&self, m: &mut FfiMessage) {
        m.opaque = self.ptr.as_ptr();
        m.opaque_meta = self.meta;
    }

    /// The package version that made it.
    pub(crate) fn home(&self) -> u32 {
        self.library.home()
    }
}

impl Drop for OpaqueMsg {
    fn drop(&mut self) {
        self.library.drop_opaque(self.ptr, self.meta);
    }
}

impl Payload {
    /// A host-made message.
    pub(crate) fn native(msg: Message) -> Payload {
        Payload::Native(Box::new(Native { msg, done: None }))
    }

    /// A host-made message whose handling completes `done`.
    pub(crate) fn native_tracked(msg: Message, done: Done) -> Payload {
        Payload::Native(Box::new(Native { msg, done: Some(done) }))
    }

    /// Takes the delivery waiter, if the message has one.
    pub(crate) fn take_done(&mut self) -> Option<Done> {
        match self {
            Payload::Native(n) => n.done.take(),
            _ => None,
        }
    }

    /// True for [`Message::ActorExitRequest`].
    pub(crate) fn is_exit_request(&self) -> bool {
        matches!(self, Payload::Native(n) if matches!(n.msg, Message::ActorExitRequest))
    }

    /// A short description for logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            Payload::Native(n) => n.msg.describe(),
            Payload::Encoded(b) => {
                wire::decode(b).map_or_else(|e| format!("<bad value: {e}>"), |v| Message::Value(v).describe())
            }
            Payload::Opaque(_) => "<package-internal message>".to_string(),
            Payload::PoisonOf(p) => format!("PoisonMessage({} -> {})", p.original.describe(), p.target),
        }
    }

    /// True for Thespian's system messages (not user data).
    pub(crate) fn is_system(&self) -> bool {
        match self {
            Payload::Native(n) => n.msg.is_system(),
            Payload::PoisonOf(_) => true,
            Payload::Encoded(_) | Payload::Opaque(_) => false,
        }
    }

    /// The home an opaque payload is bound to, if any.
    pub(crate) fn bound_home(&self) -> Option<u32> {
        match self {
            Payload::Opaque(o) => Some(o.home()),
            Payload::PoisonOf(p) => p.original.bound_home(),
            _ => None,
        }
    }

    /// True for a host-made typed message (it can only reach host actors).
    pub(crate) fn is_host_typed(&self) -> bool {
        match self {
            Payload::Native(n) => match &n.msg {
                Message::Typed(_) => true,
                Message::PoisonMessage { original, .. } => matches!(**original, Message::Typed(_)),
                _ => false,
            },
            _ => false,
        }
    }

    /// Wraps a message that poisoned `target` for its sender.
    pub(crate) fn poison(self, target: Address, details: String) -> Payload {
        match self {
            Payload::Native(n) => {
                Payload::native(Message::PoisonMessage { original: Box::new(n.msg), target, details })
            }
            original => Payload::PoisonOf(Box::new(PoisonOf { original, target, details })),
        }
    }

    /// The plain value, if this is one (for replies to asks).
    pub(crate) fn into_value(self) -> Option<Value> {
        match self {
            Payload::Native(n) => match n.msg {
                Message::Value(v) => Some(v),
                _ => None,
            },
            Payload::Encoded(b) => wire::decode(&b).ok(),
            _ => None,
        }
    }

    /// Converts to a host-side message; `Err` names why it cannot be one.
    pub(crate) fn into_host_message(self) -> Result<Message, String> {
        match self {
            Payload::Native(n) => Ok(n.msg),
            Payload::Encoded(b) => wire::decode(&b).map(Message::Value).map_err(|e| e.to_string()),
            Payload::Opaque(_) => Err("a package-internal message cannot reach the host".into()),
            Payload::PoisonOf(p) => {
                let PoisonOf { original, target, details } = *p;
                let original = Box::new(original.into_host_message()?);
                Ok(Message::PoisonMessage { original, target, details })
            }
        }
    }

    /// The [`FfiMessage`] of a package-internal message, which needs no
    /// encoding (the common case between actors of one package).
    pub(crate) fn opaque_ffi(&self) -> Option<FfiMessage> {
        let Payload::Opaque(o) = self else { return None };
        let mut m = FfiMessage::bare(ffi::KIND_OPAQUE);
        o.lend(&mut m);
        Some(m)
    }

    /// Presents the payload to a plugin as an [`FfiMessage`] for one call.
    /// `scratch` holds encoded bytes for the duration of `f`.
    pub(crate) fn with_ffi<R>(&self, scratch: &mut Vec<u8>, f: impl FnOnce(&FfiMessage) -> R) -> Result<R, String> {
        scratch.clear();
        let mut m = FfiMessage::bare(ffi::KIND_VALUE);
        let mut text = String::new();
        // Bytes that are already encoded are lent as they are; others are
        // encoded into `scratch`.
        let mut lent: Option<&[u8]> = None;
        match self {
            Payload::Native(n) => text = native_to_ffi(&n.msg, scratch, &mut m)?,
            Payload::Encoded(b) => lent = Some(b),
            Payload::Opaque(o) => {
                m.kind = ffi::KIND_OPAQUE;
                o.lend(&mut m);
            }
            Payload::PoisonOf(p) => {
                m.kind = ffi::KIND_POISON;
                m.addr = p.target;
                text.clone_from(&p.details);
                match &p.original {
                    Payload::Encoded(b) => {
                        m.inner = ffi::KIND_VALUE;
                        lent = Some(b);
                    }
                    Payload::Opaque(o) => {
                        m.inner = ffi::KIND_OPAQUE;
                        o.lend(&mut m);
                    }
                    _ => return Err("unsupported poisoned message".into()),
                }
            }
        }
        m.bytes = FfiStr::from_bytes(lent.unwrap_or(scratch));
        m.text = FfiStr::from_text(&text);
        Ok(f(&m))
    }
}

/// Fills `m` for a host-made message; returns the poison text to attach.
fn native_to_ffi(msg: &Message, scratch: &mut Vec<u8>, m: &mut FfiMessage) -> Result<String, String> {
    match msg {
        Message::Value(v) => wire::encode_into(v, scratch),
        Message::ActorExitRequest => m.kind = ffi::KIND_EXIT,
        Message::ChildActorExited { child } => {
            m.kind = ffi::KIND_CHILD_EXITED;
            m.addr = *child;
        }
        Message::WakeupMessage { payload } => {
            m.kind = ffi::KIND_WAKEUP;
            wire::encode_into(payload, scratch);
        }
        Message::PoisonMessage { original, target, details } => {
            let Message::Value(v) = &**original else {
                return Err("a poisoned typed message cannot reach a package".into());
            };
            m.kind = ffi::KIND_POISON;
            m.inner = ffi::KIND_VALUE;
            m.addr = *target;
            wire::encode_into(v, scratch);
            return Ok(details.clone());
        }
        Message::Typed(_) => return Err("a host typed message cannot reach a package".into()),
    }
    Ok(String::new())
}
#[cfg(test)]
mod tests {
    /// A mailbox may hold a million envelopes (W1): their size is memory and
    /// page faults, so growing them should be a decision, not an accident.
    #[test]
    fn envelopes_stay_small() {
        assert!(size_of::<super::Payload>() <= 32, "Payload is {} bytes", size_of::<super::Payload>());
        assert!(size_of::<super::Envelope>() <= 48, "Envelope is {} bytes", size_of::<super::Envelope>());
    }
}
