//! Start-up and recovery: the state file (see [`state`](crate::daemon::state))
//! kept current after every change, the quarantine of a group whose load
//! took the daemon down, and restoring what was loaded after a crash.

use std::path::Path;

use crate::daemon::core::{Core, DirectorError, fail};
use crate::daemon::state::{SavedState, SavedVersion, quarantine_note};
use crate::daemon::state_file::{StateFile, StateSave};
use crate::protocol::{ErrorKind, RefreshItem};

impl Core {
    /// Keeps the state file in `dir` from now on. `previous` is what the
    /// last daemon saved: its quarantined groups, and the group it was
    /// loading when it died, are quarantined (and saved at once, so that a
    /// second crash during this start cannot lose them; start-up serves
    /// nobody yet, so this writes under the state lock).
    pub fn keep_state(&mut self, dir: &Path, previous: Option<&SavedState>) {
        self.state_file = Some(StateFile::new(dir.to_path_buf()));
        for group in previous.map(SavedState::to_quarantine).unwrap_or_default() {
            log::warn!("group {group:?} is quarantined: {}", quarantine_note(&group));
            self.quarantined.insert(group);
        }
        self.save_state().write();
    }

    /// A snapshot of the state for the state file (when kept), to write
    /// once the state lock is released (see `daemon::state_file`).
    pub(crate) fn save_state(&self) -> StateSave {
        self.save_state_as(false)
    }

    /// At a clean shutdown the next start refreshes: the state file is
    /// removed, or, while a group is quarantined, marked clean.
    /// (Shutdown serves nobody any more: this writes under the state lock.)
    pub fn save_clean_shutdown(&self) {
        let Some(file) = &self.state_file else { return };
        if self.quarantined.is_empty() {
            file.remove();
            return;
        }
        self.save_state_as(true).write();
    }

    fn save_state_as(&self, clean_shutdown: bool) -> StateSave {
        if let Some(changed) = &self.changed {
            changed();
        }
        let Some(file) = &self.state_file else { return StateSave::none() };
        let versions = self
            .groups
            .iter()
            .flat_map(|(group, g)| {
                g.versions.iter().map(move |v| SavedVersion {
                    group: group.clone(),
                    file: v.file.clone(),
                    hash: v.info.hash.clone(),
                    active: g.active.as_deref() == Some(v.info.hash.as_str()),
                })
            })
            .collect();
        let state = SavedState {
            format: 0,
            clean_shutdown,
            loading: self.loading.clone(),
            quarantined: self.quarantined.iter().cloned().collect(),
            versions,
        };
        file.snapshot(state)
    }

    /// Refuses a quarantined group unless the load is `explicit`, which
    /// lets it out of quarantine.
    pub(crate) fn admit(&mut self, group: &str, explicit: bool) -> Result<(), DirectorError> {
        if !self.quarantined.contains(group) {
            return Ok(());
        }
        if explicit {
            self.quarantined.remove(group);
            log::info!("group {group:?} leaves quarantine: loaded explicitly");
            return Ok(());
        }
        Err(fail(ErrorKind::Refused, format!("group {group:?} is quarantined: {}", quarantine_note(group))))
    }

    /// Records that `group`'s code is about to run for a load: the
    /// snapshot must be written before it runs.
    pub(crate) fn begin_loading(&mut self, group: &str) -> StateSave {
        self.loading = Some(group.to_string());
        self.save_state()
    }

    /// The load has ended, either way.
    pub(crate) fn end_loading(&mut self) -> StateSave {
        self.loading = None;
        self.save_state()
    }

    /// Keeps what failed during start-up, for `status` and `start` (a
    /// quarantined group is reported as such, not again as a failure).
    pub fn record_startup(&mut self, items: &[RefreshItem]) {
        self.startup_failures =
            items.iter().filter(|i| i.error.is_some() && !self.quarantined.contains(&i.group)).cloned().collect();
    }

    /// The quarantined groups.
    pub fn quarantined(&self) -> Vec<String> {
        self.quarantined.iter().cloned().collect()
    }
}
