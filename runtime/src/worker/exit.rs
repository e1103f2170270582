//! How a worker process ends: a reaper thread owns the child, waits for it,
//! records the status, shuts the socket down (so the node is dropped even
//! if something else still holds the worker's end) and runs the exit
//! callbacks.

use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a worker process ended when it was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// It exited by itself after the stop request.
    Exited(ExitStatus),
    /// It did not exit within the grace period and was killed.
    Killed {
        /// The grace period it had.
        after: Duration,
    },
}

impl std::fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerExit::Exited(_) => f.write_str("worker exited"),
            WorkerExit::Killed { after } => write!(f, "worker killed after {}s", after.as_secs_f64()),
        }
    }
}

/// What runs when a worker ends.
pub(crate) type ExitCallback = Box<dyn FnOnce(ExitStatus) + Send>;

/// A worker's exit, as the reaper records it.
#[derive(Default)]
pub(crate) struct ExitWatch {
    state: Mutex<ExitState>,
    changed: Condvar,
}

#[derive(Default)]
struct ExitState {
    status: Option<ExitStatus>,
    callbacks: Vec<ExitCallback>,
}

impl ExitWatch {
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).status
    }

    pub(crate) fn wait(&self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while s.status.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        s.status
    }

    /// Runs `f` with the status once the process has ended (now, on this
    /// thread, if it has already).
    pub(crate) fn on_exit(&self, f: ExitCallback) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.status {
            Some(status) => {
                drop(s);
                f(status);
            }
            None => s.callbacks.push(f),
        }
    }

    fn record(&self, status: ExitStatus) {
        let callbacks = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.status = Some(status);
            self.changed.notify_all();
            std::mem::take(&mut s.callbacks)
        };
        callbacks.into_iter().for_each(|f| f(status));
    }
}

/// Waits for `child` on a thread of its own (see the module doc).
pub(crate) fn start_reaper(
    mut child: Child,
    stream: UnixStream,
    exit: Arc<ExitWatch>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(format!("thespian-reap-{}", child.id())).spawn(move || {
        let status = match child.wait() {
            Ok(status) => status,
            // wait only fails if the child was reaped elsewhere, which
            // nothing here does; report it as a kill.
            Err(_) => ExitStatus::from_raw(libc::SIGKILL),
        };
        let _ = stream.shutdown(std::net::Shutdown::Both);
        exit.record(status);
    })
}
