//! Package versions in worker processes of their own, so that a crash in a
//! package (abort, segfault, stack overflow, `exit`) takes only its worker.
//!
//! The starting system ([`IsolatedVersion::start`]) takes a package
//! verified and staged as for an in-process load, then starts
//! the worker program with one end of a socketpair as its stdin (the
//! worker moves it off descriptor 0 at once) and, by default, sends it a
//! region of shared memory over that socket (see `remote::ring`: messages
//! then travel there, the socket rings a doorbell and tells each side when
//! the other is gone). The
//! worker (a program that calls [`run_if_worker`] first in `main`) runs an
//! actor system of its own as the node it was given, says hello, re-checks
//! the library's SHA-256, never the signatures, and loads it. Messages and
//! control requests share the socket (see `remote::frame`); everything the
//! worker sends is checked like any peer's. Its stdout and stderr become
//! log lines of the starter.

mod exit;
mod output;
mod program;
mod serve;
mod start;

pub use exit::WorkerExit;
pub use program::{WorkerLimits, WorkerProgram, WorkerTransport};
pub use serve::run_if_worker;
pub use start::IsolatedVersion;

/// The environment variables a worker is started with.
pub(crate) const NODE_ENV: &str = "THESPIAN_WORKER_NODE";
pub(crate) const ROOT_ENV: &str = "THESPIAN_WORKER_ROOT";
pub(crate) const LOG_LEVEL_ENV: &str = "THESPIAN_WORKER_LOG_LEVEL";
/// Set (to the region's size) when messages travel in shared memory; the
/// region is then the first thing sent on the socket.
pub(crate) const RING_ENV: &str = "THESPIAN_WORKER_RING";
