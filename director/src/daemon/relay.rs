//! The seam through which the Director reaches actors placed on another
//! member of a convention (implemented by `convention::relay`).

use actor_abi::Address;

use crate::daemon::error::DirectorError;
use crate::protocol::Send;

/// Sends an ask or a tell to another member and returns what it answered.
pub trait Relay: std::marker::Send + Sync {
    /// Relays `send` to `member` (a tell if `tell`); an ask's reply as JSON.
    fn relay(&self, member: &str, send: &Send, tell: bool) -> Result<serde_json::Value, DirectorError>;

    /// The address of actor `class` of version `hash` on `member`, as that
    /// member's record says (addresses mean the same actor on every member).
    fn placed_address(&self, member: &str, hash: &str, class: &str) -> Option<Address>;
}
