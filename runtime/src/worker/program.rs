//! What a worker process runs: the program and its resource limits.

use std::ffi::OsString;
use std::path::PathBuf;

/// The program a worker runs: one that calls
/// [`run_if_worker`](crate::worker::run_if_worker) first in `main` (the
/// `thespian-director` binary does), and the limits it runs under.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerProgram {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Resource limits applied to the worker process.
    pub limits: WorkerLimits,
    /// What messages to and from the worker travel over.
    pub transport: WorkerTransport,
}

/// What messages to and from a worker travel over. Either way the socket's
/// end is the worker's end, and everything the worker writes is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerTransport {
    /// Rings in memory shared with the worker, the socket ringing a
    /// doorbell only when the reader sleeps: no system call per message
    /// while both sides are busy (the default).
    #[default]
    SharedMemory,
    /// Frames on the socket itself: a system call or more per message,
    /// and a worker in any language can speak it.
    Socket,
}

/// Resource limits of a worker process (`prlimit` right after it starts, before
/// it loads anything; soft = hard); `None`
/// leaves the daemon's own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerLimits {
    /// Address space, in MiB (`RLIMIT_AS`): an allocation beyond it fails,
    /// and a Rust package aborts.
    pub memory_mib: Option<u64>,
    /// CPU time in seconds (`RLIMIT_CPU`): the kernel ends the worker with
    /// SIGXCPU, then SIGKILL.
    pub cpu_seconds: Option<u64>,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

impl WorkerLimits {
    pub(crate) fn os_limits(&self) -> crate::native::os::Limits {
        let mut l = crate::native::os::Limits::default();
        if let Some(m) = self.memory_mib {
            l = l.memory_mib(m);
        }
        if let Some(c) = self.cpu_seconds {
            l = l.cpu_seconds(c);
        }
        if let Some(n) = self.open_files {
            l = l.open_files(n);
        }
        l
    }
}
