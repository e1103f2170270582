//! Actor addresses.

use std::fmt;
use std::str::FromStr;

use crate::value::Value;

/// The address of an actor.
///
/// An address has three parts:
/// - `node`: the actor system the actor lives in. `0` means "here", the
///   system that holds the address; another number names a node (a worker
///   process or another host) in this system's node table. Whatever carries
///   an address to another node translates this part on the way.
/// - `home`: where in its node the actor runs: `0` for the host's own
///   actors, otherwise the number of the loaded package version.
/// - `id`: the actor's number, unique in its node for the node's life.
///
/// It prints as `actor:HOME.ID` (here) or `actor:HOME.ID@NODE`, and parses
/// back from either form, so it can travel inside a [`Value`] as a string.
///
/// ```
/// use actor_abi::Address;
///
/// let a: Address = "actor:3.17".parse()?;
/// assert_eq!((a.home(), a.id(), a.node()), (3, 17, 0));
/// assert!(a.is_local());
/// assert_eq!(a.to_string(), "actor:3.17");
/// # Ok::<(), actor_abi::AddressParseError>(())
/// ```
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct Address {
    id: u64,
    home: u32,
    node: u32,
}

/// The error for text that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an actor address (expected actor:HOME.ID or actor:HOME.ID@NODE)")]
pub struct AddressParseError {
    text: String,
}

impl Address {
    /// The address of nobody: the sender of messages from outside the system.
    /// Replies to it are dead letters.
    pub const NOBODY: Address = Address { id: 0, home: 0, node: 0 };

    /// The node part that means "this actor system".
    pub const HERE: u32 = 0;

    /// Builds the address of an actor of this node. Only the runtime hands
    /// out real addresses; this exists for the runtime and for tests.
    #[doc(hidden)]
    pub const fn local(home: u32, id: u64) -> Address {
        Address { id, home, node: Address::HERE }
    }

    /// The same actor, seen from a system where its node is `node`. For the
    /// runtime's transports and for tests.
    #[doc(hidden)]
    pub const fn on_node(self, node: u32) -> Address {
        Address { node, ..self }
    }

    /// The actor's number, unique in its node.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The actor's home: `0` for the host, else the loaded version's number.
    pub fn home(&self) -> u32 {
        self.home
    }

    /// The node the actor lives in ([`Address::HERE`] for this system).
    pub fn node(&self) -> u32 {
        self.node
    }

    /// True if the actor lives in this system.
    #[inline]
    pub fn is_local(&self) -> bool {
        self.node == Address::HERE
    }

    /// True for [`Address::NOBODY`].
    pub fn is_nobody(&self) -> bool {
        self.id == 0
    }

    /// Parses the `actor:HOME.ID` or `actor:HOME.ID@NODE` form.
    pub fn parse(text: &str) -> Result<Address, AddressParseError> {
        let err = || AddressParseError { text: text.to_string() };
        let rest = text.strip_prefix("actor:").ok_or_else(err)?;
        let (local, node) = match rest.split_once('@') {
            Some((local, node)) => (local, number(node).ok_or_else(err)?),
            None => (rest, Address::HERE),
        };
        let (home, id) = local.split_once('.').ok_or_else(err)?;
        Ok(Address { id: number(id).ok_or_else(err)?, home: number(home).ok_or_else(err)?, node })
    }

    /// Reads an address carried as a string inside a value.
    pub fn from_value(v: &Value) -> Option<Address> {
        v.as_str().and_then(|s| Address::parse(s).ok())
    }
}

/// A decimal number of digits only (no sign, no spaces).
fn number<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor:{}.{}", self.home, self.id)?;
        if !self.is_local() {
            write!(f, "@{}", self.node)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Address {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl From<Address> for Value {
    fn from(a: Address) -> Value {
        Value::String(a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let a = Address::local(3, 17);
        assert_eq!(a.to_string(), "actor:3.17");
        assert_eq!(Address::parse("actor:3.17"), Ok(a));
        assert_eq!(Address::from_value(&Value::from(a)), Some(a));
        let far = a.on_node(9);
        assert_eq!(far.to_string(), "actor:3.17@9");
        assert_eq!(Address::parse("actor:3.17@9"), Ok(far));
        assert!(a.is_local() && !far.is_local());
        assert_ne!(a, far, "the same numbers on another node are another actor");
    }

    #[test]
    fn the_address_stays_two_words() {
        assert_eq!(size_of::<Address>(), 16, "an address crosses the FFI and every envelope by value");
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "actor:",
            "actor:1",
            "actor:x.2",
            "3.17",
            "actor:1.-2",
            "actor:1.+2",
            "actor:1.2@",
            "actor:1.2@x",
            "actor:1.2@3@4",
            "actor:4294967296.1",
            "actor:1.2@4294967296",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
