//! Where a loaded version runs (`Runs`): inside the daemon, or in a
//! worker process of its own, with the worker's crash record; and how a
//! worker's end reads in `list` and in unload reports.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use actor_abi::Address;
use runtime::worker::{IsolatedVersion, WorkerExit, WorkerLimits};
use runtime::{ActorSystem, CreateOptions};

use crate::protocol::CrashListing;

/// How long a worker has to answer its hello, a load or an actor creation.
pub const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a worker asked to exit (unload, shutdown) has before it is killed.
pub const WORKER_STOP_GRACE: Duration = Duration::from_secs(5);

/// Where a loaded version runs.
pub(crate) enum Runs {
    /// Inside the daemon's process.
    InProcess,
    /// In a worker process of its own.
    Worker(Box<WorkerSlot>),
}

/// An isolated version's worker and its crash record.
pub(crate) struct WorkerSlot {
    /// The running worker; `None` after a crash until a restart succeeds,
    /// and while it is being stopped.
    pub(crate) worker: Option<IsolatedVersion>,
    /// The limits it runs under (again at every restart).
    pub(crate) limits: WorkerLimits,
    /// Restart attempts after crashes (failed ones too), for `list`.
    pub(crate) restarts: u32,
    /// Crashes and failed restarts in a row, each within [`STABLE`] of the
    /// last start: what sets the backoff.
    pub(crate) streak: u32,
    /// When the current (or last) worker started.
    pub(crate) started: Instant,
    /// The last crash.
    pub(crate) crash: Option<CrashListing>,
}

impl Runs {
    /// A slot holding a freshly started worker.
    pub(crate) fn worker(worker: IsolatedVersion, limits: WorkerLimits) -> Runs {
        let started = Instant::now();
        Runs::Worker(Box::new(WorkerSlot {
            worker: Some(worker),
            limits,
            restarts: 0,
            streak: 0,
            started,
            crash: None,
        }))
    }

    /// Creates an actor of `class` of version `hash` wherever the version
    /// runs, as a child of `director`.
    pub(crate) fn create(
        &self,
        system: &ActorSystem,
        director: Address,
        hash: &str,
        class: &str,
    ) -> Result<Address, String> {
        let options = CreateOptions { global_name: None, parent: Some(director) };
        match self {
            Runs::InProcess => system.create_actor_with(hash, class, options).map_err(|e| e.to_string()),
            Runs::Worker(slot) => match (&slot.worker, &slot.crash) {
                (Some(w), _) => w.create_actor_with(class, options).map_err(|e| e.to_string()),
                (None, Some(c)) => Err(format!("its worker crashed ({}) and is not running yet", c.reason)),
                (None, None) => Err("its worker is not running".to_string()),
            },
        }
    }

    /// True if `addr` (an actor of this version) can still be running: a
    /// live actor of the daemon, or an actor of a worker that has not ended.
    pub(crate) fn is_running(&self, system: &ActorSystem, addr: &Address) -> bool {
        match self {
            Runs::InProcess => system.is_alive(addr),
            Runs::Worker(slot) => {
                slot.worker.as_ref().is_some_and(|w| w.node() == addr.node() && w.exit_status().is_none())
            }
        }
    }

    /// True for an isolated version whose worker is not running.
    pub(crate) fn is_down(&self) -> bool {
        matches!(self, Runs::Worker(slot) if slot.worker.is_none())
    }

    /// `in-process`, `worker pid N`, `crashed: REASON` or `stopping`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Runs::InProcess => "in-process".to_string(),
            Runs::Worker(slot) => match (&slot.worker, &slot.crash) {
                (Some(w), _) => format!("worker pid {}", w.pid()),
                (None, Some(c)) => format!("crashed: {}", c.reason),
                (None, None) => "stopping".to_string(),
            },
        }
    }

    /// Restarts after crashes, and the last crash.
    pub(crate) fn crashes(&self) -> (u32, Option<CrashListing>) {
        match self {
            Runs::InProcess => (0, None),
            Runs::Worker(slot) => (slot.restarts, slot.crash.clone()),
        }
    }
}

/// How a worker's exit reads: `SIGSEGV`, `exit status 3`.
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.signal(), status.code()) {
        (Some(sig), _) => signal_name(sig),
        (None, Some(code)) => format!("exit status {code}"),
        (None, None) => status.to_string(),
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// The backoff before restart number `restarts + 1`: 100 ms doubling to 12.8 s.
pub(crate) fn backoff(restarts: u32) -> Duration {
    Duration::from_millis(100u64 << restarts.min(7))
}

/// A worker that ran this long before it crashed starts the backoff over.
pub(crate) const STABLE: Duration = Duration::from_secs(60);

/// The backoff after a crash of a worker that ran for `ran`, given the
/// streak of quick crashes before it; advances the streak.
pub(crate) fn next_backoff(streak: &mut u32, ran: Duration) -> Duration {
    if ran >= STABLE {
        *streak = 0;
    }
    let delay = backoff(*streak);
    *streak = streak.saturating_add(1);
    delay
}

/// What a stopped worker's unload reports.
pub(crate) fn freed(exit: Option<WorkerExit>) -> String {
    match exit {
        // It died before it reported its drain: what it held is lost, and
        // the asks among it failed as their node went away.
        Some(WorkerExit::Exited(status)) if !status.success() => {
            format!("freed (worker died while draining: {})", describe_exit(status))
        }
        Some(exit) => format!("freed ({exit})"),
        None => "freed (worker had crashed)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_crashes_double_the_backoff_and_a_stable_run_starts_it_over() {
        let mut streak = 0;
        let quick = Duration::from_millis(10);
        let delays: Vec<u64> = (0..9).map(|_| next_backoff(&mut streak, quick).as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 12800]);
        assert_eq!(next_backoff(&mut streak, STABLE), Duration::from_millis(100), "ran a minute: start over");
        assert_eq!(next_backoff(&mut streak, quick), Duration::from_millis(200));
    }

    #[test]
    fn exits_read_as_signal_names_or_exit_statuses() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(describe_exit(ExitStatus::from_raw(libc::SIGSEGV)), "SIGSEGV");
        assert_eq!(describe_exit(ExitStatus::from_raw(libc::SIGABRT)), "SIGABRT");
        assert_eq!(describe_exit(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe_exit(ExitStatus::from_raw(64)), "signal 64");
    }

    #[test]
    fn a_worker_that_died_while_draining_says_so_in_the_unload_code() {
        use std::os::unix::process::ExitStatusExt;
        let died = WorkerExit::Exited(ExitStatus::from_raw(libc::SIGABRT));
        assert_eq!(freed(Some(died)), "freed (worker died while draining: SIGABRT)");
        assert_eq!(freed(Some(WorkerExit::Exited(ExitStatus::from_raw(0)))), "freed (worker exited)");
        assert_eq!(freed(None), "freed (worker had crashed)");
    }
}
