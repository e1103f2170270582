//! The control protocol between `DirectorControl` and the daemon: one JSON
//! request line, one JSON response line, over the daemon's Unix socket.

use serde::{Deserialize, Serialize};

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Is it running, and what does it hold?
    Status,
    /// Load a group's newest package, or exactly one `.tls` file.
    Load {
        /// A group name or a `.tls` file name.
        target: String,
    },
    /// Load the newest package of every group that has a `.tli`.
    Refresh,
    /// Unload the loaded version with this hash (or unique prefix).
    Unload {
        /// Hash or prefix.
        hash: String,
        /// How long its actors get to answer what they hold and stop,
        /// 1 ms to an hour (default 10 s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Every loaded version and its actors.
    List,
    /// The convention's members, as their records in the membership bucket say.
    Members,
    /// Send a message to a role or global name and wait for the reply.
    Ask(Send),
    /// Send a message to a role or global name.
    Tell(Send),
    /// The address of a role (in a group's active version).
    RoleAddress {
        /// The role.
        role: String,
        /// The group, if more than one has the role.
        group: Option<String>,
    },
    /// Stop every actor, unload everything and exit.
    Shutdown,
}

/// Where and what to send, for [`Request::Ask`] and [`Request::Tell`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Send {
    /// A role or a global name.
    pub target: String,
    /// Only look in this group.
    pub group: Option<String>,
    /// Use this loaded version (hash or prefix) instead of the active one.
    pub source: Option<String>,
    /// The message, as JSON.
    pub message: serde_json::Value,
    /// How long an ask waits, in milliseconds.
    pub timeout_ms: u64,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Response {
    /// It worked.
    Ok {
        /// The result.
        result: Reply,
    },
    /// It did not; nothing changed unless the message says otherwise.
    Error {
        /// The kind of failure.
        kind: ErrorKind,
        /// What went wrong, for people.
        message: String,
    },
}

/// Kinds of failure, so callers can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The Source Authority refused the package.
    Refused,
    /// No such group, file, version, role or name.
    NotFound,
    /// The request is malformed or ambiguous.
    BadRequest,
    /// An ask got no reply in time.
    Timeout,
    /// The target could not handle the message (PoisonMessage).
    Poisoned,
    /// The connecting user may not control this daemon.
    PermissionDenied,
    /// Too many control connections are open; try again.
    Busy,
    /// Anything else.
    Failed,
}

/// Results, one shape per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// For [`Request::Status`].
    Status(Status),
    /// For [`Request::Load`].
    Loaded(Loaded),
    /// For [`Request::Refresh`].
    Refreshed {
        /// One entry per group with a `.tli`.
        groups: Vec<RefreshItem>,
    },
    /// For [`Request::Unload`].
    Unloaded(Unloaded),
    /// For [`Request::List`].
    List {
        /// Groups by name.
        groups: Vec<GroupListing>,
    },
    /// For [`Request::Members`].
    Members {
        /// By member name.
        members: Vec<crate::convention::members::MemberListing>,
    },
    /// For [`Request::Ask`]: the reply as JSON.
    Answer {
        /// The reply.
        reply: serde_json::Value,
    },
    /// For [`Request::Tell`].
    Told,
    /// For [`Request::RoleAddress`].
    Address {
        /// The address, if the role exists.
        address: Option<String>,
    },
    /// For [`Request::Shutdown`].
    ShuttingDown,
}

/// The daemon's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since it started.
    pub uptime_secs: u64,
    /// The control socket.
    pub socket: String,
    /// The director directory.
    pub dir: String,
    /// Groups with a loaded version.
    pub groups: usize,
    /// Loaded versions.
    pub versions: usize,
    /// Live actors in the daemon's own process (host actors included).
    pub actors: usize,
    /// Worker processes running a version.
    #[serde(default)]
    pub workers: usize,
    /// The convention this daemon is a member of, and its link's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convention: Option<String>,
    /// Dead letters so far.
    pub dead_letters: u64,
    /// Groups skipped until loaded explicitly (a daemon died loading them).
    #[serde(default)]
    pub quarantined: Vec<String>,
    /// What failed to load when this daemon started.
    #[serde(default)]
    pub startup_failures: Vec<RefreshItem>,
}

/// A completed load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    /// The group.
    pub group: String,
    /// The file loaded.
    pub file: String,
    /// Its hash.
    pub hash: String,
    /// Its version (empty when unversioned).
    pub version: String,
    /// True if it was already loaded (nothing changed).
    pub already_loaded: bool,
    /// Versions unloaded by `AutoUnload`.
    pub auto_unloaded: Vec<Unloaded>,
    /// Files deleted by `TLS_Keep_Limit`.
    pub deleted_files: Vec<String>,
    /// Actors whose `Requires` no host meets, each as `CLASS: why`
    /// (the version loaded; these actors do not run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unplaced: Vec<String>,
}

/// One group's refresh outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshItem {
    /// The group.
    pub group: String,
    /// The load, if it worked.
    pub loaded: Option<Loaded>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A completed unload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unloaded {
    /// The group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The hash.
    pub hash: String,
    /// `freed`, or `resident (reason)`.
    pub code: String,
    /// True if the code left the process.
    pub freed: bool,
    /// The version that became active instead, if this one was active.
    pub reactivated: Option<String>,
    /// Messages its actors still held when the drain ran out: never
    /// handled, each counted as a dead letter (an ask among them failed).
    #[serde(default)]
    pub undelivered: u64,
}

/// One group in `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupListing {
    /// The group.
    pub group: String,
    /// Its loaded (and resident) versions, in load order.
    pub versions: Vec<VersionListing>,
    /// Set for a quarantined group (no versions): why, and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<String>,
}

/// One version in `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionListing {
    /// The group.
    pub group: String,
    /// The hash.
    pub hash: String,
    /// The version.
    pub version: String,
    /// True for the group's active version.
    pub active: bool,
    /// `mapped`, or `resident (reason)` for an unloaded version whose code stayed.
    pub code: String,
    /// The package file.
    pub file: String,
    /// Where it runs: `in-process`, `worker pid N`, or `crashed: REASON`
    /// while its worker is being restarted.
    #[serde(default)]
    pub runs: String,
    /// How many times a restart of its worker was attempted after a crash.
    #[serde(default)]
    pub worker_restarts: u32,
    /// Its worker's last crash, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_crash: Option<CrashListing>,
    /// Its TLI actors.
    pub actors: Vec<ActorListing>,
}

/// How a version's worker last crashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashListing {
    /// `SIGSEGV`, `exit status 3`, ...
    pub reason: String,
    /// When, seconds since the epoch.
    pub at: u64,
}

/// One actor in `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorListing {
    /// Its address, or `None` while it is not running.
    pub address: Option<String>,
    /// Its class.
    pub class: String,
    /// Its TLI role.
    pub role: Option<String>,
    /// Its global name (held only while its version is active).
    pub global_name: Option<String>,
    /// When it (last) started, seconds since the epoch.
    pub since: u64,
    /// How many times it was restarted.
    pub restarts: u32,
    /// Where it runs when not here (its TLI `Requires` placed it):
    /// `on MEMBER`, or `unplaced: WHY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<String>,
}
