//! What the daemon holds, kept on disk so that the next start can act on
//! it (`.director-state.json` in the director directory, written atomically
//! at every change):
//!
//! - which group is being loaded right now: a daemon that dies during a
//!   load (an `OnLoad` that crashes it, a library constructor that aborts)
//!   leaves it set, and the next start quarantines that group instead of
//!   crashing again;
//! - the quarantined groups, until an operator loads one explicitly;
//! - the loaded versions in load order and which one of each group is
//!   active, so that a start after a crash or `kill -9` restores exactly
//!   those (a start after a clean `shutdown` refreshes, as the seed says).
//!
//! The file is read like every other file of the directory: bounded and,
//! with strict trust on, only if no other user can change it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use runtime::tls::trusted_file::{self, ReadError};

/// The state file's name in the director directory.
pub const STATE_FILE: &str = ".director-state.json";
/// Largest state file read.
const MAX_STATE_FILE: u64 = 4 << 20;
/// The format written.
const FORMAT: u32 = 1;

/// Why `group` is quarantined, and what lets it out.
pub fn quarantine_note(group: &str) -> String {
    format!("a daemon died while loading it; `thespian-director load {group}` to try it again")
}

/// One loaded version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedVersion {
    /// The group.
    pub group: String,
    /// The package file it was loaded from.
    pub file: PathBuf,
    /// The package hash.
    pub hash: String,
    /// Whether it is its group's active version.
    pub active: bool,
}

/// The daemon's state as saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    /// The format version.
    pub format: u32,
    /// True once the daemon has shut down cleanly.
    pub clean_shutdown: bool,
    /// The group being loaded, if a load is under way.
    pub loading: Option<String>,
    /// Groups not loaded at start until an operator loads them explicitly.
    pub quarantined: Vec<String>,
    /// Loaded versions, in load order.
    pub versions: Vec<SavedVersion>,
}

impl SavedState {
    /// Reads the state of `dir`: `None` when there is none.
    pub fn read(dir: &Path, strict: bool) -> Result<Option<SavedState>, String> {
        let path = dir.join(STATE_FILE);
        let bytes = match trusted_file::read(&path, MAX_STATE_FILE, strict) {
            Ok(b) => b,
            Err(ReadError::Missing(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let state: SavedState =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: not a state file: {e}", path.display()))?;
        if state.format != FORMAT {
            return Err(format!("{}: format {} (this daemon writes {FORMAT})", path.display(), state.format));
        }
        Ok(Some(state))
    }

    /// Writes the state of `dir` atomically (a reader sees the old or the new file).
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(STATE_FILE);
        let state = SavedState { format: FORMAT, ..self.clone() };
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| e.to_string())?;
        crate::atomic::write(&path, &bytes, 0o600).map(drop).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The groups the next start must skip: those quarantined, and the one
    /// whose load was under way when the daemon died.
    pub fn to_quarantine(&self) -> Vec<String> {
        let mut out = self.quarantined.clone();
        out.extend(self.loading.iter().cloned());
        out.sort();
        out.dedup();
        out
    }

    /// The versions to restore after a crash: none after a clean shutdown.
    pub fn to_restore(&self) -> &[SavedVersion] {
        if self.clean_shutdown { &[] } else { &self.versions }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_and_a_load_under_way_is_quarantined_next_time() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SavedState::read(dir.path(), true).unwrap(), None);
        let state = SavedState {
            loading: Some("bad".into()),
            quarantined: vec!["old".into()],
            versions: vec![SavedVersion {
                group: "foo".into(),
                file: "/d/foo-1.tls".into(),
                hash: "ab".into(),
                active: true,
            }],
            ..SavedState::default()
        };
        state.write(dir.path()).unwrap();
        let back = SavedState::read(dir.path(), true).unwrap().unwrap();
        assert_eq!(back.to_quarantine(), vec!["bad".to_string(), "old".to_string()]);
        assert_eq!(back.to_restore().len(), 1);
        let clean = SavedState { clean_shutdown: true, ..back };
        assert!(clean.to_restore().is_empty(), "a clean shutdown restores nothing: start refreshes");
        std::fs::write(dir.path().join(STATE_FILE), "{").unwrap();
        assert!(SavedState::read(dir.path(), true).unwrap_err().contains("not a state file"));
    }
}
