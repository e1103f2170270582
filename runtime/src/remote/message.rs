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
    /// A message whose sender waits until its handler has run: the
    /// receiving node answers with [`RemoteMessage::Delivered`] and the
    /// same ticket. It never nests.
    Tracked {
        /// The sender's number for this delivery.
        ticket: u64,
        /// The message.
        msg: Box<RemoteMessage>,
    },
    /// The handler of a tracked message has run (`error: None`), or the
    /// message could not be delivered (the reason).
    Delivered {
        /// The ticket of the tracked message.
        ticket: u64,
        /// Why it was not delivered, if it was not.
        error: Option<String>,
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
