//! The runtime's error types.

use std::path::PathBuf;
use std::time::Duration;

use actor_abi::{Address, Value};

/// Why a package could not be loaded. Nothing of it stays loaded or on disk.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The Source Authority refused the package.
    #[error(transparent)]
    Refused(#[from] crate::tls::PackageError),
    /// A package with this hash is already loaded.
    #[error("package {hash} is already loaded")]
    AlreadyLoaded {
        /// The package hash.
        hash: String,
    },
    /// The extraction directory or library file could not be written.
    #[error("cannot write package library under {path}: {source}")]
    Extract {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The extraction directory is on a file system mounted `noexec`.
    #[error("cannot load code from {path}: its file system is mounted noexec")]
    NoExec {
        /// The directory.
        path: PathBuf,
    },
    /// `dlopen` failed.
    #[error("dlopen of {path} failed: {reason}")]
    Open {
        /// The library file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The library is not a Thespian package library.
    #[error("{path} is not a Thespian actor package library: {reason}")]
    NotAPackage {
        /// The library file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// The library speaks another ABI version.
    #[error(
        "{path} was built against actor-abi {plugin_crate} (ABI version {plugin_abi}); \
         this host speaks ABI version {host_abi} (actor-abi {host_crate})"
    )]
    AbiMismatch {
        /// The library file.
        path: PathBuf,
        /// The library's ABI version.
        plugin_abi: u32,
        /// The library's actor-abi crate version.
        plugin_crate: String,
        /// The host's ABI version.
        host_abi: u32,
        /// The host's actor-abi crate version.
        host_crate: String,
    },
    /// Same ABI version but a different layout fingerprint.
    #[error(
        "{path} has ABI layout fingerprint {plugin:#018x}, the host has {host:#018x} \
         (same ABI version {abi}: the actor-abi build differs)"
    )]
    LayoutMismatch {
        /// The library file.
        path: PathBuf,
        /// The ABI version both claim.
        abi: u32,
        /// The library's fingerprint.
        plugin: u64,
        /// The host's fingerprint.
        host: u64,
    },
    /// The worker process for the version could not be started, or it
    /// failed or answered wrongly while loading.
    #[error("worker for package {group}: {reason}")]
    Worker {
        /// The group.
        group: String,
        /// What went wrong.
        reason: String,
    },
    /// The package's init entry point failed.
    #[error("package {group} failed to initialise: {reason}")]
    Init {
        /// The group.
        group: String,
        /// The plugin's report.
        reason: String,
    },
    /// A thread for the version could not be started.
    #[error("cannot start threads for package {group}: {source}")]
    Threads {
        /// The group.
        group: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The system is shutting down.
    #[error("the actor system is shutting down")]
    ShuttingDown,
    /// Every home number (2^32 - 1 loads) of this system has been used.
    #[error("this actor system has used all 4294967295 version numbers; restart it to load more")]
    HomesExhausted,
}

/// Why an unload could not even start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnloadError {
    /// No loaded package has this hash (or hash prefix).
    #[error("no loaded package matches {0:?}")]
    NotLoaded(String),
    /// The prefix matches several loaded packages.
    #[error("{prefix:?} matches several loaded packages: {matches:?}")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// The hashes it matches.
        matches: Vec<String>,
    },
}

/// Why an actor could not be created from the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateActorError {
    /// No loaded package has this hash.
    #[error("no loaded package matches {0:?}")]
    NoSuchPackage(String),
    /// The package does not export the class.
    #[error("package {hash} exports no actor class {class:?} (it exports {available:?})")]
    UnknownClass {
        /// The package hash.
        hash: String,
        /// The class asked for.
        class: String,
        /// What it does export.
        available: Vec<String>,
    },
    /// The package is being unloaded.
    #[error("package {0} is being unloaded")]
    Unloading(String),
    /// The parent actor given does not exist.
    #[error("no live parent actor {0}")]
    NoSuchParent(Address),
    /// The version's worker process refused or did not answer.
    #[error("worker of package {hash}: {reason}")]
    Worker {
        /// The package hash.
        hash: String,
        /// What went wrong.
        reason: String,
    },
    /// The system is shutting down.
    #[error("the actor system is shutting down")]
    ShuttingDown,
}

/// Why an ask got no reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AskError {
    /// There is no actor at that address.
    #[error("no actor at {0}")]
    NoSuchActor(Address),
    /// The address is on a node (a worker process, another host) that this
    /// system has no connection to.
    #[error("no route to {0}: node {node} is not connected", node = .0.node())]
    NoRoute(Address),
    /// The actor's node reported that the message could not be delivered.
    #[error("{target}'s node could not deliver it: {reason}")]
    Remote {
        /// The actor.
        target: Address,
        /// What that node said.
        reason: String,
    },
    /// The node (process) of the actor went away while the ask waited.
    #[error("actor {0} is gone: its node {node} went away before it replied", node = .0.node())]
    NodeLost(Address),
    /// The actor stopped before it replied.
    #[error("actor {0} stopped before it replied")]
    TargetExited(Address),
    /// The message made the actor panic on delivery and on the retry.
    #[error("actor {target} could not handle the message (PoisonMessage): {details}")]
    Poisoned {
        /// The actor.
        target: Address,
        /// The message that was sent.
        message: Value,
        /// The panic text.
        details: String,
    },
    /// No reply within the timeout.
    #[error("no reply from {target} within {after:?}")]
    Timeout {
        /// The actor asked.
        target: Address,
        /// The timeout.
        after: Duration,
    },
    /// The reply was not plain data.
    #[error("actor {0} replied with something other than a plain value")]
    NotAValue(Address),
    /// The system shut down while waiting.
    #[error("the actor system shut down")]
    SystemStopped,
}

/// Why an actor system could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The extraction directory could not be prepared.
    #[error(transparent)]
    ExtractRoot(#[from] LoadError),
    /// A thread could not be started.
    #[error("cannot start actor system threads: {0}")]
    Threads(#[from] std::io::Error),
}
