//! The actor engine: cells, mailboxes, routing, dispatch on pool threads,
//! timers, asks, and the package versions whose threads run package actors.
//!
//! One [`state::EngineState`] owns every table; its module doc states the
//! ownership and the lock order. A message goes
//! [`route`] (address to cell) -> [`mailbox`] (queue and scheduling flag)
//! -> [`executor`] (a pool thread) -> [`dispatch`] (the handler runs, inside
//! the package library for package actors).
//!
//! The engine imports the leaf modules (`native/`, and the crate's public
//! types in `config`, `error`, `package`, `report`); nothing outside the
//! facade (`system.rs`) imports the engine, and nothing in `native/`
//! or `tls/` does.

pub(crate) mod burst_pool;
pub(crate) mod cell;
pub(crate) mod dispatch;
pub(crate) mod executor;
pub(crate) mod host_context;
pub(crate) mod logging;
pub(crate) mod mailbox;
pub(crate) mod nodes;
pub(crate) mod package;
pub(crate) mod payload;
pub(crate) mod reply;
pub(crate) mod route;
pub(crate) mod shutdown;
pub(crate) mod spawn;
pub(crate) mod state;
pub(crate) mod table;
#[cfg(test)]
pub(crate) mod test_kit;
pub(crate) mod timer;
