//! Unloading a version so that its code is really gone: stop its actors,
//! run its shutdown hook, join its threads, drop its last objects, dlclose,
//! then check /proc/self/maps before calling it freed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_abi::{Address, Message};

use crate::cell::Place;
use crate::error::AskError;
use crate::payload::Payload;
use crate::plugin::maps;
use crate::plugin::version::Version;
use crate::report::{CodeState, UnloadReport};
use crate::route::route;
use crate::system::Shared;

/// Unloads `version` (already removed from the loaded list).
pub(crate) fn unload(shared: &Arc<Shared>, version: Arc<Version>) -> UnloadReport {
    version.begin_unload();
    let (asked, remaining) = stop_actors(shared, &version);
    fail_unanswered_asks(shared, version.home);
    let mut report = UnloadReport {
        group: version.info.group.clone(),
        version: version.info.version.clone(),
        hash: version.info.hash.clone(),
        library: version.info.library.clone(),
        actors_stopped: asked.saturating_sub(remaining),
        shutdown_hook_error: None,
        code: CodeState::Freed,
        directory_removed: false,
    };
    if remaining > 0 {
        // A handler that never returns holds a thread in the library: joining
        // or closing now would hang or crash, so the version stays.
        let reason = format!("{remaining} actor(s) did not stop within {:?}", shared.config.unload_grace);
        report.code = CodeState::Resident { reason };
        shared.keep_zombie(version);
        return report;
    }
    report.shutdown_hook_error = run_shutdown_hook(&version);
    version.exec.stop_and_join();
    report.code = close_library(&version);
    if let Some(dir) = version.info.library.parent() {
        report.directory_removed = std::fs::remove_dir_all(dir).is_ok() || !dir.exists();
    }
    log::info!("{report}");
    report
}

/// Sends `ActorExitRequest` to every actor of the version and waits up to
/// the grace period for them to stop. Actors that appear meanwhile (a child
/// created by a handler still running, or a create that raced the unload)
/// are asked too. Returns how many were asked and how many are left.
fn stop_actors(shared: &Arc<Shared>, version: &Arc<Version>) -> (usize, usize) {
    let deadline = Instant::now() + shared.config.unload_grace;
    let mut asked = HashSet::new();
    loop {
        let cells = shared.table.select(|c| matches!(&c.place, Place::Package(v) if v.home == version.home));
        for cell in cells.iter().filter(|c| asked.insert(c.addr)) {
            route(shared, Address::NOBODY, cell.addr, Payload::native(Message::ActorExitRequest));
        }
        let slice = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
        let remaining = version.wait_idle(slice);
        if remaining == 0 || Instant::now() >= deadline {
            return (asked.len(), remaining);
        }
    }
}

/// Fails at once every ask still waiting on an actor of the version `home`:
/// its actors are stopped (or given up on), so no answer is coming. A late
/// answer from a handler that is still running finds no reply address and
/// is counted as a dead letter.
fn fail_unanswered_asks(shared: &Arc<Shared>, home: u64) {
    let waiting = shared.table.select(|c| matches!(&c.place, Place::Reply(slot) if slot.target.home() == home));
    for cell in waiting {
        if let (Some(_), Place::Reply(slot)) = (shared.table.remove(cell.addr.id()), &cell.place) {
            slot.complete(Err(AskError::TargetExited(slot.target)));
        }
    }
}

fn run_shutdown_hook(version: &Version) -> Option<String> {
    let code = version.code_for_unload()?;
    match version.exec.call(move || code.shutdown()) {
        Some(Ok(())) => None,
        Some(Err(e)) => Some(e),
        None => Some("the package thread stopped before the hook ran".into()),
    }
}

/// Drops the version's reference to its code and closes it if that was the
/// last one; then checks that no mapping is left.
fn close_library(version: &Version) -> CodeState {
    let Some(code) = version.take_code() else {
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
    CodeState::Resident {
        reason: "still mapped after dlclose: a live thread holds a thread-local destructor from it, \
                 or the library is marked NODELETE"
            .into(),
    }
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
