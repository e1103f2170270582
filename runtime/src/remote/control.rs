//! Requests and answers between a node and a worker process it started,
//! carried as control frames beside the message batches.

use actor_abi::Address;

/// One control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Worker -> starter, first frame: who it is.
    Hello {
        /// The node number it was given.
        node: u32,
        /// Its process id.
        pid: u32,
    },
    /// Starter -> worker: load a staged package.
    Load(LoadRequest),
    /// Worker -> starter: the version is loaded.
    Loaded {
        /// Its home in the worker.
        home: u32,
        /// The library file it was loaded from.
        library: String,
        /// The classes it exports.
        classes: Vec<String>,
    },
    /// Starter -> worker: create an actor of `class` of the loaded version.
    Create {
        /// The class.
        class: String,
        /// A global name in the worker, if any.
        global_name: Option<String>,
        /// The parent to tell when the actor stops ([`Address::NOBODY`]: none).
        parent: Address,
    },
    /// Worker -> starter: the actor created.
    Created {
        /// Its address.
        addr: Address,
    },
    /// Worker -> starter: the last request failed, and why.
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// Starter -> worker: unload (the actors answering what they hold
    /// for up to `drain_ms`), shut down and exit.
    Stop {
        /// The drain limit, in milliseconds.
        drain_ms: u64,
    },
    /// Worker -> starter, last frame before it exits: how its unload went.
    Stopped {
        /// Messages its actors still held, dropped when the drain ran out.
        undelivered: u64,
    },
    /// Worker -> starter: one `log` record of the worker (a package's line
    /// carries the actor that logged it), for the starter's logger.
    Log {
        /// The level, 1 (error) to 5 (trace).
        level: u8,
        /// The record's target.
        target: String,
        /// The message.
        message: String,
        /// The actor whose handler logged it ([`Address::NOBODY`] outside one).
        actor: Address,
    },
    /// Worker -> starter: give global name `name` to the worker's actor
    /// `addr`, unless a live actor holds it (the starter keeps the one
    /// table of global names).
    ClaimName {
        /// Matches the answer to the claim.
        id: u64,
        /// The name.
        name: String,
        /// The worker's actor that wants it.
        addr: Address,
    },
    /// Starter -> worker: the answer to [`Control::ClaimName`] `id`: who
    /// holds the name now (`addr` if the claim won; [`Address::NOBODY`]
    /// if it was refused).
    NameClaimed {
        /// The claim answered.
        id: u64,
        /// The holder.
        holder: Address,
    },
    /// Worker -> starter: the worker's actor `addr` stopped; drop `name`
    /// if it still names it.
    ReleaseName {
        /// The name.
        name: String,
        /// The actor that held it.
        addr: Address,
    },
}

/// A package the starter verified and staged, handed to a worker: load the
/// library `library` in the staging directory `dir`, after checking that
/// its SHA-256 is `sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    /// The staging directory.
    pub dir: String,
    /// The library's file name in it.
    pub library: String,
    /// The library file's SHA-256 (lowercase hex) from the signed manifest.
    pub sha256: String,
    /// The package's group.
    pub group: String,
    /// Its version text.
    pub version: String,
    /// Its package hash.
    pub hash: String,
    /// The actor classes its signed manifest lists.
    pub actors: Vec<String>,
}
