//! A message as it crosses to another node: values as wire bytes, system
//! messages as plain data. Typed and package-internal messages never cross.

use actor_abi::Address;

/// One message for an actor of another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteMessage {
    /// A value, as `actor_abi::wire` bytes (checked when it is delivered).
    Value(Box<[u8]>),
    /// `ActorExitRequest`.
    ExitRequest,
    /// `ChildActorExited`.
    ChildExited {
        /// The child that stopped.
        child: Address,
    },
    /// `WakeupMessage`, its payload as wire bytes.
    Wakeup(Box<[u8]>),
    /// `PoisonMessage` about a value the receiver sent.
    Poison {
        /// The value that was sent, as wire bytes.
        original: Box<[u8]>,
        /// The actor that could not handle it.
        target: Address,
        /// The panic text.
        details: String,
    },
}

/// A message with its sender and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEnvelope {
    /// The sender ([`Address::NOBODY`] from outside any actor).
    pub from: Address,
    /// The target, an actor of the receiving node.
    pub to: Address,
    /// The message.
    pub msg: RemoteMessage,
}
