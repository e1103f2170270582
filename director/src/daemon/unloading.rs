//! Unloading a version: drain, then stop.
//!
//! An unload first makes the version unreachable by name (an active one
//! hands its roles and global names to the highest other version, under
//! the state lock that every resolution by name takes, see
//! `daemon::sending`), then queues OnDeactivate and the exit request
//! behind the messages its actors hold, so that every request accepted
//! before the unload is answered. A drain that runs out of time drops what
//! is left, and the report counts it.
//!
//! Lock order: the operation lock, then the state lock (never held while
//! waiting for actors or workers).

use std::time::Duration;

use actor_abi::Value;

use crate::daemon::core::{DirectorError, Running, fail};
use crate::daemon::operations::Director;
use crate::daemon::runs::{Runs, freed};
use crate::protocol::{ErrorKind, Unloaded};

/// How long an unload waits, unless told otherwise, for the actors of the
/// version to answer what they hold and stop (as the runtime's default).
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

/// The longest drain an unload may ask for: an hour.
pub const MAX_DRAIN_MS: u64 = 60 * 60 * 1000;

/// The drain limit an unload request asks for (`None`: [`DEFAULT_DRAIN`]),
/// if it is within 1 ms..=[`MAX_DRAIN_MS`].
pub fn drain_limit(timeout_ms: Option<u64>) -> Result<Duration, DirectorError> {
    match timeout_ms {
        None => Ok(DEFAULT_DRAIN),
        Some(ms @ 1..=MAX_DRAIN_MS) => Ok(Duration::from_millis(ms)),
        Some(ms) => Err(fail(ErrorKind::BadRequest, format!("unload timeout_ms {ms} is outside 1..={MAX_DRAIN_MS}"))),
    }
}

/// What freeing a version did.
struct Freed {
    version: String,
    /// `freed`, or `resident (reason)`, or how a worker ended.
    code: String,
    is_freed: bool,
    /// Messages still queued when the drain ran out.
    undelivered: u64,
}

impl Director {
    /// Unloads the version `prefix` names, giving its actors up to
    /// [`DEFAULT_DRAIN`] to answer what they hold (see
    /// [`Director::unload_within`]).
    pub fn unload(&self, prefix: &str) -> Result<Unloaded, DirectorError> {
        self.unload_within(prefix, DEFAULT_DRAIN)
    }

    /// Unloads the version `prefix` names: drain, then stop. If it was
    /// active, the highest remaining version becomes active first (so no
    /// new message reaches the old one by role or global name); then the
    /// old actors get OnDeactivate and their exit request, both behind the
    /// messages they hold, and up to `drain` to answer them; then the new
    /// active version's actors get OnReactivate. What was still queued when
    /// `drain` ran out is counted in [`Unloaded::undelivered`].
    pub fn unload_within(&self, prefix: &str, drain: Duration) -> Result<Unloaded, DirectorError> {
        let _op = self.operation();
        self.unload_version(prefix, drain)
    }

    /// [`Director::unload_within`], with the operation lock already held.
    pub(crate) fn unload_version(&self, prefix: &str, drain: Duration) -> Result<Unloaded, DirectorError> {
        let (group, hash, was_active, next) = {
            let mut state = self.state();
            let (group, i) = state.find(prefix)?;
            let hash = state.groups[&group].versions[i].info.hash.clone();
            let was_active = state.groups[&group].active.as_deref() == Some(hash.as_str());
            // Under the lock that every resolution by name takes: from here
            // on, no new message reaches this version by role or name.
            let next = if was_active { state.retire_active(&group, &hash) } else { None };
            (group, hash, was_active, next)
        };
        if was_active {
            self.queue_lifecycle(&group, &hash, |a| a.spec.on_deactivate.clone());
        }
        let freed = self.free(&group, &hash, drain)?;
        if let Some(next) = &next
            && let Err(e) = self.activate(&group, next, |a| a.spec.on_reactivate.clone())
        {
            log::warn!("reactivating {group} {next}: {e}");
        }
        let save = {
            let mut state = self.state();
            state.send_notifications();
            state.save_state()
        };
        save.write();
        Ok(Unloaded {
            group,
            version: freed.version,
            hash,
            code: freed.code,
            freed: freed.is_freed,
            reactivated: next,
            undelivered: freed.undelivered,
        })
    }

    /// Queues the message `pick` chooses for each live actor of a version,
    /// behind what they hold (an unload's exit request then queues behind it).
    fn queue_lifecycle(&self, group: &str, hash: &str, pick: impl Fn(&Running) -> Option<Value>) {
        let state = self.state();
        let Some(v) = state.version(group, hash) else { return };
        for (addr, msg) in v.actors.iter().filter_map(|a| Some((a.address?, pick(a)?))) {
            self.system().tell(&addr, msg);
        }
    }

    /// Stops version `hash`'s actors, each after the messages it holds, and
    /// frees its code: the runtime's unload in the daemon, or a worker asked
    /// to exit (killed if it has not within `drain`).
    fn free(&self, group: &str, hash: &str, drain: Duration) -> Result<Freed, DirectorError> {
        let (isolated, worker, version) = {
            let mut state = self.state();
            let v = state.version(group, hash).ok_or_else(|| fail(ErrorKind::NotFound, "version vanished"))?;
            let (isolated, version) = (matches!(v.runs, Runs::Worker(_)), v.info.version.clone());
            (isolated, state.take_worker(group, hash), version)
        };
        if isolated {
            let (exit, undelivered) = worker.map(|w| w.stop_draining(drain)).unzip();
            self.state().remove_version(group, hash);
            let undelivered = undelivered.unwrap_or(0);
            return Ok(Freed { version, code: freed(exit), is_freed: true, undelivered });
        }
        let report = self.system().unload_within(hash, drain).map_err(|e| fail(ErrorKind::Failed, e.to_string()))?;
        self.state().forget_unloaded(group, hash, &report);
        Ok(Freed {
            version: report.version.clone(),
            code: report.code.to_string(),
            is_freed: report.code.is_freed(),
            undelivered: report.undelivered,
        })
    }
}
