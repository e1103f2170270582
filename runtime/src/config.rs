//! Settings of an actor system.

use std::path::PathBuf;
use std::time::Duration;

/// How an [`ActorSystem`](crate::ActorSystem) is set up. Build one with
/// [`SystemConfig::default`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// Threads that run host actors.
    pub host_threads: usize,
    /// Threads each loaded package version gets for its actors.
    pub package_threads: usize,
    /// Where package libraries are written before loading; each version gets
    /// a fresh 0700 directory below it, named by the package hash. `None`
    /// means a private directory under the system temp directory, removed at
    /// shutdown.
    pub extract_root: Option<PathBuf>,
    /// How long an unload waits for a version's actors to stop.
    pub unload_grace: Duration,
    /// This system's node number, which every address it hands out carries:
    /// [`Address::MAIN_NODE`](actor_abi::Address::MAIN_NODE) for a system
    /// that starts the others, the number it was given for one started by
    /// another (a worker process).
    pub node: u32,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            host_threads: 2,
            package_threads: 1,
            extract_root: None,
            unload_grace: Duration::from_secs(10),
            node: actor_abi::Address::MAIN_NODE,
        }
    }
}

impl SystemConfig {
    /// Sets [`SystemConfig::host_threads`] (at least 1).
    pub fn with_host_threads(mut self, n: usize) -> Self {
        self.host_threads = n.max(1);
        self
    }

    /// Sets [`SystemConfig::package_threads`] (at least 1).
    pub fn with_package_threads(mut self, n: usize) -> Self {
        self.package_threads = n.max(1);
        self
    }

    /// Sets [`SystemConfig::extract_root`].
    pub fn with_extract_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.extract_root = Some(dir.into());
        self
    }

    /// Sets [`SystemConfig::unload_grace`].
    pub fn with_unload_grace(mut self, grace: Duration) -> Self {
        self.unload_grace = grace;
        self
    }

    /// Sets [`SystemConfig::node`].
    pub fn with_node(mut self, node: u32) -> Self {
        self.node = node;
        self
    }
}
