//! The Director's state and the lifecycle semantics of the seed's sections
//! 2.7-2.8: load (activate, OnDeactivate / OnLoad, global names follow the
//! active version, AutoUnload, TLS_Keep_Limit), unload (re-activate the
//! highest remaining version with OnReactivate), restarts of exited TLI
//! actors, and the listings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::daemon::placement::{LocalPlacer, Placed, Placer};
use crate::daemon::relay::Relay;
use crate::daemon::runs::Runs;
use crate::tli::{Isolation, TliActor};
use actor_abi::{Address, Value};
use runtime::tls::{SourceAuthority, TrustPolicy, VersionKey};
use runtime::worker::WorkerProgram;
use runtime::{ActorSystem, PackageInfo};

use crate::localtime::now_unix;
use crate::protocol::{ActorListing, ErrorKind, GroupListing, VersionListing};

/// How many unloaded-but-resident versions `list` keeps showing.
pub const MAX_RESIDENT_SHOWN: usize = 64;

/// How long the Director waits for an `OnLoad` (or other lifecycle) message to be handled.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::daemon::error::DirectorError;
pub(crate) use crate::daemon::error::fail;

/// One TLI actor of a loaded version.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) spec: TliActor,
    pub(crate) address: Option<Address>,
    pub(crate) since: u64,
    pub(crate) restarts: u32,
    /// Where it runs (always here without `Requires`).
    pub(crate) placed: Placed,
}

impl Running {
    /// True if this daemon creates the actor.
    pub(crate) fn here(&self) -> bool {
        self.placed == Placed::Here
    }
}

/// One loaded version.
pub(crate) struct LoadedVersion {
    pub(crate) info: PackageInfo,
    pub(crate) file: PathBuf,
    pub(crate) actors: Vec<Running>,
    /// Where it runs.
    pub(crate) runs: Runs,
}

impl LoadedVersion {
    /// True if its actor `addr` can still be running.
    pub(crate) fn is_running(&self, system: &ActorSystem, addr: &Address) -> bool {
        self.runs.is_running(system, addr)
    }
}

/// A group's loaded versions (load order) and which one is active.
#[derive(Default)]
pub(crate) struct Group {
    pub(crate) versions: Vec<LoadedVersion>,
    pub(crate) active: Option<String>,
}

/// The Director's state.
pub struct Core {
    pub(crate) system: Arc<ActorSystem>,
    pub(crate) authority: SourceAuthority,
    pub(crate) dir: PathBuf,
    pub(crate) director: Address,
    pub(crate) groups: BTreeMap<String, Group>,
    /// Unloaded versions whose code stayed, with their library path (oldest first).
    pub(crate) resident: Vec<(PathBuf, VersionListing)>,
    pub(crate) notify: Vec<Address>,
    /// Set at shutdown: exiting actors are not restarted.
    pub(crate) stopping: bool,
    /// The state file (in the daemon's directory); `None` when embedded.
    pub(crate) state_file: Option<Arc<crate::daemon::state_file::StateFile>>,
    /// Groups skipped by refresh until loaded explicitly.
    pub(crate) quarantined: std::collections::BTreeSet<String>,
    /// The group whose load is under way.
    pub(crate) loading: Option<String>,
    /// What failed when the daemon started (refresh or restore).
    pub(crate) startup_failures: Vec<crate::protocol::RefreshItem>,
    /// Where versions run unless their TLI says otherwise.
    pub(crate) isolation: Isolation,
    /// The program workers run, if this host starts any.
    pub(crate) worker_program: Option<WorkerProgram>,
    /// Called whenever what is loaded changes (the convention heartbeat).
    pub(crate) changed: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Called after each new load with the package loaded (a convention
    /// leader publishes it).
    pub(crate) loaded: Option<LoadedHook>,
    /// Called once a package to load is verified, before it loads (a
    /// convention leader starts storing it).
    pub(crate) verified: Option<VerifiedHook>,
    /// Where actors with `Requires` run.
    pub(crate) placer: Arc<dyn Placer>,
    /// How asks and tells reach actors placed on other members.
    pub(crate) relay: Option<Arc<dyn Relay>>,
}

/// What runs when a package to load is verified: its hash and its file.
pub type VerifiedHook = Arc<dyn Fn(&str, &Path) + Send + Sync>;

/// What runs after each new load (see [`Core::on_loaded`]).
pub type LoadedHook = Arc<dyn Fn(&NewVersion) + Send + Sync>;

/// A version that was just loaded, for [`Core::on_loaded`].
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Its group.
    pub group: String,
    /// Its package hash.
    pub hash: String,
    /// The package file it was loaded from.
    pub file: PathBuf,
    /// Where its actors with `Requires` run, by class.
    pub placed: Vec<(String, Placed)>,
}

impl Core {
    /// A Director over `dir` running in `system`; `director` is the
    /// Director actor (the parent of every TLI actor). Packages are verified
    /// under `policy` (which also says whether `.tli` files another user
    /// could change are refused).
    pub fn new(system: Arc<ActorSystem>, dir: &Path, director: Address, policy: TrustPolicy) -> Core {
        Core {
            system,
            authority: SourceAuthority::new(dir).with_policy(policy),
            dir: dir.to_path_buf(),
            director,
            groups: BTreeMap::new(),
            resident: Vec::new(),
            notify: Vec::new(),
            stopping: false,
            state_file: None,
            quarantined: std::collections::BTreeSet::new(),
            loading: None,
            startup_failures: Vec::new(),
            isolation: Isolation::InProcess,
            worker_program: None,
            changed: None,
            loaded: None,
            verified: None,
            placer: Arc::new(LocalPlacer { capabilities: actor_abi::Map::new() }),
            relay: None,
        }
    }

    /// Places actors with `Requires` with `placer` (by default, here only
    /// if they require nothing: a host without capabilities has none).
    pub fn with_placer(mut self, placer: Arc<dyn Placer>) -> Core {
        self.placer = placer;
        self
    }

    /// Relays asks and tells for actors placed on other members.
    pub fn set_relay(&mut self, relay: Arc<dyn Relay>) {
        self.relay = Some(relay);
    }

    /// Changes the placer (a convention member, once it has joined).
    pub fn set_placer(&mut self, placer: Arc<dyn Placer>) {
        self.placer = placer;
    }

    /// Calls `f` once a package to load is verified, before it loads
    /// (without the state lock held).
    pub fn on_verified(&mut self, f: VerifiedHook) {
        self.verified = Some(f);
    }

    /// Calls `f` after each new load (without the state lock held).
    pub fn on_loaded(&mut self, f: LoadedHook) {
        self.loaded = Some(f);
    }

    /// Calls `f` whenever what is loaded changes (it must not lock the state).
    pub fn on_change(&mut self, f: Arc<dyn Fn() + Send + Sync>) {
        self.changed = Some(f);
    }

    /// Runs versions in worker processes started from `program` (each its
    /// own TLI's `Limits`), by default or only where a TLI asks for
    /// `'Isolation': 'process'`, as `default` says. Without this, every
    /// version runs in-process and a TLI that asks for a worker is refused.
    pub fn with_workers(mut self, program: WorkerProgram, default: Isolation) -> Core {
        self.worker_program = Some(program);
        self.isolation = default;
        self
    }

    /// Stops restarting actors: the system is shutting down.
    pub fn begin_shutdown(&mut self) {
        self.stopping = true;
    }

    /// Sets the Director actor's address (it is created after the core).
    pub fn set_director(&mut self, director: Address) {
        self.director = director;
    }

    /// The group and index of the loaded version whose hash starts with `prefix`.
    pub(crate) fn find(&self, prefix: &str) -> Result<(String, usize), DirectorError> {
        let hits: Vec<(String, usize)> = self
            .groups
            .iter()
            .flat_map(|(g, grp)| grp.versions.iter().enumerate().map(move |(i, v)| (g, i, v)))
            .filter(|(_, _, v)| !prefix.is_empty() && v.info.hash.starts_with(prefix))
            .map(|(g, i, _)| (g.clone(), i))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(fail(ErrorKind::NotFound, format!("no loaded package matches {prefix:?}"))),
            _ => Err(fail(
                ErrorKind::BadRequest,
                format!("{prefix:?} matches {} loaded packages; give more of the hash", hits.len()),
            )),
        }
    }

    /// Creates the version's TLI actors (children of the Director actor).
    pub(crate) fn start_version(&mut self, group: &str, hash: &str) -> Result<(), DirectorError> {
        let (system, director) = (self.system.clone(), self.director);
        let v = self.version_mut(group, hash).ok_or_else(|| fail(ErrorKind::Failed, "version vanished"))?;
        for a in v.actors.iter_mut().filter(|a| a.here()) {
            let addr = v
                .runs
                .create(&system, director, hash, &a.spec.class)
                .map_err(|e| fail(ErrorKind::Failed, format!("creating {}: {e}", a.spec.class)))?;
            a.address = Some(addr);
            a.since = now_unix();
        }
        Ok(())
    }

    pub(crate) fn version(&self, group: &str, hash: &str) -> Option<&LoadedVersion> {
        self.groups.get(group)?.versions.iter().find(|v| v.info.hash == hash)
    }

    pub(crate) fn version_mut(&mut self, group: &str, hash: &str) -> Option<&mut LoadedVersion> {
        self.groups.get_mut(group)?.versions.iter_mut().find(|v| v.info.hash == hash)
    }

    /// Forgets an unloaded version; one whose code stayed is kept for `list`.
    pub(crate) fn forget_unloaded(&mut self, group: &str, hash: &str, report: &runtime::UnloadReport) {
        let removed = self.remove_version(group, hash);
        if let (false, Some(v)) = (report.code.is_freed(), removed) {
            let entry = listing(group, &v, false, &report.code.to_string(), &self.system);
            self.resident.push((report.library.clone(), entry));
        }
    }

    /// Makes the active version `hash` of `group` unreachable by role and
    /// global name, before it is unloaded: its actors give up their global
    /// names, and the highest other version becomes active (its stopped TLI
    /// actors created again, its actors taking the names), or none is.
    /// Returns the version that took over. Messages already queued for the
    /// retired actors stay queued (see `daemon::sending`).
    pub(crate) fn retire_active(&mut self, group: &str, hash: &str) -> Option<String> {
        if let Some(v) = self.version(group, hash) {
            for a in &v.actors {
                if let (Some(name), Some(addr)) = (&a.spec.global_name, a.address) {
                    self.system.release_global_name(name, &addr);
                }
            }
        }
        let next = self.restart_highest(group, Some(hash));
        if let Some(g) = self.groups.get_mut(group) {
            g.active.clone_from(&next);
        }
        if let Some(h) = next.as_deref() {
            self.take_global_names(group, h);
        }
        next
    }

    /// Points the global names of version `hash`'s actors at them.
    pub(crate) fn take_global_names(&self, group: &str, hash: &str) {
        let Some(v) = self.version(group, hash) else { return };
        for a in &v.actors {
            if let (Some(name), Some(addr)) = (&a.spec.global_name, a.address) {
                self.system.assign_global_name(name, &addr);
            }
        }
    }

    /// The highest remaining version of `group` other than `except`, with
    /// any of its TLI actors that had stopped created again; `None` when
    /// none is left.
    pub(crate) fn restart_highest(&mut self, group: &str, except: Option<&str>) -> Option<String> {
        let hash = self
            .groups
            .get(group)?
            .versions
            .iter()
            .filter(|v| Some(v.info.hash.as_str()) != except)
            .max_by(|a, b| version_key(a).cmp(&version_key(b)))?
            .info
            .hash
            .clone();
        let (system, director) = (self.system.clone(), self.director);
        let v = self.version_mut(group, &hash)?;
        let stopped = |a: &Running| a.address.is_none_or(|addr| !v.runs.is_running(&system, &addr));
        for a in v.actors.iter_mut().filter(|a| a.here() && stopped(a)) {
            a.address = v.runs.create(&system, director, &hash, &a.spec.class).ok();
            a.since = now_unix();
        }
        Some(hash)
    }

    pub(crate) fn remove_version(&mut self, group: &str, hash: &str) -> Option<LoadedVersion> {
        let g = self.groups.get_mut(group)?;
        let i = g.versions.iter().position(|v| v.info.hash == hash)?;
        let v = g.versions.remove(i);
        if g.active.as_deref() == Some(hash) {
            g.active = None;
        }
        if g.versions.is_empty() {
            self.groups.remove(group);
        }
        Some(v)
    }

    /// A TLI actor exited: forget its address; if its version is active,
    /// return the backoff after which it should be restarted.
    pub fn actor_exited(&mut self, child: Address) -> Option<(Duration, Value)> {
        if self.stopping {
            return None;
        }
        for (group, g) in &mut self.groups {
            let active = g.active.clone();
            for v in &mut g.versions {
                let Some(a) = v.actors.iter_mut().find(|a| a.address == Some(child)) else { continue };
                a.address = None;
                // A crashed worker's actors come back with the worker.
                if active.as_deref() != Some(v.info.hash.as_str()) || v.runs.is_down() {
                    return None;
                }
                let delay = crate::daemon::runs::backoff(a.restarts);
                log::warn!("actor {child} ({}) of {group} exited; restarting in {delay:?}", a.spec.class);
                let payload = actor_abi::value!({"restart": true, "hash": v.info.hash, "class": a.spec.class});
                return Some((delay, payload));
            }
        }
        None
    }

    /// Restarts the actor a restart wakeup names, if its version is still active.
    pub fn restart(&mut self, payload: &Value) {
        let (Some(hash), Some(class)) =
            (payload.get("hash").and_then(Value::as_str), payload.get("class").and_then(Value::as_str))
        else {
            return;
        };
        let Some((group, _)) = self.find(hash).ok() else { return };
        if self.groups[&group].active.as_deref() != Some(hash) {
            return;
        }
        let (system, director) = (self.system.clone(), self.director);
        let Some(v) = self.version_mut(&group, hash) else { return };
        let Some(a) = v.actors.iter_mut().find(|a| a.spec.class == class && a.address.is_none() && a.here()) else {
            return;
        };
        match v.runs.create(&system, director, hash, class) {
            Ok(addr) => {
                a.address = Some(addr);
                a.restarts += 1;
                a.since = now_unix();
                if let Some(name) = &a.spec.global_name {
                    system.assign_global_name(name, &addr);
                }
                if let Some(m) = &a.spec.on_load {
                    system.tell(&addr, m.clone());
                }
            }
            Err(e) => log::error!("restarting {class} of {group}: {e}"),
        }
    }

    pub(crate) fn send_notifications(&mut self) {
        let notice = actor_abi::value!({"DirectorResponse": "NotificationOfUpdate", "Success": true});
        for addr in std::mem::take(&mut self.notify) {
            self.system.tell(&addr, notice.clone());
        }
    }

    /// The libraries of the unloaded versions whose code stayed resident.
    pub(crate) fn resident_libraries(&self) -> Vec<PathBuf> {
        self.resident.iter().map(|(library, _)| library.clone()).collect()
    }

    /// Applies a re-check of the runtime's resident versions (`states`,
    /// taken after `known` was read from [`Core::resident_libraries`]): a
    /// version the re-check reports takes its state; one of `known` that it
    /// does not report was freed at an earlier re-check. Keeps at most
    /// [`MAX_RESIDENT_SHOWN`] entries, dropping the oldest freed ones first.
    pub(crate) fn apply_resident(&mut self, known: &[PathBuf], states: &[runtime::ResidentState]) {
        for (library, entry) in &mut self.resident {
            if let Some(state) = states.iter().find(|s| &s.library == library) {
                entry.code = state.code.to_string();
            } else if known.contains(library) {
                entry.code = runtime::CodeState::Freed.to_string();
            }
        }
        while self.resident.len() > MAX_RESIDENT_SHOWN {
            let oldest_freed = self.resident.iter().position(|(_, e)| e.code == "freed").unwrap_or(0);
            self.resident.remove(oldest_freed);
        }
    }

    /// One line per loaded version, `GROUP VERSION HASH12`, with ` *` after
    /// the active ones: what a member tells the convention it runs.
    pub fn version_summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (group, g) in &self.groups {
            for v in &g.versions {
                let active = if g.active.as_deref() == Some(v.info.hash.as_str()) { " *" } else { "" };
                let hash = v.info.hash.get(..12).unwrap_or(&v.info.hash);
                out.push(format!("{group} {} {hash}{active}", v.info.version));
            }
        }
        out
    }

    /// Every actor that says `Requires`: its version's hash, its class,
    /// where it runs and what it requires.
    pub fn placements(&self) -> Vec<(String, String, Placed, actor_abi::Map)> {
        let placed = self.placed_actors().filter_map(|(v, a)| {
            let requires = a.spec.requires.clone()?;
            Some((v.info.hash.clone(), a.spec.class.clone(), a.placed.clone(), requires))
        });
        placed.collect()
    }

    /// Every loaded version's actors that say `Requires`.
    fn placed_actors(&self) -> impl Iterator<Item = (&LoadedVersion, &Running)> {
        let versions = self.groups.values().flat_map(|g| g.versions.iter());
        let actors = versions.flat_map(|v| v.actors.iter().map(move |a| (v, a)));
        actors.filter(|(_, a)| a.spec.requires.is_some())
    }

    /// The actors with `Requires` that run here, with their addresses.
    pub fn placed_here(&self) -> Vec<crate::convention::members::PlacedActor> {
        let here = self.placed_actors().filter(|(_, a)| a.here());
        here.filter_map(|(v, a)| {
            Some(crate::convention::members::PlacedActor {
                hash: v.info.hash.clone(),
                class: a.spec.class.clone(),
                address: a.address?.to_string(),
            })
        })
        .collect()
    }

    /// The classes of version `hash`'s actors that say `Requires`.
    pub fn placed_classes(&self, hash: &str) -> Vec<String> {
        let Ok((group, i)) = self.find(hash) else { return Vec::new() };
        let actors = &self.groups[&group].versions[i].actors;
        actors.iter().filter(|a| a.spec.requires.is_some()).map(|a| a.spec.class.clone()).collect()
    }

    /// Every loaded package, in load order per group, with where its
    /// placed actors run (`me`: this member's name).
    pub fn packages(&self, me: &str) -> Vec<crate::convention::members::PackageRef> {
        let versions = self.groups.iter().flat_map(|(group, g)| g.versions.iter().map(move |v| (group, v)));
        versions
            .map(|(group, v)| crate::convention::members::PackageRef {
                group: group.clone(),
                hash: v.info.hash.clone(),
                file_name: v.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                placed: placed_on(me, &v.actors),
                pending: false,
            })
            .collect()
    }

    /// Every loaded version (and unloaded ones whose code stayed resident,
    /// as last re-checked: see `Director::list`), per group.
    pub fn list(&self) -> Vec<GroupListing> {
        let mut out: BTreeMap<String, Vec<VersionListing>> = BTreeMap::new();
        for (group, g) in &self.groups {
            for v in &g.versions {
                let active = g.active.as_deref() == Some(v.info.hash.as_str());
                out.entry(group.clone()).or_default().push(listing(group, v, active, "mapped", &self.system));
            }
        }
        for (_, r) in &self.resident {
            out.entry(r.group.clone()).or_default().push(r.clone());
        }
        let mut groups: Vec<GroupListing> =
            out.into_iter().map(|(group, versions)| GroupListing { group, versions, quarantined: None }).collect();
        groups.extend(self.quarantined.iter().map(|g| GroupListing {
            group: g.clone(),
            versions: Vec::new(),
            quarantined: Some(crate::daemon::state::quarantine_note(g)),
        }));
        groups
    }
}

/// Where the ones of `actors` that say `Requires` run, by class.
pub(crate) fn placed_of(actors: &[Running]) -> Vec<(String, Placed)> {
    let placed = actors.iter().filter(|a| a.spec.requires.is_some());
    placed.map(|a| (a.spec.class.clone(), a.placed.clone())).collect()
}

/// [`placed_of`] as member names (`me` for here; unplaced ones left out).
pub(crate) fn placed_on(me: &str, actors: &[Running]) -> BTreeMap<String, String> {
    placed_of(actors).into_iter().filter_map(|(class, p)| Some((class, p.member(me)?))).collect()
}

pub(crate) fn version_key(v: &LoadedVersion) -> VersionKey {
    VersionKey::of(Some(v.info.version.as_str()).filter(|s| !s.is_empty()))
}

fn listing(group: &str, v: &LoadedVersion, active: bool, code: &str, system: &ActorSystem) -> VersionListing {
    let (worker_restarts, last_crash) = v.runs.crashes();
    let actors = v
        .actors
        .iter()
        .map(|a| ActorListing {
            address: a.address.filter(|addr| v.is_running(system, addr)).map(|addr| addr.to_string()),
            class: a.spec.class.clone(),
            role: a.spec.role.clone(),
            global_name: a.spec.global_name.clone().filter(|_| active),
            since: a.since,
            restarts: a.restarts,
            placed: match &a.placed {
                Placed::Here => None,
                Placed::On(member) => Some(format!("on {member}")),
                Placed::Unplaced(why) => Some(format!("unplaced: {why}")),
            },
        })
        .collect();
    VersionListing {
        group: group.to_string(),
        hash: v.info.hash.clone(),
        version: v.info.version.clone(),
        active,
        code: code.to_string(),
        file: v.file.display().to_string(),
        runs: v.runs.describe(),
        worker_restarts,
        last_crash,
        actors,
    }
}
