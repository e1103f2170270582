//! What an unload or a shutdown did.

use std::fmt;
use std::path::PathBuf;

/// Whether a package's code left the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// `dlclose`d and no mapping of the library remains.
    Freed,
    /// Still in memory; the reason says why. Never reported as freed.
    Resident {
        /// Why the code stays.
        reason: String,
    },
}

impl CodeState {
    /// True for [`CodeState::Freed`].
    pub fn is_freed(&self) -> bool {
        matches!(self, CodeState::Freed)
    }
}

impl fmt::Display for CodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeState::Freed => f.write_str("freed"),
            CodeState::Resident { reason } => write!(f, "resident ({reason})"),
        }
    }
}

/// The outcome of unloading one package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadReport {
    /// The group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The package hash.
    pub hash: String,
    /// The library file.
    pub library: PathBuf,
    /// How many actors were stopped.
    pub actors_stopped: usize,
    /// How many messages its actors still held, unhandled, when the drain
    /// limit ran out: each was counted as a dead letter (and an ask among
    /// them failed). Zero when every actor answered what it held and
    /// stopped in time.
    pub undelivered: u64,
    /// The shutdown hook's error, if it failed.
    pub shutdown_hook_error: Option<String>,
    /// Whether the code left the process.
    pub code: CodeState,
    /// Whether the version's directory was removed.
    pub directory_removed: bool,
}

impl fmt::Display for UnloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = &self.hash[..self.hash.len().min(12)];
        write!(
            f,
            "unloaded {} {} ({short}): {} actor(s) stopped, code {}, directory {}",
            self.group,
            if self.version.is_empty() { "(unversioned)" } else { &self.version },
            self.actors_stopped,
            self.code,
            if self.directory_removed { "removed" } else { "left in place" },
        )?;
        if self.undelivered > 0 {
            write!(f, "; {} message(s) left undelivered", self.undelivered)?;
        }
        if let Some(e) = &self.shutdown_hook_error {
            write!(f, "; shutdown hook failed: {e}")?;
        }
        Ok(())
    }
}

/// A version whose code stayed in the process at its unload, as it stands
/// now (see [`ActorSystem::recheck_resident`](crate::ActorSystem::recheck_resident)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentState {
    /// The group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The package hash.
    pub hash: String,
    /// The library file it was loaded from.
    pub library: PathBuf,
    /// Freed now, or still resident (and why).
    pub code: CodeState,
}

/// What [`ActorSystem::shutdown`](crate::ActorSystem::shutdown) did.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// One report per package version that was loaded.
    pub unloads: Vec<UnloadReport>,
    /// Host actors that did not stop in time.
    pub host_actors_left: usize,
}
