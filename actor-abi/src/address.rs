//! Actor addresses.

use std::fmt;
use std::str::FromStr;

use crate::value::Value;

/// The address of an actor.
///
/// An address has three parts:
/// - `node`: the actor system (process) the actor lives in. Node numbers
///   are handed out by the system that starts the others: it is node
///   [`Address::MAIN_NODE`] (`0`), and each worker process it starts gets a
///   number of its own. An address means the same actor in every process
///   of that family, so it can travel inside messages as text.
/// - `home`: where in its node the actor runs: `0` for the host's own
///   actors, otherwise the number of the loaded package version.
/// - `id`: the actor's number, unique in its node for the node's life.
///
/// It prints as `actor:HOME.ID` on the main node and `actor:HOME.ID@NODE`
/// elsewhere, and parses back from either form, so it can travel inside a
/// [`Value`] as a string.
///
/// ```
/// use actor_abi::Address;
///
/// let a: Address = "actor:3.17".parse()?;
/// assert_eq!((a.home(), a.id(), a.node()), (3, 17, Address::MAIN_NODE));
/// assert_eq!(a.to_string(), "actor:3.17");
/// let w: Address = "actor:1.4@2".parse()?;
/// assert_eq!(w.node(), 2);
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

    /// The node of the system that starts the others (a daemon, or a host
    /// program that embeds the runtime).
    pub const MAIN_NODE: u32 = 0;

    /// Builds an address from its parts. Only the runtime hands out real
    /// addresses; this exists for the runtime and for tests.
    #[doc(hidden)]
    pub const fn from_parts(node: u32, home: u32, id: u64) -> Address {
        Address { id, home, node }
    }

    /// The actor's number, unique in its node.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The actor's home: `0` for the host, else the loaded version's number.
    pub fn home(&self) -> u32 {
        self.home
    }

    /// The node (process) the actor lives in.
    #[inline]
    pub fn node(&self) -> u32 {
        self.node
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
            None => (rest, Address::MAIN_NODE),
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
        if self.node != Address::MAIN_NODE {
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
        let a = Address::from_parts(Address::MAIN_NODE, 3, 17);
        assert_eq!(a.to_string(), "actor:3.17");
        assert_eq!(Address::parse("actor:3.17"), Ok(a));
        assert_eq!(Address::from_value(&Value::from(a)), Some(a));
        let far = Address::from_parts(9, 3, 17);
        assert_eq!(far.to_string(), "actor:3.17@9");
        assert_eq!(Address::parse("actor:3.17@9"), Ok(far));
        assert_eq!((a.node(), far.node()), (0, 9));
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
