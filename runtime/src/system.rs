//! The actor system: its shared state and the embedding API.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use actor_abi::{Actor, Address, Message, Value};

use crate::cell::{ActorCell, Body, CellSpec, Place};
use crate::config::SystemConfig;
use crate::error::{AskError, CreateActorError, LoadError, UnloadError};
use crate::executor::Executor;
use crate::package::{PackageInfo, VerifiedPackage};
use crate::payload::Payload;
use crate::plugin::version::Version;
use crate::plugin::{extract, load, unload};
use crate::reply::{AskFuture, ReplySlot};
use crate::report::{ResidentState, UnloadReport};
use crate::route::route;
use crate::spawn;
use crate::timer::{Timer, TimerAction};

/// State shared by the API handle, the pool threads and the timer.
pub(crate) struct Shared {
    pub(crate) table: crate::table::ActorTable,
    pub(crate) names: Mutex<HashMap<String, Address>>,
    pub(crate) versions: Mutex<Vec<Arc<Version>>>,
    /// Hashes being loaded now (claimed under `versions`, see `plugin::load`).
    pub(crate) loading: Mutex<Vec<String>>,
    resident: Mutex<Vec<unload::Resident>>,
    pub(crate) timer: Arc<Timer>,
    host_exec: OnceLock<Executor>,
    pub(crate) config: SystemConfig,
    pub(crate) extract_root: PathBuf,
    owns_extract_root: bool,
    pub(crate) next_home: AtomicU64,
    next_id: AtomicU64,
    dead_letters: AtomicU64,
    pub(crate) stopping: AtomicBool,
}

impl Shared {
    pub(crate) fn host_exec(&self) -> &Executor {
        // Set in `ActorSystem::start` before any actor exists.
        self.host_exec.get().unwrap_or_else(|| unreachable!("host executor is set at start"))
    }

    pub(crate) fn new_address(&self, home: u64) -> Address {
        Address::from_parts(home, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn count_dead_letter(&self) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    /// The live actor registered under `name`.
    pub(crate) fn live_name(&self, name: &str) -> Option<Address> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        self.live_name_in(&names, name)
    }

    /// As [`Shared::live_name`], with the names lock already held.
    pub(crate) fn live_name_in(&self, names: &HashMap<String, Address>, name: &str) -> Option<Address> {
        let addr = *names.get(name)?;
        self.table.get(addr.id()).filter(|c| !c.is_stopped()).map(|c| c.addr)
    }

    /// Drops `name` if it still names `addr`.
    pub(crate) fn forget_name(&self, name: &str, addr: Address) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if names.get(name) == Some(&addr) {
            names.remove(name);
        }
    }

    /// The most recently loaded version that exports `class`.
    pub(crate) fn newest_exporting(&self, class: &str) -> Option<Arc<Version>> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.iter().rev().find(|v| v.class_index(class).is_some()).cloned()
    }

    /// Keeps a version whose code could not be freed, for later re-checks.
    pub(crate) fn keep_resident(&self, r: unload::Resident) {
        self.resident.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }

    /// Takes every resident version out (a re-check puts back what stays).
    pub(crate) fn take_resident(&self) -> Vec<unload::Resident> {
        std::mem::take(&mut *self.resident.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn find_version(&self, hash: &str) -> Result<Arc<Version>, UnloadError> {
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

    fn take_version(&self, hash: &str) -> Result<Arc<Version>, UnloadError> {
        let v = self.find_version(hash)?;
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).retain(|x| !Arc::ptr_eq(x, &v));
        Ok(v)
    }
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

/// A live actor, as [`ActorSystem::actors`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorInfo {
    /// Its address.
    pub address: Address,
    /// Its class (for host actors, the Rust type name).
    pub class: String,
    /// The package version it runs in (`None` for host actors).
    pub package: Option<u64>,
    /// Its global name, if it has one.
    pub global_name: Option<String>,
    /// When it was created.
    pub created: SystemTime,
}

/// Options for [`ActorSystem::create_actor_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// A global name; if an actor has it, that actor is returned instead.
    pub global_name: Option<String>,
    /// The parent, which gets `ChildActorExited` when the actor stops.
    pub parent: Option<Address>,
}

/// What [`ActorSystem::shutdown`] did.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// One report per package version that was loaded.
    pub unloads: Vec<UnloadReport>,
    /// Host actors that did not stop in time.
    pub host_actors_left: usize,
}

/// An in-process actor system that runs host actors and actors from loaded
/// packages. Dropping it shuts it down.
pub struct ActorSystem {
    shared: Arc<Shared>,
    down: AtomicBool,
}

static SYSTEM_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ActorSystem {
    /// Starts a system with `config`.
    pub fn start(config: SystemConfig) -> Result<ActorSystem, StartError> {
        let (extract_root, owns) = match &config.extract_root {
            Some(p) => (p.clone(), false),
            None => {
                let n = SYSTEM_COUNTER.fetch_add(1, Ordering::Relaxed);
                (std::env::temp_dir().join(format!("thespian-rt-{}-{n}", std::process::id())), true)
            }
        };
        extract::prepare_root(&extract_root)?;
        let shared = Arc::new(Shared {
            table: crate::table::ActorTable::new(),
            names: Mutex::new(HashMap::new()),
            versions: Mutex::new(Vec::new()),
            loading: Mutex::new(Vec::new()),
            resident: Mutex::new(Vec::new()),
            timer: Arc::new(Timer::default()),
            host_exec: OnceLock::new(),
            config,
            extract_root,
            owns_extract_root: owns,
            next_home: AtomicU64::new(1),
            next_id: AtomicU64::new(1),
            dead_letters: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        let host = Executor::start("thespian-host", shared.config.host_threads, &shared)?;
        let _ = shared.host_exec.set(host);
        shared.timer.start(Arc::downgrade(&shared))?;
        Ok(ActorSystem { shared, down: AtomicBool::new(false) })
    }

    /// Starts a system with the default configuration.
    pub fn start_default() -> Result<ActorSystem, StartError> {
        ActorSystem::start(SystemConfig::default())
    }

    /// Creates a host actor.
    pub fn create_host_actor<A: Actor>(&self, actor: A) -> Address {
        spawn::create_host_actor(&self.shared, type_name::<A>(), None, || Box::new(actor))
    }

    /// Creates a host actor under a global name; if an actor with that name
    /// exists, returns its address and does not call `make`.
    pub fn create_named_host_actor<A: Actor>(&self, global_name: &str, make: impl FnOnce() -> A) -> Address {
        spawn::create_host_actor(&self.shared, type_name::<A>(), Some(global_name), || Box::new(make()))
    }

    /// Creates an actor of `class` from the loaded package whose hash is
    /// `package` (or a unique prefix of it).
    pub fn create_actor(&self, package: &str, class: &str) -> Result<Address, CreateActorError> {
        self.create(package, class, None)
    }

    /// As [`ActorSystem::create_actor`], under a global name: if an actor
    /// with that name exists, its address is returned and nothing is created.
    pub fn create_named_actor(
        &self,
        package: &str,
        class: &str,
        global_name: &str,
    ) -> Result<Address, CreateActorError> {
        self.create(package, class, Some(global_name))
    }

    fn create(&self, package: &str, class: &str, global_name: Option<&str>) -> Result<Address, CreateActorError> {
        self.create_actor_with(
            package,
            class,
            CreateOptions { global_name: global_name.map(str::to_string), parent: None },
        )
    }

    /// Creates an actor of `class` in `package` with options: a global name,
    /// and a parent actor that gets `ChildActorExited` when it stops.
    pub fn create_actor_with(
        &self,
        package: &str,
        class: &str,
        options: CreateOptions,
    ) -> Result<Address, CreateActorError> {
        let version =
            self.shared.find_version(package).map_err(|_| CreateActorError::NoSuchPackage(package.to_string()))?;
        let parent = match options.parent {
            Some(p) => Some(
                self.shared
                    .table
                    .get(p.id())
                    .filter(|c| c.addr == p && !c.is_stopped())
                    .ok_or(CreateActorError::NoSuchParent(p))?,
            ),
            None => None,
        };
        spawn::create_package_actor(&self.shared, &version, class, options.global_name.as_deref(), parent.as_ref())
    }

    /// Points the global name `name` at the live actor `addr` (moving it from
    /// whichever actor had it). False if `addr` is not a live actor.
    pub fn assign_global_name(&self, name: &str, addr: &Address) -> bool {
        let mut names = self.shared.names.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.shared.table.get(addr.id()).is_some_and(|c| c.addr == *addr && !c.is_stopped());
        if live {
            names.insert(name.to_string(), *addr);
        }
        live
    }

    /// True if `addr` is a live actor.
    pub fn is_alive(&self, addr: &Address) -> bool {
        self.shared
            .table
            .get(addr.id())
            .is_some_and(|c| c.addr == *addr && !c.is_stopped() && !matches!(c.place, Place::Reply(_)))
    }

    /// Sends `msg` and waits until the target's handler has run for it (not
    /// for a reply). Fails at once if the target does not exist or stops first.
    pub fn tell_delivered(&self, to: &Address, msg: Message, timeout: Duration) -> Result<(), AskError> {
        let done = Arc::new(ReplySlot::default());
        let env =
            crate::payload::Envelope { from: Address::NOBODY, payload: Payload::native_tracked(msg, done.clone()) };
        crate::route::route_envelope(&self.shared, *to, env);
        match done.wait_until(Instant::now() + timeout) {
            Some(r) => r.map(|_| ()),
            None => Err(AskError::Timeout { target: *to, after: timeout }),
        }
    }

    /// The live actor with this global name.
    pub fn lookup_name(&self, global_name: &str) -> Option<Address> {
        self.shared.live_name(global_name)
    }

    /// Sends a value to an actor. Replies go nowhere (dead letters).
    pub fn tell(&self, to: &Address, msg: impl Into<Value>) {
        self.tell_message(to, Message::Value(msg.into()));
    }

    /// Sends any message (for example [`Message::ActorExitRequest`]).
    pub fn tell_message(&self, to: &Address, msg: Message) {
        route(&self.shared, Address::NOBODY, *to, Payload::native(msg));
    }

    fn new_reply_slot(&self, target: Address) -> (Address, Arc<ReplySlot>) {
        let slot = Arc::new(ReplySlot::awaiting(target));
        let addr = self.shared.new_address(0);
        let cell = ActorCell::new(CellSpec {
            addr,
            place: Place::Reply(slot.clone()),
            class: "ask".into(),
            parent: None,
            global_name: None,
            body: Body::Stopped,
        });
        self.shared.table.insert(cell);
        (addr, slot)
    }

    /// Sends `msg` and waits up to `timeout` for the reply. Fails at once if
    /// there is no such actor or its handler panicked on the message twice.
    pub fn ask(&self, to: &Address, msg: impl Into<Value>, timeout: Duration) -> Result<Value, AskError> {
        let (addr, slot) = self.new_reply_slot(*to);
        route(&self.shared, addr, *to, Payload::native(Message::Value(msg.into())));
        let result = slot.wait_until(Instant::now() + timeout);
        // Whoever completed the slot took its address out of the table
        // first; only a timeout leaves it there (one shard write less per
        // ask, on a line the replying thread has just written).
        if result.is_none() {
            self.shared.table.remove(addr.id());
        }
        result.unwrap_or(Err(AskError::Timeout { target: *to, after: timeout }))
    }

    /// The async form of [`ActorSystem::ask`]; works under any executor.
    pub fn ask_async(&self, to: &Address, msg: impl Into<Value>, timeout: Duration) -> AskFuture {
        let (addr, slot) = self.new_reply_slot(*to);
        let action = TimerAction::AskTimeout { slot: Arc::downgrade(&slot), target: *to, after: timeout };
        self.shared.timer.after(timeout, action);
        route(&self.shared, addr, *to, Payload::native(Message::Value(msg.into())));
        AskFuture { slot, addr, shared: Arc::downgrade(&self.shared) }
    }

    /// How many messages could not be delivered so far.
    pub fn dead_letters(&self) -> u64 {
        self.shared.dead_letters.load(Ordering::Relaxed)
    }

    /// Loads a verified package: its code is copied into a fresh private
    /// directory, opened, ABI-checked and given its own threads. No actors
    /// are created; use [`ActorSystem::create_actor`].
    pub fn load(&self, pkg: VerifiedPackage) -> Result<PackageInfo, LoadError> {
        load::load(&self.shared, pkg)
    }

    /// Unloads the version with this hash (or unique prefix): stops its
    /// actors, joins its threads, closes its library and reports whether the
    /// code really left the process.
    pub fn unload(&self, hash: &str) -> Result<UnloadReport, UnloadError> {
        let version = self.shared.take_version(hash)?;
        Ok(unload::unload(&self.shared, version))
    }

    /// Looks again at every version whose code stayed resident when it was
    /// unloaded: one whose last handler has returned since is unloaded the
    /// rest of the way, one whose library is no longer mapped is freed (its
    /// directory removed). Returns each one's state now; a freed one is
    /// reported this once and then forgotten.
    pub fn recheck_resident(&self) -> Vec<ResidentState> {
        unload::recheck(&self.shared)
    }

    /// The loaded versions, in load order.
    pub fn packages(&self) -> Vec<PackageInfo> {
        let versions = self.shared.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.iter().map(|v| v.info.clone()).collect()
    }

    /// The live actors (not the reply slots of asks in flight).
    pub fn actors(&self) -> Vec<ActorInfo> {
        let mut out: Vec<ActorInfo> = self
            .shared
            .table
            .select(|c| !matches!(c.place, Place::Reply(_)) && !c.is_stopped())
            .into_iter()
            .map(|c| ActorInfo {
                address: c.addr,
                class: c.class.clone(),
                package: c.version().map(|v| v.home),
                global_name: c.global_name.clone(),
                created: c.created,
            })
            .collect();
        out.sort_by_key(|a| a.address.id());
        out
    }

    /// Where package libraries are written.
    pub fn extract_root(&self) -> &std::path::Path {
        &self.shared.extract_root
    }

    /// Stops every actor and unloads every package (no `OnDeactivate`, only
    /// `ActorExitRequest`). Calling it again does nothing.
    pub fn shutdown(&self) -> ShutdownReport {
        if self.down.swap(true, Ordering::AcqRel) {
            return ShutdownReport::default();
        }
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::Release);
        let versions = std::mem::take(&mut *shared.versions.lock().unwrap_or_else(|p| p.into_inner()));
        let unloads = versions.into_iter().rev().map(|v| unload::unload(shared, v)).collect();
        let host_actors_left = stop_host_actors(shared, shared.config.unload_grace);
        shared.host_exec().stop_and_join();
        shared.timer.stop();
        crate::reply::fail_waiting(shared, |_| true, |_| AskError::SystemStopped);
        let running = |r: &unload::Resident| matches!(r, unload::Resident::Running(_));
        if shared.owns_extract_root && !shared.resident.lock().unwrap_or_else(|p| p.into_inner()).iter().any(running) {
            let _ = std::fs::remove_dir_all(&shared.extract_root);
        }
        // The spare burst buffers are a cache for running systems; a host
        // that has shut its system down gets their memory back.
        crate::burst_pool::POOL.clear();
        ShutdownReport { unloads, host_actors_left }
    }
}

fn stop_host_actors(shared: &Arc<Shared>, grace: Duration) -> usize {
    let is_host = |c: &ActorCell| matches!(c.place, Place::Host);
    for cell in shared.table.select(is_host) {
        route(shared, Address::NOBODY, cell.addr, Payload::native(Message::ActorExitRequest));
    }
    let deadline = Instant::now() + grace;
    loop {
        let left = shared.table.select(is_host).len();
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn type_name<A>() -> String {
    std::any::type_name::<A>().to_string()
}

impl Drop for ActorSystem {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[path = "system_tests.rs"]
mod tests;
