//! The engine's state: every table the actor engine keeps for one actor
//! system, owned by one `Arc<EngineState>` that the facade, the pool threads
//! and the timer share.
//!
//! # Ownership
//! The fields are visible inside `engine/` only; the facade
//! (`ActorSystem` in `system.rs`) goes through the methods here. The
//! pool threads and the timer hold a `Weak` reference, so dropping the facade
//! frees the state once shutdown has joined them.
//!
//! # Lock order
//! Take locks in this order and never the other way round; a lock not on
//! the list is a leaf (held alone, nothing taken under it):
//!
//! 1. `versions`, then `loading` (a load claims its hash under both, see
//!    [`load`](crate::engine::package::load)); no other lock is taken under
//!    `versions`, and no lock at all is held across `dlopen`, thread start
//!    or a package's `init`.
//! 2. `names`, then a table shard or `routes` (a creator under a global name
//!    inserts the cell while it holds `names`, so one name gets one actor;
//!    a name of another node's actor is live while that node has a route).
//! 3. A cell's `object`, then its mailbox queue (a handler's run drains the
//!    queue while it holds the object). Children and the mailbox queue are
//!    leaves.
//!
//! `resident`, `deliveries`, a version's `library` and `live` counters,
//! the timer's and the reply slots' locks are leaves; so is `routes`, except that it may be
//! taken under `names`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use actor_abi::Address;

use crate::config::SystemConfig;
use crate::engine::cell::{ActorCell, CellKind};
use crate::engine::executor::Executor;
use crate::engine::nodes::{Deliveries, Routes};
use crate::engine::package::unload::Resident;
use crate::engine::package::version::Version;
use crate::engine::table::ActorTable;
use crate::engine::timer::Timer;
use crate::error::{StartError, UnloadError};
use crate::native::staging;
use crate::package::PackageInfo;
use crate::remote::inbound::Inbound;

/// Every table of one actor system's engine.
pub(crate) struct EngineState {
    pub(in crate::engine) table: ActorTable,
    pub(in crate::engine) names: Mutex<HashMap<String, Address>>,
    pub(in crate::engine) versions: Mutex<Vec<Arc<Version>>>,
    /// Hashes being loaded now (claimed under `versions`, see `package::load`).
    pub(in crate::engine) loading: Mutex<Vec<String>>,
    resident: Mutex<Vec<Resident>>,
    pub(in crate::engine) timer: Arc<Timer>,
    host_exec: OnceLock<Executor>,
    pub(in crate::engine) config: SystemConfig,
    pub(in crate::engine) extract_root: PathBuf,
    owns_extract_root: bool,
    next_home: AtomicU32,
    next_id: AtomicU64,
    dead_letters: AtomicU64,
    pub(in crate::engine) stopping: AtomicBool,
    /// This node's number (every address handed out here carries it).
    pub(in crate::engine) node: u32,
    /// Transports to other nodes (a leaf lock, see `nodes`).
    pub(in crate::engine) routes: RwLock<Routes>,
    /// The next node number this system hands to a process it starts.
    next_node: AtomicU32,
    /// Tracked messages to other nodes in flight (a leaf lock, see `nodes`).
    pub(in crate::engine) deliveries: Mutex<Deliveries>,
    /// In a worker: the starter's table of global names (see `spawn`).
    pub(in crate::engine) name_authority: OnceLock<Arc<dyn crate::remote::NameAuthority>>,
    /// In a worker: the ring from the starter, which package threads poll
    /// while idle (see `remote::inbound`).
    idle_poll: OnceLock<Arc<Inbound>>,
}

static SYSTEM_COUNTER: AtomicU64 = AtomicU64::new(0);

impl EngineState {
    /// Prepares the extraction directory and starts the host threads and
    /// the timer.
    pub(crate) fn start(config: SystemConfig) -> Result<Arc<EngineState>, StartError> {
        let (extract_root, owns_extract_root) = match &config.extract_root {
            Some(p) => (p.clone(), false),
            None => {
                let n = SYSTEM_COUNTER.fetch_add(1, Ordering::Relaxed);
                (std::env::temp_dir().join(format!("thespian-rt-{}-{n}", std::process::id())), true)
            }
        };
        staging::prepare_root(&extract_root)?;
        let node = config.node;
        let engine = Arc::new(EngineState {
            table: ActorTable::new(),
            names: Mutex::new(HashMap::new()),
            versions: Mutex::new(Vec::new()),
            loading: Mutex::new(Vec::new()),
            resident: Mutex::new(Vec::new()),
            timer: Arc::new(Timer::default()),
            host_exec: OnceLock::new(),
            config,
            extract_root,
            owns_extract_root,
            next_home: AtomicU32::new(1),
            next_id: AtomicU64::new(1),
            dead_letters: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            node,
            routes: RwLock::new(Routes::default()),
            next_node: AtomicU32::new(1),
            deliveries: Mutex::new(Deliveries::default()),
            name_authority: OnceLock::new(),
            idle_poll: OnceLock::new(),
        });
        let host = Executor::start("thespian-host", engine.config.host_threads, &engine, None)?;
        let _ = engine.host_exec.set(host);
        engine.timer.start(Arc::downgrade(&engine))?;
        Ok(engine)
    }

    pub(crate) fn host_exec(&self) -> &Executor {
        // Set in `start` before any actor exists.
        self.host_exec.get().unwrap_or_else(|| unreachable!("host executor is set at start"))
    }

    /// Makes `inbound` the ring package threads started from now on poll
    /// while idle; set once (false if it was set before).
    pub(crate) fn set_idle_poll(&self, inbound: Arc<Inbound>) -> bool {
        self.idle_poll.set(inbound).is_ok()
    }

    /// The ring package threads poll while idle, if any.
    pub(crate) fn idle_poll(&self) -> Option<Arc<Inbound>> {
        self.idle_poll.get().cloned()
    }

    /// This node's number.
    pub(crate) fn node(&self) -> u32 {
        self.node
    }

    /// A node number for a process this system starts: in this node's
    /// block (see [`crate::remote::NODE_BLOCK_BITS`]), never this node's,
    /// and not one handed out before until the block's 4 million numbers
    /// have all been used.
    pub(crate) fn new_node(&self) -> u32 {
        let base = crate::remote::block_start(crate::remote::block_of(self.node));
        let mask = (1u32 << crate::remote::NODE_BLOCK_BITS) - 1;
        loop {
            let n = base | (self.next_node.fetch_add(1, Ordering::Relaxed) & mask);
            if n != self.node && n != Address::MAIN_NODE {
                return n;
            }
        }
    }

    /// Where package libraries are written.
    pub(crate) fn extract_root(&self) -> &Path {
        &self.extract_root
    }

    /// True if this system made its extraction directory (and removes it).
    pub(in crate::engine) fn owns_extract_root(&self) -> bool {
        self.owns_extract_root
    }

    /// A home number for a new version (never 0, never reused); `None`
    /// once all 2^32 - 1 are used.
    pub(in crate::engine) fn new_home(&self) -> Option<u32> {
        self.next_home.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| h.checked_add(1)).ok()
    }

    pub(in crate::engine) fn new_address(&self, home: u32) -> Address {
        Address::from_parts(self.node, home, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn count_dead_letter(&self) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    /// How many messages could not be delivered so far.
    /// How long an unload waits for a version's actors unless told otherwise.
    pub(crate) fn unload_grace(&self) -> std::time::Duration {
        self.config.unload_grace
    }

    pub(crate) fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    /// The cell at `addr`, if that very actor is still running.
    pub(crate) fn live_cell(&self, addr: Address) -> Option<Arc<ActorCell>> {
        self.table.get(addr.id()).filter(|c| c.addr == addr && !c.is_stopped())
    }

    /// True if `addr` is a live actor (not the reply slot of an ask).
    pub(crate) fn is_actor(&self, addr: Address) -> bool {
        self.live_cell(addr).is_some_and(|c| !matches!(c.kind, CellKind::Reply(_)))
    }

    /// The live actors (not the reply slots of asks in flight), by id.
    pub(crate) fn live_actors(&self) -> Vec<Arc<ActorCell>> {
        let mut out = self.table.select(|c| !matches!(c.kind, CellKind::Reply(_)) && !c.is_stopped());
        out.sort_by_key(|c| c.addr.id());
        out
    }

    /// How many asks wait for a reply now.
    #[cfg(test)]
    pub(crate) fn open_reply_slots(&self) -> usize {
        self.table.select(|c| matches!(c.kind, CellKind::Reply(_))).len()
    }

    /// The live actor registered under `name`.
    pub(crate) fn live_name(&self, name: &str) -> Option<Address> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        self.live_name_in(&names, name)
    }

    /// As [`EngineState::live_name`], with the names lock already held. A
    /// name of an actor of another node counts as live while that node has
    /// a route (its liveness is that node's to know).
    pub(in crate::engine) fn live_name_in(&self, names: &HashMap<String, Address>, name: &str) -> Option<Address> {
        names.get(name).copied().filter(|a| self.can_name(*a))
    }

    /// True if `addr` may carry a global name: a live actor of this node,
    /// or an actor of a node that has a route.
    fn can_name(&self, addr: Address) -> bool {
        if addr.node() == self.node {
            return self.live_cell(addr).is_some();
        }
        self.routes.read().unwrap_or_else(|p| p.into_inner()).to(self.node, addr.node()).is_some()
    }

    /// Drops every name whose actor `gone` picks (its node went away).
    pub(in crate::engine) fn forget_names_where(&self, gone: impl Fn(Address) -> bool) {
        self.names.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, a| !gone(*a));
    }

    /// Points `name` at the live actor `addr` (of this node, or of a node
    /// with a route); false if it is not one.
    pub(crate) fn assign_name(&self, name: &str, addr: Address) -> bool {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.can_name(addr);
        if live {
            names.insert(name.to_string(), addr);
        }
        live
    }

    /// Sets the keeper of this node's global names (once; see `spawn`).
    pub(crate) fn set_name_authority(&self, authority: Arc<dyn crate::remote::NameAuthority>) {
        let _ = self.name_authority.set(authority);
    }

    /// Gives `name` to `addr` (an actor of a node with a route) unless a
    /// live actor holds it; returns the holder, [`Address::NOBODY`] if
    /// `addr` cannot be named or its node holds too many names already.
    /// A node may hold at most `per_node` names this way.
    pub(in crate::engine) fn claim_name(&self, name: &str, addr: Address, per_node: usize) -> Address {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(holder) = self.live_name_in(&names, name) {
            return holder;
        }
        let held = names.values().filter(|a| a.node() == addr.node()).count();
        if held >= per_node || !self.can_name(addr) {
            return Address::NOBODY;
        }
        names.insert(name.to_string(), addr);
        addr
    }

    /// Drops `name` if it still names `addr`.
    pub(crate) fn forget_name(&self, name: &str, addr: Address) -> bool {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let held = names.get(name) == Some(&addr);
        if held {
            names.remove(name);
        }
        held
    }

    /// The most recently loaded version that exports `class`.
    pub(in crate::engine) fn newest_exporting(&self, class: &str) -> Option<Arc<Version>> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.iter().rev().find(|v| v.class_index(class).is_some()).cloned()
    }

    /// The loaded versions, in load order.
    pub(crate) fn packages(&self) -> Vec<PackageInfo> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.iter().map(|v| v.info.clone()).collect()
    }

    /// Keeps a version whose code could not be freed, for later re-checks.
    pub(in crate::engine) fn keep_resident(&self, r: Resident) {
        self.resident.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }

    /// Takes every resident version out (a re-check puts back what stays).
    pub(in crate::engine) fn take_resident(&self) -> Vec<Resident> {
        std::mem::take(&mut *self.resident.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// True if a resident version still has a handler running.
    pub(in crate::engine) fn has_running_resident(&self) -> bool {
        let resident = self.resident.lock().unwrap_or_else(|p| p.into_inner());
        resident.iter().any(|r| matches!(r, Resident::Running(_)))
    }

    /// The loaded version whose hash is `hash` or starts with it.
    pub(crate) fn find_version(&self, hash: &str) -> Result<Arc<Version>, UnloadError> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        let matches: Vec<&Arc<Version>> = versions.iter().filter(|v| v.info.hash.starts_with(hash)).collect();
        match matches.as_slice() {
            _ if hash.is_empty() => Err(UnloadError::NotLoaded(hash.to_string())),
            [one] => Ok((*one).clone()),
            [] => Err(UnloadError::NotLoaded(hash.to_string())),
            many => Err(UnloadError::Ambiguous {
                prefix: hash.to_string(),
                matches: many.iter().map(|v| v.info.hash.clone()).collect(),
            }),
        }
    }

    /// Takes the version out of the loaded list (the start of an unload).
    pub(crate) fn take_version(&self, hash: &str) -> Result<Arc<Version>, UnloadError> {
        let v = self.find_version(hash)?;
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).retain(|x| !Arc::ptr_eq(x, &v));
        Ok(v)
    }

    /// Takes every version out of the loaded list (shutdown).
    pub(in crate::engine) fn take_all_versions(&self) -> Vec<Arc<Version>> {
        std::mem::take(&mut *self.versions.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
