//! # thespian: native Thespian Director
//!
//! The facade of the workspace: it re-exports [`actor_abi`] (what plugin
//! authors use) and [`runtime`] (what host services embed), and holds the
//! cross-crate integration tests in `tests/`.

pub use actor_abi;
pub use runtime;
