//! What an actor receives.

use std::any::Any;
use std::fmt;

use crate::address::Address;
use crate::value::Value;

/// A message delivered to [`Actor::receive`](crate::Actor::receive).
///
/// Most messages are [`Message::Value`]s. Actors of the same package may also
/// exchange their own Rust types as [`Message::Typed`] without serialising
/// them; such a message can never reach another package or the host. The
/// remaining variants are the system messages of Thespian's model.
pub enum Message {
    /// Plain data; the only kind that crosses a package boundary.
    Value(Value),
    /// A Rust value from an actor of the same package.
    Typed(Box<dyn Any + Send>),
    /// The actor is asked to stop; it is stopped right after this handler.
    ActorExitRequest,
    /// A child this actor created has stopped.
    ChildActorExited {
        /// The child's address.
        child: Address,
    },
    /// A wakeup asked for with [`Context::wakeup_after`](crate::Context::wakeup_after).
    WakeupMessage {
        /// The payload given when the wakeup was requested.
        payload: Value,
    },
    /// A message this actor sent made its target panic twice (once and the
    /// retry). The target keeps running.
    PoisonMessage {
        /// The message that was sent.
        original: Box<Message>,
        /// The actor that could not handle it.
        target: Address,
        /// What went wrong (the panic text).
        details: String,
    },
}

impl Message {
    /// The value, if this is a [`Message::Value`].
    pub fn value(&self) -> Option<&Value> {
        match self {
            Message::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        self.value().and_then(Value::as_str)
    }

    /// The entry `key`, if this is a map value that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value().and_then(|v| v.get(key))
    }

    /// The typed payload, if this is a [`Message::Typed`] holding a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Message::Typed(b) => b.downcast_ref(),
            _ => None,
        }
    }

    /// True for [`Message::ActorExitRequest`].
    pub fn is_exit_request(&self) -> bool {
        matches!(self, Message::ActorExitRequest)
    }

    /// True for the system messages (everything but `Value` and `Typed`).
    pub fn is_system(&self) -> bool {
        !matches!(self, Message::Value(_) | Message::Typed(_))
    }

    /// A short description for logs: the value as JSON, or the variant name.
    pub fn describe(&self) -> String {
        match self {
            Message::Value(v) => {
                let mut s = v.to_json_string();
                if s.len() > 200 {
                    let cut = (0..=200).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
                    s.truncate(cut);
                    s.push_str("...");
                }
                s
            }
            Message::Typed(_) => "<typed message>".to_string(),
            Message::ActorExitRequest => "ActorExitRequest".to_string(),
            Message::ChildActorExited { child } => format!("ChildActorExited({child})"),
            Message::WakeupMessage { payload } => format!("WakeupMessage({payload})"),
            Message::PoisonMessage { original, target, details } => {
                format!("PoisonMessage({} -> {target}: {details})", original.describe())
            }
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl From<Value> for Message {
    fn from(v: Value) -> Message {
        Message::Value(v)
    }
}
