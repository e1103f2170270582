//! Versions that run in worker processes of their own (`'Isolation':
//! 'process'`, the default under the `multiproc*` system bases): starting a
//! worker for a load, noticing its crash at once, restarting it with
//! backoff, and stopping it at unload and shutdown.
//!
//! Ownership: the [`Core`] owns each isolated version's [`IsolatedVersion`]
//! in its `Runs::Worker` slot. A worker is taken out of its slot (under
//! the state lock) before it is stopped or dropped, so that nothing waits
//! on a worker under the state lock except actor creation, which the
//! worker must answer within [`WORKER_ANSWER_TIMEOUT`] or be killed.
//!
//! Crash path: the worker's reaper thread runs the exit callback, which
//! starts a restart thread (never work on the reaper itself: dropping an
//! [`IsolatedVersion`] joins it). That thread records the crash only if the
//! slot still holds that node's worker and the worker really has ended, so
//! a worker stopped by an unload is not taken for a crash. It then restarts
//! the version with backoff (100 ms doubling to 12.8 s) until a start
//! succeeds, the version is unloaded, or the daemon stops.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use actor_abi::{Address, Message, Value};
use runtime::worker::{IsolatedVersion, WorkerExit, WorkerLimits, WorkerProgram};
use runtime::{ActorSystem, CreateOptions, VerifiedPackage};

use crate::daemon::core::{Core, DELIVERY_TIMEOUT, DirectorError, fail};
use crate::daemon::operations::{Director, stage};
use crate::localtime::now_unix;
use crate::protocol::{CrashListing, ErrorKind};

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
    /// Restart attempts after crashes (failed ones too: they set the backoff).
    pub(crate) restarts: u32,
    /// The last crash.
    pub(crate) crash: Option<CrashListing>,
}

impl Runs {
    /// A slot holding a freshly started worker.
    pub(crate) fn worker(worker: IsolatedVersion, limits: WorkerLimits) -> Runs {
        Runs::Worker(Box::new(WorkerSlot { worker: Some(worker), limits, restarts: 0, crash: None }))
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

/// What a stopped worker's unload reports.
pub(crate) fn freed(exit: Option<WorkerExit>) -> String {
    match exit {
        Some(exit) => format!("freed ({exit})"),
        None => "freed (worker had crashed)".to_string(),
    }
}

impl Core {
    /// Records that the worker of node `node` running version `hash` ended,
    /// if the slot still holds it and it really has ended; returns it (to
    /// be dropped outside the lock) and, unless the daemon is stopping, the
    /// backoff before its restart.
    fn record_crash(&mut self, hash: &str, node: u32) -> Option<(IsolatedVersion, Option<Duration>)> {
        let stopping = self.stopping;
        let (group, _) = self.find(hash).ok()?;
        let v = self.version_mut(&group, hash)?;
        let Runs::Worker(slot) = &mut v.runs else { return None };
        let mine = slot.worker.as_ref().is_some_and(|w| w.node() == node && w.exit_status().is_some());
        if !mine {
            return None;
        }
        let worker = slot.worker.take()?;
        let reason = match (worker.violation(), worker.exit_status()) {
            (Some(v), _) => format!("dropped: {v}"),
            (None, Some(status)) => describe_exit(status),
            (None, None) => "ended".to_string(),
        };
        slot.crash = Some(CrashListing { reason: reason.clone(), at: now_unix() });
        for a in &mut v.actors {
            a.address = None;
        }
        let delay = (!stopping).then(|| backoff(slot.restarts));
        let then = delay
            .map_or_else(|| "not restarted: the daemon is stopping".to_string(), |d| format!("restarting in {d:?}"));
        log::error!(
            "the worker (pid {}) of {group} {} ({hash}) crashed: {reason}; {then}",
            worker.pid(),
            v.info.version
        );
        Some((worker, delay))
    }

    /// How many versions have a worker running.
    pub(crate) fn running_workers(&self) -> usize {
        let versions = self.groups.values().flat_map(|g| g.versions.iter());
        versions.filter(|v| matches!(&v.runs, Runs::Worker(slot) if slot.worker.is_some())).count()
    }

    /// The group, file and limits of version `hash` if it is loaded, its
    /// worker has crashed and the daemon is not stopping.
    fn crashed_version(&self, hash: &str) -> Option<(String, PathBuf, WorkerLimits)> {
        let (group, _) = self.find(hash).ok().filter(|_| !self.stopping)?;
        let v = self.version(&group, hash)?;
        match &v.runs {
            Runs::Worker(slot) if slot.worker.is_none() => Some((group, v.file.clone(), slot.limits)),
            _ => None,
        }
    }

    /// Puts the outcome of a restart into version `hash`'s slot: a new
    /// worker, with the version's TLI actors created in it (and, if it is
    /// active, their global names), returning the OnLoad messages to
    /// deliver; or the failure, with the backoff before the next try.
    fn install_worker(
        &mut self,
        group: &str,
        hash: &str,
        started: Result<IsolatedVersion, DirectorError>,
    ) -> Result<Vec<(Address, Value)>, NotRestarted> {
        let (director, system, stopping) = (self.director, self.system.clone(), self.stopping);
        let active = self.groups.get(group).and_then(|g| g.active.as_deref()) == Some(hash);
        let v = self.version_mut(group, hash).ok_or(NotRestarted::Never)?;
        let Runs::Worker(slot) = &mut v.runs else { return Err(NotRestarted::Never) };
        let worker = match started {
            Ok(w) if !stopping => w,
            Ok(_) => return Err(NotRestarted::Never),
            // Tried again while the version stays loaded: the file may come
            // back, or the operator unloads the version.
            Err(e) => {
                let delay = backoff(slot.restarts + 1);
                log::error!("restarting the worker of {group} ({hash}): {e}; trying again in {delay:?}");
                slot.crash = Some(CrashListing { reason: format!("restart failed: {e}"), at: now_unix() });
                slot.restarts += 1;
                return Err(NotRestarted::Retry(delay));
            }
        };
        slot.restarts += 1;
        log::warn!("restarted the worker of {group} ({hash}) as pid {}", worker.pid());
        slot.worker = Some(worker);
        let mut on_load = Vec::new();
        for a in &mut v.actors {
            let addr = match v.runs.create(&system, director, hash, &a.spec.class) {
                Ok(addr) => addr,
                Err(e) => {
                    log::error!("restarting {} of {group}: {e}", a.spec.class);
                    continue;
                }
            };
            (a.address, a.since) = (Some(addr), now_unix());
            if active {
                if let Some(name) = &a.spec.global_name {
                    system.assign_global_name(name, &addr);
                }
                on_load.extend(a.spec.on_load.clone().map(|m| (addr, m)));
            }
        }
        Ok(on_load)
    }

    /// Takes every worker out of its slot, for shutdown.
    pub(crate) fn take_all_workers(&mut self) -> Vec<(String, IsolatedVersion)> {
        let mut out = Vec::new();
        for (group, g) in &mut self.groups {
            for v in &mut g.versions {
                if let Runs::Worker(slot) = &mut v.runs
                    && let Some(w) = slot.worker.take()
                {
                    out.push((format!("{group} {} {}", v.info.version, v.info.hash), w));
                }
            }
        }
        out
    }

    /// Takes version `hash`'s worker out of its slot (to stop it); `None`
    /// for an in-process version or one whose worker has crashed.
    pub(crate) fn take_worker(&mut self, group: &str, hash: &str) -> Option<IsolatedVersion> {
        match &mut self.version_mut(group, hash)?.runs {
            Runs::Worker(slot) => slot.worker.take(),
            Runs::InProcess => None,
        }
    }
}

/// Why a restart did not happen.
enum NotRestarted {
    /// For good: the version is gone, or the daemon stops.
    Never,
    /// Try again after this long.
    Retry(Duration),
}

impl Director {
    /// Starts `package` in a worker under `limits` and watches it: a crash
    /// is noticed by the reaper at once and handled on a thread of its own.
    pub(crate) fn start_worker(
        &self,
        package: VerifiedPackage,
        limits: WorkerLimits,
    ) -> Result<IsolatedVersion, DirectorError> {
        let Some(base) = self.worker_program() else {
            let why = "this host starts no worker processes ('Isolation': 'process' needs a worker program)";
            return Err(fail(ErrorKind::Failed, why));
        };
        let hash = package.hash().to_string();
        let program = WorkerProgram { limits, ..base };
        let worker = IsolatedVersion::start(self.system(), package, &program, WORKER_ANSWER_TIMEOUT)
            .map_err(|e| fail(ErrorKind::Failed, e.to_string()))?;
        let (me, node) = (self.me(), worker.node());
        worker.on_exit(move |_| {
            let spawned = std::thread::Builder::new().name(format!("thespian-restart-{node}")).spawn(move || {
                if let Some(director) = me.upgrade() {
                    director.after_exit(&hash, node);
                }
            });
            if let Err(e) = spawned {
                log::error!("cannot handle the end of worker node {node}: {e}");
            }
        });
        Ok(worker)
    }

    /// The worker of node `node` running `hash` ended: if it was not
    /// stopped on purpose, record the crash and restart it with backoff.
    fn after_exit(&self, hash: &str, node: u32) {
        let Some((worker, delay)) = self.state().record_crash(hash, node) else { return };
        drop(worker);
        let Some(mut delay) = delay else { return };
        loop {
            std::thread::sleep(delay);
            match self.restart_worker(hash) {
                Ok(()) => return,
                Err(NotRestarted::Never) => return,
                Err(NotRestarted::Retry(next)) => delay = next,
            }
        }
    }

    /// Starts a new worker for the crashed version `hash` from its file
    /// (verified again), recreates its TLI actors and, if it is active,
    /// gives them their global names and OnLoad messages.
    fn restart_worker(&self, hash: &str) -> Result<(), NotRestarted> {
        let _op = self.operation();
        let (group, file, limits) = self.state().crashed_version(hash).ok_or(NotRestarted::Never)?;
        let started = stage(self.authority(), self.system(), &file).and_then(|(verified, package)| {
            if verified.hash != hash {
                let why = format!("{} has changed since it was loaded (hash {})", file.display(), verified.hash);
                return Err(fail(ErrorKind::Refused, why));
            }
            self.start_worker(package, limits)
        });
        let on_load = self.state().install_worker(&group, hash, started)?;
        for (addr, msg) in on_load {
            if let Err(e) = self.system().tell_delivered(&addr, Message::Value(msg), DELIVERY_TIMEOUT) {
                log::warn!("OnLoad to restarted {addr}: {e}");
            }
        }
        Ok(())
    }

    /// Asks every worker to exit (its actors get `ActorExitRequest`), all at
    /// once, killing those that have not exited within the grace period;
    /// returns one line per worker for the shutdown log.
    pub fn stop_workers(&self) -> Vec<String> {
        let workers = self.state().take_all_workers();
        std::thread::scope(|s| {
            let stops: Vec<_> = workers
                .into_iter()
                .map(|(what, w)| s.spawn(move || format!("{what}: {}", freed(Some(w.stop(WORKER_STOP_GRACE))))))
                .collect();
            stops.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    }
}
