//! What sits in a mailbox: messages in the form that costs least to carry.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

use actor_abi::ffi::{self, FfiMessage, FfiStr};
use actor_abi::{Address, Message, Value, wire};

use crate::plugin::code::PluginCode;

/// A message as the runtime carries it.
pub(crate) enum Payload {
    /// Built by the host (host actors, the embedding API, system messages).
    Native(Message),
    /// A value a plugin sent to another package or to the host, as bytes.
    Encoded(Vec<u8>),
    /// A plugin-owned message for an actor of the same package version.
    Opaque(OpaqueMsg),
    /// A plugin-originated message (`Encoded` or `Opaque`) that poisoned its target.
    PoisonOf {
        /// The message that was sent.
        original: Box<Payload>,
        /// The actor that could not handle it.
        target: Address,
        /// The panic text.
        details: String,
    },
}

/// A message in one mailbox.
pub(crate) struct Envelope {
    pub(crate) from: Address,
    pub(crate) payload: Payload,
    /// Completed once the handler has run (or the message is dead), for
    /// [`ActorSystem::tell_delivered`](crate::ActorSystem::tell_delivered).
    pub(crate) done: Option<std::sync::Arc<crate::reply::ReplySlot>>,
}

/// A `Box<Message>` owned by a plugin library, held by the host until it is
/// delivered back to that library or dropped there. Holds a reference on the
/// library so it cannot be unloaded first.
pub(crate) struct OpaqueMsg {
    ptr: NonNull<c_void>,
    home: u64,
    code: Arc<PluginCode>,
}

// SAFETY: the pointer is a `Box<Message>` whose contents are `Send` (the
// plugin's Message type only holds `Send` data); the host never reads it.
unsafe impl Send for OpaqueMsg {}

impl OpaqueMsg {
    /// Takes ownership of a plugin's message.
    pub(crate) fn new(ptr: NonNull<c_void>, home: u64, code: Arc<PluginCode>) -> Self {
        OpaqueMsg { ptr, home, code }
    }

    /// The package version that made it.
    pub(crate) fn home(&self) -> u64 {
        self.home
    }
}

impl Drop for OpaqueMsg {
    fn drop(&mut self) {
        self.code.drop_opaque(self.ptr);
    }
}

impl Payload {
    /// A short description for logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            Payload::Native(m) => m.describe(),
            Payload::Encoded(b) => {
                wire::decode(b).map_or_else(|e| format!("<bad value: {e}>"), |v| Message::Value(v).describe())
            }
            Payload::Opaque(_) => "<package-internal message>".to_string(),
            Payload::PoisonOf { original, target, .. } => {
                format!("PoisonMessage({} -> {target})", original.describe())
            }
        }
    }

    /// True for Thespian's system messages (not user data).
    pub(crate) fn is_system(&self) -> bool {
        match self {
            Payload::Native(m) => m.is_system(),
            Payload::PoisonOf { .. } => true,
            Payload::Encoded(_) | Payload::Opaque(_) => false,
        }
    }

    /// The home an opaque payload is bound to, if any.
    pub(crate) fn bound_home(&self) -> Option<u64> {
        match self {
            Payload::Opaque(o) => Some(o.home()),
            Payload::PoisonOf { original, .. } => original.bound_home(),
            _ => None,
        }
    }

    /// True for a host-made typed message (it can only reach host actors).
    pub(crate) fn is_host_typed(&self) -> bool {
        match self {
            Payload::Native(Message::Typed(_)) => true,
            Payload::Native(Message::PoisonMessage { original, .. }) => {
                matches!(**original, Message::Typed(_))
            }
            _ => false,
        }
    }

    /// Wraps a message that poisoned `target` for its sender.
    pub(crate) fn poison(self, target: Address, details: String) -> Payload {
        match self {
            Payload::Native(m) => Payload::Native(Message::PoisonMessage { original: Box::new(m), target, details }),
            other => Payload::PoisonOf { original: Box::new(other), target, details },
        }
    }

    /// The plain value, if this is one (for replies to asks).
    pub(crate) fn into_value(self) -> Option<Value> {
        match self {
            Payload::Native(Message::Value(v)) => Some(v),
            Payload::Encoded(b) => wire::decode(&b).ok(),
            _ => None,
        }
    }

    /// Converts to a host-side message; `Err` names why it cannot be one.
    pub(crate) fn into_host_message(self) -> Result<Message, String> {
        match self {
            Payload::Native(m) => Ok(m),
            Payload::Encoded(b) => wire::decode(&b).map(Message::Value).map_err(|e| e.to_string()),
            Payload::Opaque(_) => Err("a package-internal message cannot reach the host".into()),
            Payload::PoisonOf { original, target, details } => {
                let original = Box::new(original.into_host_message()?);
                Ok(Message::PoisonMessage { original, target, details })
            }
        }
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
            Payload::Native(msg) => text = native_to_ffi(msg, scratch, &mut m)?,
            Payload::Encoded(b) => lent = Some(b),
            Payload::Opaque(o) => {
                m.kind = ffi::KIND_OPAQUE;
                m.opaque = o.ptr.as_ptr();
            }
            Payload::PoisonOf { original, target, details } => {
                m.kind = ffi::KIND_POISON;
                m.addr = *target;
                text.clone_from(details);
                match &**original {
                    Payload::Encoded(b) => {
                        m.inner = ffi::KIND_VALUE;
                        lent = Some(b);
                    }
                    Payload::Opaque(o) => {
                        m.inner = ffi::KIND_OPAQUE;
                        m.opaque = o.ptr.as_ptr();
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
