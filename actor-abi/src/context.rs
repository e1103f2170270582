//! What a handler can do: the [`Context`] passed to [`Actor::receive`](crate::Actor::receive).

use std::any::Any;
use std::time::Duration;

use crate::address::Address;
use crate::message::Message;
use crate::value::Value;

/// The package an actor's code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo<'a> {
    /// The package's group (for example `"foo"`).
    pub group: &'a str,
    /// The package's version; empty for an unversioned package.
    pub version: &'a str,
    /// The package's hash as lowercase hex.
    pub hash: &'a str,
}

/// Why an actor could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The package does not export that class name.
    #[error("no exported actor class {class:?} in this package")]
    UnknownClass {
        /// The name asked for.
        class: String,
    },
    /// The actor system refused (for example, the package is being unloaded).
    #[error("cannot create actor {class:?}: {reason}")]
    Refused {
        /// The name asked for.
        class: String,
        /// Why.
        reason: String,
    },
}

/// The runtime side of a [`Context`]. Implemented by the host runtime and by
/// this crate's plugin glue; plugin authors never implement it.
#[doc(hidden)]
pub trait ContextBackend {
    /// The running actor's address.
    fn my_address(&self) -> Address;
    /// Routes a message; undeliverable messages become dead letters.
    fn send_message(&mut self, to: Address, msg: Message);
    /// Creates an actor from this actor's package.
    fn create_actor(&mut self, class: &str, global_name: Option<&str>) -> Result<Address, CreateError>;
    /// Delivers a wakeup to this actor after `delay`.
    fn wakeup_after(&mut self, delay: Duration, payload: Value);
    /// The running actor's package, if it came from one.
    fn source(&self) -> Option<SourceInfo<'_>>;
    /// Stops the actor after the current handler returns.
    fn exit(&mut self);
}

/// The handle a handler uses to act on the actor system.
pub struct Context<'a> {
    backend: &'a mut dyn ContextBackend,
}

impl<'a> Context<'a> {
    /// Wraps a backend. Only runtimes build contexts.
    #[doc(hidden)]
    pub fn new(backend: &'a mut dyn ContextBackend) -> Self {
        Context { backend }
    }

    /// This actor's own address.
    pub fn my_address(&self) -> Address {
        self.backend.my_address()
    }

    /// Sends a plain-data message. Never blocks and never fails here: a
    /// message nobody can receive is counted and logged as a dead letter.
    pub fn send(&mut self, to: &Address, msg: impl Into<Value>) {
        self.backend.send_message(*to, Message::Value(msg.into()));
    }

    /// Sends a Rust value to an actor of this same package, without
    /// serialising it. Sent anywhere else it is refused and logged as a
    /// dead letter.
    pub fn send_typed<T: Any + Send>(&mut self, to: &Address, msg: T) {
        self.backend.send_message(*to, Message::Typed(Box::new(msg)));
    }

    /// Asks `to` to stop: it gets [`Message::ActorExitRequest`], then stops.
    pub fn send_exit_request(&mut self, to: &Address) {
        self.backend.send_message(*to, Message::ActorExitRequest);
    }

    /// Creates a child actor from this package's exported class `class`.
    /// When the child stops, this actor gets [`Message::ChildActorExited`].
    pub fn create_actor(&mut self, class: &str) -> Result<Address, CreateError> {
        self.backend.create_actor(class, None)
    }

    /// Like [`Context::create_actor`] with a global name: if an actor with
    /// that name exists, its address is returned and nothing is created.
    pub fn create_named_actor(&mut self, class: &str, global_name: &str) -> Result<Address, CreateError> {
        self.backend.create_actor(class, Some(global_name))
    }

    /// Delivers [`Message::WakeupMessage`] with `payload` to this actor after
    /// `delay`.
    pub fn wakeup_after(&mut self, delay: Duration, payload: impl Into<Value>) {
        self.backend.wakeup_after(delay, payload.into());
    }

    /// The group, version and hash of this actor's package; `None` for
    /// actors that run in the host.
    pub fn source(&self) -> Option<SourceInfo<'_>> {
        self.backend.source()
    }

    /// Stops this actor once the current handler returns.
    pub fn exit(&mut self) {
        self.backend.exit();
    }
}
