//! Package versions in worker processes of their own, so that a crash in a
//! package (abort, segfault, stack overflow, `exit`) takes only its worker.
//!
//! The starting system ([`IsolatedVersion::start`]) takes a package
//! verified and staged as for an in-process load, then starts
//! the worker program with one end of a socketpair at descriptor 3 and,
//! by default, a region of shared memory at descriptor 4 (see
//! `remote::ring`: messages then travel there, the socket rings a doorbell
//! and tells each side when the other is gone). The
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
/// Set (to the region's size) when messages travel in shared memory.
pub(crate) const RING_ENV: &str = "THESPIAN_WORKER_RING";
/// The descriptor the worker's end of the socketpair is at.
pub(crate) const WORKER_FD: i32 = 3;
/// The descriptor the shared region (a memfd) is at, with [`RING_ENV`].
pub(crate) const RING_FD: i32 = 4;
