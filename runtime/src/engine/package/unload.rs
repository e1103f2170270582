//! Unloading a version so that its code is really gone: stop its actors,
//! run its shutdown hook, join its threads, drop its last objects, dlclose,
//! then check /proc/self/maps before calling it freed.
//!
//! # Drain, then stop
//!
//! Each actor gets `ActorExitRequest` at the back of its mailbox, so it
//! handles every message it already holds before it stops (mailboxes are
//! FIFO). The caller must have made the version unreachable by role and
//! global name first, so that nothing new joins the queue by name. If the
//! drain limit runs out, the messages still queued are taken out and
//! counted as dead letters (an ask among them fails at once), and the
//! report gives their number; the handler still running keeps the version
//! resident.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_abi::{Address, Message};

use crate::engine::cell::{ActorCell, CellKind};
use crate::engine::package::version::Version;
use crate::engine::payload::Payload;
use crate::engine::route::{DeadReason, dead_envelope, route};
use crate::engine::state::EngineState;
use crate::error::AskError;
use crate::native::maps;
use crate::package::PackageInfo;
use crate::report::{CodeState, ResidentState, UnloadReport};

/// A version whose code was still in the process when it was unloaded.
pub(crate) enum Resident {
    /// Its actors did not stop in time: the whole version is kept, so that
    /// the handlers still running keep valid code under them.
    Running(Arc<Version>),
    /// Closed, but the library is still mapped (a live thread holds a
    /// thread-local destructor of it, or it is marked NODELETE).
    Mapped(PackageInfo),
}

/// Unloads `version` (already removed from the loaded list), giving its
/// actors up to `drain` to answer what they hold and stop.
pub(crate) fn unload(engine: &Arc<EngineState>, version: Arc<Version>, drain: Duration) -> UnloadReport {
    version.begin_unload();
    let (asked, remaining) = stop_actors(engine, &version, drain);
    let undelivered = if remaining > 0 { discard_queued(engine, &version) } else { 0 };
    fail_unanswered_asks(engine, version.home);
    let mut report = report_for(&version.info, asked.saturating_sub(remaining));
    report.undelivered = undelivered;
    if remaining > 0 {
        // A handler that never returns holds a thread in the library: joining
        // or closing now would hang or crash, so the version stays.
        report.code = CodeState::Resident { reason: still_running(remaining, Some(drain)) };
        engine.keep_resident(Resident::Running(version));
        return report;
    }
    finish(engine, &version, &mut report);
    log::info!("{report}");
    report
}

/// The report of an unload of `info` that stopped `actors_stopped` actors,
/// before the rest of it ([`finish`]) has run.
fn report_for(info: &PackageInfo, actors_stopped: usize) -> UnloadReport {
    UnloadReport {
        group: info.group.clone(),
        version: info.version.clone(),
        hash: info.hash.clone(),
        library: info.library.clone(),
        actors_stopped,
        undelivered: 0,
        shutdown_hook_error: None,
        code: CodeState::Freed,
        directory_removed: false,
    }
}

fn still_running(n: usize, grace: Option<Duration>) -> String {
    let within = grace.map(|g| format!(" within {g:?}")).unwrap_or_default();
    format!("{n} actor(s) did not stop{within}: a handler is still running in the package's code")
}

/// The rest of an unload once no actor runs: shutdown hook, join the
/// version's threads, close the library, and remove its directory once the
/// code is gone (a still-mapped library keeps its file, and is re-checked).
fn finish(engine: &EngineState, version: &Version, report: &mut UnloadReport) {
    report.shutdown_hook_error = run_shutdown_hook(version);
    version.exec.stop_and_join();
    report.code = close_library(version);
    if report.code.is_freed() {
        report.directory_removed = remove_dir(&version.info.library);
    } else {
        engine.keep_resident(Resident::Mapped(version.info.clone()));
    }
}

fn remove_dir(library: &Path) -> bool {
    library.parent().is_some_and(|dir| std::fs::remove_dir_all(dir).is_ok() || !dir.exists())
}

/// Looks again at every resident version: one whose actors have stopped
/// since is unloaded the rest of the way; one whose library is no longer
/// mapped is freed (its directory removed) and forgotten. Returns the state
/// of each version that was resident, freed ones included this once.
pub(crate) fn recheck(engine: &Arc<EngineState>) -> Vec<ResidentState> {
    let before = engine.take_resident();
    let mut out = Vec::with_capacity(before.len());
    for entry in before {
        let info = match &entry {
            Resident::Running(v) => v.info.clone(),
            Resident::Mapped(info) => info.clone(),
        };
        let code = match entry {
            Resident::Running(v) => match v.wait_idle(Duration::ZERO) {
                0 => {
                    let mut report = report_for(&info, 0);
                    finish(engine, &v, &mut report);
                    log::info!("resident version finished unloading: {report}");
                    report.code
                }
                n => {
                    engine.keep_resident(Resident::Running(v));
                    CodeState::Resident { reason: still_running(n, None) }
                }
            },
            Resident::Mapped(info) => {
                nudge_loader(&info.library);
                match maps::mappings_of(&info.library) {
                    Ok(lines) if lines.is_empty() => {
                        remove_dir(&info.library);
                        CodeState::Freed
                    }
                    _ => {
                        engine.keep_resident(Resident::Mapped(info));
                        CodeState::Resident { reason: STILL_MAPPED.into() }
                    }
                }
            }
        };
        out.push(ResidentState {
            group: info.group,
            version: info.version,
            hash: info.hash,
            library: info.library,
            code,
        });
    }
    out
}

/// Why a closed library may still be mapped.
const STILL_MAPPED: &str = "still mapped after dlclose: a live thread holds a thread-local destructor from it \
     (a thread the package started and did not stop), or the library is marked NODELETE";

/// The version's live actors.
fn cells_of(engine: &EngineState, version: &Version) -> Vec<Arc<ActorCell>> {
    engine.table.select(|c| matches!(&c.kind, CellKind::Package(v) if v.home == version.home))
}

/// Sends `ActorExitRequest` to the back of every actor's mailbox and waits
/// up to `drain` for them to stop. Actors that appear meanwhile (a child
/// created by a handler still running, or a create that raced the unload)
/// are asked too. Returns how many were asked and how many are left.
fn stop_actors(engine: &Arc<EngineState>, version: &Arc<Version>, drain: Duration) -> (usize, usize) {
    let deadline = Instant::now() + drain;
    let mut asked = HashSet::new();
    loop {
        for cell in cells_of(engine, version).iter().filter(|c| asked.insert(c.addr)) {
            route(engine, Address::NOBODY, cell.addr, Payload::native(Message::ActorExitRequest));
        }
        let slice = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
        let remaining = version.wait_idle(slice);
        if remaining == 0 || Instant::now() >= deadline {
            return (asked.len(), remaining);
        }
    }
}

/// After a drain that ran out of time: takes every message still queued
/// for the version's actors out of their mailboxes, as dead letters, and
/// queues a fresh exit request so each actor stops once its current
/// handler returns. Returns how many messages were taken (exit requests
/// not counted).
fn discard_queued(engine: &Arc<EngineState>, version: &Version) -> u64 {
    let mut discarded = 0;
    for cell in cells_of(engine, version) {
        let (queued, unstarted) = cell.mailbox.discard();
        discarded += unstarted;
        for env in queued {
            if env.payload.is_exit_request() {
                continue;
            }
            discarded += 1;
            dead_envelope(engine, cell.addr, env, DeadReason::Stopped);
        }
        route(engine, Address::NOBODY, cell.addr, Payload::native(Message::ActorExitRequest));
    }
    if discarded > 0 {
        log::warn!("unloading {}: {discarded} message(s) left undelivered", version.info.hash);
    }
    discarded
}

/// Fails at once every ask still waiting on an actor of the version `home`:
/// its actors are stopped (or given up on), so no answer is coming. A late
/// answer from a handler that is still running finds no reply address and
/// is counted as a dead letter.
fn fail_unanswered_asks(engine: &EngineState, home: u32) {
    crate::engine::reply::fail_waiting(
        engine,
        |slot| slot.target.home() == home,
        |slot| AskError::TargetExited(slot.target),
    );
}

fn run_shutdown_hook(version: &Version) -> Option<String> {
    let code = version.library_for_unload()?;
    match version.exec.call(move || code.shutdown()) {
        Some(Ok(())) => None,
        Some(Err(e)) => Some(e),
        None => Some("the package thread stopped before the hook ran".into()),
    }
}

/// Drops the version's reference to its code and closes it if that was the
/// last one; then checks that no mapping is left.
fn close_library(version: &Version) -> CodeState {
    let Some(code) = version.take_library() else {
        return CodeState::Resident { reason: "code already taken".into() };
    };
    let code = match Arc::try_unwrap(code) {
        Ok(code) => code,
        Err(still_shared) => {
            let n = Arc::strong_count(&still_shared) - 1;
            // Leaked on purpose: closing it under a live reference would crash.
            std::mem::forget(still_shared);
            let reason = format!("{n} object(s) made by the package are still referenced");
            return CodeState::Resident { reason };
        }
    };
    if let Err(e) = code.close() {
        return CodeState::Resident { reason: format!("dlclose failed: {e}") };
    }
    confirm_unmapped(&version.info.library)
}

/// glibc frees a library whose pinning thread has exited only at the next
/// dlclose of anything; nudge it a few times before giving up.
fn confirm_unmapped(path: &Path) -> CodeState {
    for attempt in 0..20 {
        match maps::mappings_of(path) {
            Ok(lines) if lines.is_empty() => return CodeState::Freed,
            Ok(_) => {}
            Err(e) => return CodeState::Resident { reason: format!("cannot read /proc/self/maps: {e}") },
        }
        nudge_loader(path);
        std::thread::sleep(Duration::from_millis(attempt.min(10)));
    }
    CodeState::Resident { reason: STILL_MAPPED.into() }
}

/// `dlopen(RTLD_NOLOAD)` then `dlclose`: a no-op for a gone library, and a
/// dlclose that makes glibc collect unreferenced objects otherwise.
fn nudge_loader(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return };
    // SAFETY: RTLD_NOLOAD never loads or initialises anything; it only
    // returns a handle (bumping the count) if the object is still loaded.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOLOAD | libc::RTLD_LAZY) };
    if !handle.is_null() {
        // SAFETY: `handle` came from the dlopen above; this drops that count.
        unsafe { libc::dlclose(handle) };
    }
}
