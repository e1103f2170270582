//! The actor trait.

use crate::address::Address;
use crate::context::Context;
use crate::message::Message;

/// An actor: state plus one handler that runs for each message.
///
/// The runtime calls [`Actor::receive`] for one message at a time, never
/// concurrently for one actor. From the handler an actor can reply
/// (`cx.send(&from, ...)`), send to any address it knows, create actors by
/// exported class name, ask for wakeups, read its package's group, version
/// and hash, and exit. [`Message::ActorExitRequest`] reaches the handler
/// before the actor stops.
///
/// A handler that panics has its message delivered once more; if it panics
/// again the sender gets a [`Message::PoisonMessage`] and the actor goes on
/// serving later messages with whatever state the panics left.
pub trait Actor: Send + 'static {
    /// Handles one message from `from`.
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address);
}
