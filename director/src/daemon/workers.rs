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
//! the version with backoff (100 ms doubling to 12.8 s; a worker that ran a
//! minute before it crashed starts it over) until a start succeeds, the
//! version is unloaded, or the daemon stops.

use std::path::PathBuf;
use std::time::Duration;

use actor_abi::{Address, Message, Value};
use runtime::VerifiedPackage;
use runtime::worker::{IsolatedVersion, WorkerLimits, WorkerProgram};

use crate::daemon::core::{Core, DELIVERY_TIMEOUT, DirectorError, fail};
use crate::daemon::operations::{Director, stage};
use crate::daemon::runs::{Runs, WORKER_ANSWER_TIMEOUT, WORKER_STOP_GRACE, describe_exit, freed, next_backoff};
use crate::localtime::now_unix;
use crate::protocol::{CrashListing, ErrorKind};

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
        let delay = (!stopping).then(|| next_backoff(&mut slot.streak, slot.started.elapsed()));
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
                let delay = next_backoff(&mut slot.streak, Duration::ZERO);
                log::error!("restarting the worker of {group} ({hash}): {e}; trying again in {delay:?}");
                slot.crash = Some(CrashListing { reason: format!("restart failed: {e}"), at: now_unix() });
                slot.restarts += 1;
                return Err(NotRestarted::Retry(delay));
            }
        };
        slot.restarts += 1;
        slot.started = std::time::Instant::now();
        log::warn!("restarted the worker of {group} ({hash}) as pid {}", worker.pid());
        slot.worker = Some(worker);
        let mut on_load = Vec::new();
        for a in v.actors.iter_mut().filter(|a| a.here()) {
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
