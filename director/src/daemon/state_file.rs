//! Writing the state file outside the state lock.
//!
//! A write syncs to disk (milliseconds); done under the state lock, every
//! ask by role waited for it while versions loaded and unloaded. So a
//! change takes a numbered snapshot under the state lock
//! ([`Core::save_state`](crate::daemon::core::Core)) and writes it after
//! the lock is released. Invariant: the file only ever moves forward, as a
//! write holds `written` and skips a snapshot older than the last one
//! written (two changes racing to the disk leave the newer one).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::daemon::state::{STATE_FILE, SavedState};

/// The daemon's state file: where it is and which snapshot it holds.
pub(crate) struct StateFile {
    dir: PathBuf,
    /// The number of the last snapshot taken.
    taken: AtomicU64,
    /// The number of the last snapshot written (or the file removed at).
    written: Mutex<u64>,
}

impl StateFile {
    /// The state file of the director directory `dir`.
    pub(crate) fn new(dir: PathBuf) -> Arc<StateFile> {
        Arc::new(StateFile { dir, taken: AtomicU64::new(0), written: Mutex::new(0) })
    }

    /// Numbers `state` as the newest snapshot; taken under the state lock,
    /// so numbers follow the order of the changes.
    pub(crate) fn snapshot(self: &Arc<StateFile>, state: SavedState) -> StateSave {
        let seq = self.taken.fetch_add(1, Ordering::AcqRel) + 1;
        StateSave(Some((self.clone(), seq, state)))
    }

    /// Removes the file (a clean shutdown with nothing to remember), after
    /// any write under way.
    pub(crate) fn remove(&self) {
        let seq = self.taken.fetch_add(1, Ordering::AcqRel) + 1;
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(STATE_FILE);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            log::error!("cannot remove {}: {e}", path.display());
        }
        *written = seq;
    }
}

/// A snapshot of the daemon's state still to be written: call
/// [`StateSave::write`] once the state lock is released (binding the
/// snapshot with `let` first, so that the guard is dropped before).
#[must_use = "a state snapshot must be written"]
pub(crate) struct StateSave(Option<(Arc<StateFile>, u64, SavedState)>);

impl StateSave {
    /// Nothing to write (no state file is kept: an embedded Director).
    pub(crate) fn none() -> StateSave {
        StateSave(None)
    }

    /// Writes the snapshot, unless a newer one was written already. A
    /// failure is logged: the daemon serves on, but a crash would then
    /// restore an older state.
    pub(crate) fn write(self) {
        let Some((file, seq, state)) = self.0 else { return };
        let mut written = file.written.lock().unwrap_or_else(|p| p.into_inner());
        if seq <= *written {
            return;
        }
        if let Err(e) = state.write(&file.dir) {
            log::error!("cannot save the daemon's state: {e}");
        }
        *written = seq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(loading: &str) -> SavedState {
        SavedState { loading: Some(loading.to_string()), ..SavedState::default() }
    }

    fn on_disk(dir: &std::path::Path) -> Option<String> {
        SavedState::read(dir, false).expect("readable").and_then(|s| s.loading)
    }

    #[test]
    fn an_older_snapshot_written_late_never_replaces_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().to_path_buf());
        let older = file.snapshot(state_with("older"));
        let newer = file.snapshot(state_with("newer"));
        newer.write();
        older.write();
        assert_eq!(on_disk(dir.path()).as_deref(), Some("newer"));
    }

    #[test]
    fn a_removal_is_ordered_with_the_writes() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().to_path_buf());
        let before = file.snapshot(state_with("before"));
        file.snapshot(state_with("first")).write();
        assert_eq!(on_disk(dir.path()).as_deref(), Some("first"));
        file.remove();
        before.write();
        assert_eq!(on_disk(dir.path()), None, "a snapshot from before the removal came back");
    }
}
