//! Messages that cross to another node (a worker process, later another
//! host), the frames they travel in, and the [`Outbound`] seam a transport
//! implements.
//!
//! This folder is a leaf: it knows addresses and values, never the engine.
//! The engine turns its own payloads into [`RemoteMessage`]s when routing
//! finds an address of another node, and back when a transport hands one in
//! ([`ActorSystem::deliver_remote`](crate::ActorSystem::deliver_remote)).
//!
//! Everything a peer sends is hostile input: [`frame::decode`] bounds every
//! length and count and refuses unknown kinds, and a transport checks that a
//! peer only speaks for addresses of its own node ([`check_sender`]).

pub mod budget;
mod control;
pub mod frame;
pub(crate) mod inbound;
mod message;
pub mod ring;
pub mod stream;

pub use control::{Control, LoadRequest};
pub use message::{RemoteEnvelope, RemoteMessage};

use actor_abi::Address;

/// A system's node numbers come in blocks of `2^NODE_BLOCK_BITS`: its own
/// node is the first of its block, and the processes it starts (workers)
/// get the others. Hosts that share addresses (a convention's members)
/// each take a block of their own, so an address names one actor across
/// all of them.
pub const NODE_BLOCK_BITS: u32 = 22;

/// The block of node `node`.
///
/// ```
/// use runtime::remote::{block_of, block_start};
/// assert_eq!(block_of(block_start(3) + 17), 3);
/// assert_eq!(block_of(5), 0);
/// ```
pub const fn block_of(node: u32) -> u32 {
    node >> NODE_BLOCK_BITS
}

/// The first node of block `block` (a system's own node in that block).
pub const fn block_start(block: u32) -> u32 {
    block << NODE_BLOCK_BITS
}

/// Where messages for other nodes go. A transport implements it and is
/// attached to an actor system for one node
/// ([`ActorSystem::attach_node`](crate::ActorSystem::attach_node)) or as
/// the route for every node without one of its own.
///
/// `send` is called on the sending actor's thread: it should queue, not
/// block on the peer.
pub trait Outbound: Send + Sync {
    /// Hands one message to the transport; `Err` if the peer is gone (the
    /// message then becomes a dead letter, and an ask fails at once).
    fn send(&self, env: RemoteEnvelope) -> Result<(), PeerGone>;
}

/// The one table of global names, kept by the system that started this
/// worker: a worker's actor gets a global name only through it, so that a
/// name means one actor in every process.
pub trait NameAuthority: Send + Sync {
    /// Gives `name` to this node's actor `addr` unless a live actor holds
    /// it; returns the holder (`addr` if the claim won), or `None` if the
    /// authority did not answer.
    fn claim(&self, name: &str, addr: Address) -> Option<Address>;
    /// This node's actor `addr` stopped: drop `name` if it still names it.
    fn release(&self, name: &str, addr: Address);
}

/// The peer of a transport is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node {0} is gone")]
pub struct PeerGone(pub u32);

/// Why a message from a peer was refused; a transport drops a peer that
/// sends one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The sender address is not on the peer's node.
    #[error("node {peer} sent a message as {from}, an address of node {}", .from.node())]
    ForeignSender {
        /// The peer's node.
        peer: u32,
        /// The sender it claimed.
        from: Address,
    },
    /// The target address is not on this node.
    #[error("node {peer} sent a message for {to}, which is not on this node ({here})")]
    NotHere {
        /// The peer's node.
        peer: u32,
        /// The target it named.
        to: Address,
        /// This node.
        here: u32,
    },
    /// A control message the receiving side does not take from this peer.
    #[error("node {peer} sent a control message this side does not take: {what}")]
    UnexpectedControl {
        /// The peer's node.
        peer: u32,
        /// Which message.
        what: String,
    },
    /// A frame broke the format.
    #[error("node {peer} sent a bad frame: {error}")]
    BadFrame {
        /// The peer's node.
        peer: u32,
        /// What was wrong.
        error: frame::FrameError,
    },
    /// The peer broke the protocol of the rings it shares with this side.
    #[error("node {peer}: {error}")]
    BadRing {
        /// The peer's node.
        peer: u32,
        /// What was wrong.
        error: ring::RingError,
    },
}

/// Checks that `peer` speaks only for its own actors (or for nobody).
pub fn check_sender(peer: u32, env: &RemoteEnvelope) -> Result<(), Violation> {
    if !env.from.is_nobody() && env.from.node() != peer {
        return Err(Violation::ForeignSender { peer, from: env.from });
    }
    // Only the peer's own actors can have exited there.
    match env.msg {
        RemoteMessage::ChildExited { child } if child.node() != peer => {
            Err(Violation::ForeignSender { peer, from: child })
        }
        _ => Ok(()),
    }
}
