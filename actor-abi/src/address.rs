//! Actor addresses.

use std::fmt;
use std::str::FromStr;

use crate::value::Value;

/// The address of an actor in one actor system.
///
/// An address names the actor (`id`, unique for the life of the system) and
/// its home: `0` for actors that run in the host, otherwise the loaded
/// package version it runs in. It prints as `actor:HOME.ID` and parses back
/// from that form, so it can travel inside a [`Value`] as a string.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct Address {
    id: u64,
    home: u64,
}

/// The error for text that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an actor address (expected actor:HOME.ID)")]
pub struct AddressParseError {
    text: String,
}

impl Address {
    /// The address of nobody: the sender of messages from outside the system.
    /// Replies to it are dead letters.
    pub const NOBODY: Address = Address { id: 0, home: 0 };

    /// Builds an address from its parts. Only the runtime hands out real
    /// addresses; this exists for the runtime and for tests.
    #[doc(hidden)]
    pub const fn from_parts(home: u64, id: u64) -> Address {
        Address { id, home }
    }

    /// The actor's number, unique in its actor system.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The actor's home: `0` for the host, else the loaded version's number.
    pub fn home(&self) -> u64 {
        self.home
    }

    /// True for [`Address::NOBODY`].
    pub fn is_nobody(&self) -> bool {
        self.id == 0
    }

    /// Parses the `actor:HOME.ID` form.
    pub fn parse(text: &str) -> Result<Address, AddressParseError> {
        let err = || AddressParseError { text: text.to_string() };
        let rest = text.strip_prefix("actor:").ok_or_else(err)?;
        let (home, id) = rest.split_once('.').ok_or_else(err)?;
        let home = home.parse().map_err(|_| err())?;
        let id = id.parse().map_err(|_| err())?;
        Ok(Address { id, home })
    }

    /// Reads an address carried as a string inside a value.
    pub fn from_value(v: &Value) -> Option<Address> {
        v.as_str().and_then(|s| Address::parse(s).ok())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor:{}.{}", self.home, self.id)
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
        let a = Address::from_parts(3, 17);
        assert_eq!(a.to_string(), "actor:3.17");
        assert_eq!(Address::parse("actor:3.17"), Ok(a));
        assert_eq!(Address::from_value(&Value::from(a)), Some(a));
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in ["", "actor:", "actor:1", "actor:x.2", "3.17", "actor:1.-2"] {
            assert!(Address::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
