//! The Director's state and the lifecycle semantics of the seed's sections
//! 2.7-2.8: load (activate, OnDeactivate / OnLoad, global names follow the
//! active version, AutoUnload, TLS_Keep_Limit), unload (re-activate the
//! highest remaining version with OnReactivate), restarts of exited TLI
//! actors, and the listings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actor_abi::{Address, Message, Value};
use runtime::tli::{AutoUnload, Tli, TliActor};
use runtime::tls::trusted_file::{self, ReadError};
use runtime::tls::{SourceAuthority, TrustPolicy, Verified, VersionKey};
use runtime::{ActorSystem, CreateOptions, LoadError, PackageInfo, VerifiedPackage};

use crate::localtime::now_unix;
use crate::protocol::{ActorListing, ErrorKind, GroupListing, Loaded, Unloaded, VersionListing};

/// How many unloaded-but-resident versions `list` keeps showing.
pub const MAX_RESIDENT_SHOWN: usize = 64;

/// How long the Director waits for an `OnLoad` (or other lifecycle) message to be handled.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed Director operation; nothing changed unless the message says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DirectorError {
    /// The kind, for the protocol.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

pub(crate) fn fail(kind: ErrorKind, message: impl Into<String>) -> DirectorError {
    DirectorError { kind, message: message.into() }
}

/// One TLI actor of a loaded version.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) spec: TliActor,
    pub(crate) address: Option<Address>,
    pub(crate) since: u64,
    pub(crate) restarts: u32,
}

/// One loaded version.
#[derive(Debug, Clone)]
pub(crate) struct LoadedVersion {
    pub(crate) info: PackageInfo,
    pub(crate) file: PathBuf,
    pub(crate) actors: Vec<Running>,
}

/// A group's loaded versions (load order) and which one is active.
#[derive(Debug, Clone, Default)]
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
    /// Where the state file is kept (the daemon's directory); `None` when embedded.
    pub(crate) state_dir: Option<PathBuf>,
    /// Groups skipped by refresh until loaded explicitly.
    pub(crate) quarantined: std::collections::BTreeSet<String>,
    /// The group whose load is under way.
    pub(crate) loading: Option<String>,
    /// What failed when the daemon started (refresh or restore).
    pub(crate) startup_failures: Vec<crate::protocol::RefreshItem>,
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
            state_dir: None,
            quarantined: std::collections::BTreeSet::new(),
            loading: None,
            startup_failures: Vec::new(),
        }
    }

    /// Stops restarting actors: the system is shutting down.
    pub fn begin_shutdown(&mut self) {
        self.stopping = true;
    }

    /// Sets the Director actor's address (it is created after the core).
    pub fn set_director(&mut self, director: Address) {
        self.director = director;
    }

    /// Finds the package file a load target names: a `.tls` file (exactly
    /// that file, verified when it is staged) or a group (its newest valid
    /// package).
    fn resolve(&self, target: &str) -> Result<PathBuf, DirectorError> {
        if target.ends_with(".tls") || target.contains('/') {
            let path = if Path::new(target).is_absolute() { PathBuf::from(target) } else { self.dir.join(target) };
            return Ok(path);
        }
        runtime::tls::format::check_group(target).map_err(|e| fail(ErrorKind::BadRequest, e))?;
        let mut best: Option<(PathBuf, VersionKey)> = None;
        let mut refused = Vec::new();
        for path in self.candidates(target) {
            match self.authority.verify_file(&path) {
                Ok(v) => {
                    let key = VersionKey::of(v.manifest.version.as_deref());
                    if best.as_ref().is_none_or(|(_, b)| key > *b) {
                        best = Some((path, key));
                    }
                }
                Err(e) => refused.push(format!("{}: {e}", path.display())),
            }
        }
        best.map(|(path, _)| path).ok_or_else(|| {
            let why = if refused.is_empty() { String::new() } else { format!("; refused: {}", refused.join("; ")) };
            fail(ErrorKind::NotFound, format!("no valid package for group {target:?} in {}{why}", self.dir.display()))
        })
    }

    /// Verifies `path` and writes its code out in one pass.
    fn stage(&self, path: &Path) -> Result<(Verified, VerifiedPackage), DirectorError> {
        self.authority.stage_file(path, &self.system).map_err(|e| match e {
            LoadError::Refused(e) => fail(ErrorKind::Refused, format!("{}: {e}", path.display())),
            other => fail(ErrorKind::Failed, format!("{}: {other}", path.display())),
        })
    }

    /// Files that can hold group `g`: `g.tls` and `g-*.tls` (a group has no `-`).
    fn candidates(&self, g: &str) -> Vec<PathBuf> {
        let prefix = format!("{g}-");
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        out.retain(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.ends_with(".tls") && (name == format!("{g}.tls") || name.starts_with(&prefix))
        });
        out.sort();
        out
    }

    /// The group's TLI: `DIR/GROUP.tli`, else the one signed into the package.
    fn tli_for(&self, v: &Verified) -> Result<Option<Tli>, DirectorError> {
        let file = self.dir.join(format!("{}.tli", v.manifest.group));
        let strict = self.authority.policy().strict_modes;
        let text = match trusted_file::read(&file, crate::config::MAX_SETTINGS_FILE, strict) {
            Ok(bytes) => Some(
                String::from_utf8(bytes)
                    .map_err(|e| fail(ErrorKind::BadRequest, format!("{}: not UTF-8 ({e})", file.display())))?,
            ),
            Err(ReadError::Missing(_)) => v.manifest.tli.clone(),
            Err(e @ ReadError::Io { .. }) => return Err(fail(ErrorKind::Failed, e.to_string())),
            Err(e) => return Err(fail(ErrorKind::Refused, e.to_string())),
        };
        let Some(text) = text else { return Ok(None) };
        let tli = Tli::parse(&text).map_err(|e| fail(ErrorKind::BadRequest, format!("{}: {e}", file.display())))?;
        tli.check_against(&v.manifest.actors)
            .map_err(|e| fail(ErrorKind::BadRequest, format!("{}: {e}", file.display())))?;
        Ok(Some(tli))
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

    /// Loads `target`, activates it and applies AutoUnload and TLS_Keep_Limit.
    /// An explicit load, so a quarantined group is let out of quarantine.
    pub fn load(&mut self, target: &str) -> Result<Loaded, DirectorError> {
        self.load_target(target, true)
    }

    /// Loads `target`; a quarantined group only when `explicit`. The group
    /// is recorded as being loaded (in the state file) from the moment its
    /// code may run until the load has ended, whichever way it ends.
    pub(crate) fn load_target(&mut self, target: &str, explicit: bool) -> Result<Loaded, DirectorError> {
        let file = self.resolve(target)?;
        let (verified, package) = self.stage(&file)?;
        self.admit(&verified.manifest.group, explicit)?;
        self.begin_loading(&verified.manifest.group);
        let result = self.load_staged(file, verified, package);
        self.end_loading();
        result
    }

    fn load_staged(
        &mut self,
        file: PathBuf,
        verified: Verified,
        package: VerifiedPackage,
    ) -> Result<Loaded, DirectorError> {
        let group = verified.manifest.group.clone();
        let version = verified.manifest.version_text().to_string();
        if let Some(v) = self.groups.get(&group).and_then(|g| g.versions.iter().find(|v| v.info.hash == verified.hash))
        {
            let (hash, file) = (v.info.hash.clone(), v.file.display().to_string());
            return Ok(Loaded {
                group,
                file,
                hash,
                version,
                already_loaded: true,
                auto_unloaded: vec![],
                deleted_files: vec![],
            });
        }
        let tli = self.tli_for(&verified)?;
        let info = self.system.load(package).map_err(|e| fail(ErrorKind::Failed, e.to_string()))?;
        let hash = info.hash.clone();
        let actors = tli.iter().flat_map(|t| t.actors.iter()).map(|spec| Running {
            spec: spec.clone(),
            address: None,
            since: now_unix(),
            restarts: 0,
        });
        let loaded = LoadedVersion { info, file: file.clone(), actors: actors.collect() };
        let previous = self.groups.get(&group).and_then(|g| g.active.clone());
        let grp = self.groups.entry(group.clone()).or_default();
        grp.versions.push(loaded);
        if let Err(e) = self.start_version(&group, &hash) {
            self.remove_version(&group, &hash);
            let _ = self.system.unload(&hash);
            return Err(e);
        }
        if let Some(prev) = previous {
            self.send_lifecycle(&group, &prev, |a| a.spec.on_deactivate.clone());
        }
        if let Err(e) = self.activate(&group, &hash, |a| a.spec.on_load.clone()) {
            // Roll back: the previous version (if any) becomes active again.
            let _ = self.unload(&hash);
            return Err(e);
        }
        let auto_unloaded = self.auto_unload(&group, &hash, tli.as_ref());
        let deleted_files = self.keep_limit(&group, tli.as_ref());
        self.send_notifications();
        Ok(Loaded {
            group,
            file: file.display().to_string(),
            hash,
            version,
            already_loaded: false,
            auto_unloaded,
            deleted_files,
        })
    }

    /// Creates the version's TLI actors (children of the Director actor).
    fn start_version(&mut self, group: &str, hash: &str) -> Result<(), DirectorError> {
        let (system, director) = (self.system.clone(), self.director);
        let v = self.version_mut(group, hash).ok_or_else(|| fail(ErrorKind::Failed, "version vanished"))?;
        for a in &mut v.actors {
            let addr = create_tli_actor(&system, director, hash, &a.spec.class)
                .map_err(|e| fail(ErrorKind::Failed, format!("creating {}: {e}", a.spec.class)))?;
            a.address = Some(addr);
            a.since = now_unix();
        }
        Ok(())
    }

    /// Makes `hash` the group's active version: its actors take their global
    /// names, then each gets the message `pick` chooses (delivered, not just queued).
    fn activate(
        &mut self,
        group: &str,
        hash: &str,
        pick: impl Fn(&Running) -> Option<Value>,
    ) -> Result<(), DirectorError> {
        if let Some(g) = self.groups.get_mut(group) {
            g.active = Some(hash.to_string());
        }
        let system = self.system.clone();
        let Some(v) = self.version_mut(group, hash) else { return Ok(()) };
        for a in &v.actors {
            if let (Some(name), Some(addr)) = (&a.spec.global_name, a.address) {
                system.assign_global_name(name, &addr);
            }
        }
        let sends: Vec<(Address, Value)> = v.actors.iter().filter_map(|a| Some((a.address?, pick(a)?))).collect();
        for (addr, msg) in sends {
            system
                .tell_delivered(&addr, Message::Value(msg), DELIVERY_TIMEOUT)
                .map_err(|e| fail(ErrorKind::Failed, format!("delivering a lifecycle message to {addr}: {e}")))?;
        }
        Ok(())
    }

    /// Sends each live actor of a version the message `pick` chooses.
    fn send_lifecycle(&self, group: &str, hash: &str, pick: impl Fn(&Running) -> Option<Value>) {
        let Some(v) = self.version(group, hash) else { return };
        for a in &v.actors {
            if let (Some(addr), Some(msg)) = (a.address, pick(a))
                && let Err(e) = self.system.tell_delivered(&addr, Message::Value(msg), DELIVERY_TIMEOUT)
            {
                log::warn!("lifecycle message to {addr} ({}) not delivered: {e}", a.spec.class);
            }
        }
    }

    pub(crate) fn version(&self, group: &str, hash: &str) -> Option<&LoadedVersion> {
        self.groups.get(group)?.versions.iter().find(|v| v.info.hash == hash)
    }

    pub(crate) fn version_mut(&mut self, group: &str, hash: &str) -> Option<&mut LoadedVersion> {
        self.groups.get_mut(group)?.versions.iter_mut().find(|v| v.info.hash == hash)
    }

    fn remove_version(&mut self, group: &str, hash: &str) -> Option<LoadedVersion> {
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

    /// `AutoUnload`: keep the newest N versions (by version order, the new
    /// one included); unload the others.
    fn auto_unload(&mut self, group: &str, new_hash: &str, tli: Option<&Tli>) -> Vec<Unloaded> {
        let AutoUnload::Keep(n) = tli.map_or(AutoUnload::Off, |t| t.auto_unload) else { return Vec::new() };
        let mut others: Vec<(VersionKey, String)> = self.groups.get(group).map_or_else(Vec::new, |g| {
            g.versions
                .iter()
                .filter(|v| v.info.hash != new_hash)
                .map(|v| (version_key(v), v.info.hash.clone()))
                .collect()
        });
        others.sort_by(|a, b| b.0.cmp(&a.0));
        let keep_others = usize::try_from(n.saturating_sub(1)).unwrap_or(usize::MAX);
        others.into_iter().skip(keep_others).filter_map(|(_, h)| self.unload(&h).ok()).collect()
    }

    /// `TLS_Keep_Limit`: delete the oldest package files of the group beyond
    /// the limit, never a loaded one.
    fn keep_limit(&self, group: &str, tli: Option<&Tli>) -> Vec<String> {
        let Some(limit) = tli.and_then(|t| t.keep_limit).filter(|l| *l > 0) else { return Vec::new() };
        let loaded: Vec<&str> =
            self.groups.get(group).map_or_else(Vec::new, |g| g.versions.iter().map(|v| v.info.hash.as_str()).collect());
        let mut files: Vec<(VersionKey, PathBuf, String)> = self
            .candidates(group)
            .into_iter()
            .filter_map(|p| {
                self.authority.verify_file(&p).ok().map(|v| (VersionKey::of(v.manifest.version.as_deref()), p, v.hash))
            })
            .collect();
        files.sort_by(|a, b| b.0.cmp(&a.0));
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut deleted = Vec::new();
        for (_, path, hash) in files.into_iter().skip(limit) {
            if loaded.contains(&hash.as_str()) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => deleted.push(path.display().to_string()),
                Err(e) => log::warn!("TLS_Keep_Limit: cannot delete {}: {e}", path.display()),
            }
        }
        deleted
    }

    /// Unloads the version `prefix` names. If it was active, the highest
    /// remaining version becomes active and its actors get OnReactivate.
    pub fn unload(&mut self, prefix: &str) -> Result<Unloaded, DirectorError> {
        let (group, i) = self.find(prefix)?;
        let hash = self.groups[&group].versions[i].info.hash.clone();
        let was_active = self.groups[&group].active.as_deref() == Some(hash.as_str());
        if was_active {
            self.send_lifecycle(&group, &hash, |a| a.spec.on_deactivate.clone());
        }
        let report = self.system.unload(&hash).map_err(|e| fail(ErrorKind::Failed, e.to_string()))?;
        let removed = self.remove_version(&group, &hash);
        if let (false, Some(v)) = (report.code.is_freed(), removed) {
            let entry = listing(&group, &v, false, &report.code.to_string(), &self.system);
            self.resident.push((report.library.clone(), entry));
        }
        let reactivated = if was_active { self.reactivate_highest(&group) } else { None };
        self.save_state();
        self.send_notifications();
        Ok(Unloaded {
            group,
            version: report.version.clone(),
            hash,
            code: report.code.to_string(),
            freed: report.code.is_freed(),
            reactivated,
        })
    }

    /// Activates the highest remaining version of `group`, restarting any of
    /// its actors that had stopped; returns its hash.
    fn reactivate_highest(&mut self, group: &str) -> Option<String> {
        let hash = self
            .groups
            .get(group)?
            .versions
            .iter()
            .max_by(|a, b| version_key(a).cmp(&version_key(b)))?
            .info
            .hash
            .clone();
        let (system, director) = (self.system.clone(), self.director);
        let v = self.version_mut(group, &hash)?;
        for a in v.actors.iter_mut().filter(|a| a.address.is_none_or(|addr| !system.is_alive(&addr))) {
            a.address = create_tli_actor(&system, director, &hash, &a.spec.class).ok();
            a.since = now_unix();
        }
        let result = self.activate(group, &hash, |a| a.spec.on_reactivate.clone());
        if let Err(e) = result {
            log::warn!("reactivating {group} {hash}: {e}");
        }
        Some(hash)
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
                if active.as_deref() != Some(v.info.hash.as_str()) {
                    return None;
                }
                let delay = Duration::from_millis(100u64 << a.restarts.min(7));
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
        let Some(a) = v.actors.iter_mut().find(|a| a.spec.class == class && a.address.is_none()) else { return };
        match create_tli_actor(&system, director, hash, class) {
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

    fn send_notifications(&mut self) {
        let notice = actor_abi::value!({"DirectorResponse": "NotificationOfUpdate", "Success": true});
        for addr in std::mem::take(&mut self.notify) {
            self.system.tell(&addr, notice.clone());
        }
    }

    /// Looks again at unloaded versions whose code stayed resident: one whose
    /// code has gone since shows `freed`. Keeps at most
    /// [`MAX_RESIDENT_SHOWN`] entries, dropping the oldest freed ones first.
    fn recheck_resident(&mut self) {
        if self.resident.is_empty() {
            return;
        }
        let states = self.system.recheck_resident();
        for (library, entry) in &mut self.resident {
            entry.code = match states.iter().find(|s| &s.library == library) {
                Some(state) => state.code.to_string(),
                // No longer tracked by the runtime: freed at an earlier re-check.
                None => runtime::CodeState::Freed.to_string(),
            };
        }
        while self.resident.len() > MAX_RESIDENT_SHOWN {
            let oldest_freed = self.resident.iter().position(|(_, e)| e.code == "freed").unwrap_or(0);
            self.resident.remove(oldest_freed);
        }
    }

    /// Every loaded version (and unloaded ones whose code stayed resident,
    /// re-checked now), per group.
    pub fn list(&mut self) -> Vec<GroupListing> {
        self.recheck_resident();
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
            quarantined: Some(format!("a daemon died while loading it; `thespian-director load {g}` to try it again")),
        }));
        groups
    }
}

/// Creates a TLI actor of version `hash` as a child of the Director actor
/// (its exit comes back to the Director, which restarts it).
fn create_tli_actor(
    system: &ActorSystem,
    director: Address,
    hash: &str,
    class: &str,
) -> Result<Address, runtime::CreateActorError> {
    system.create_actor_with(hash, class, CreateOptions { global_name: None, parent: Some(director) })
}

fn version_key(v: &LoadedVersion) -> VersionKey {
    VersionKey::of(Some(v.info.version.as_str()).filter(|s| !s.is_empty()))
}

fn listing(group: &str, v: &LoadedVersion, active: bool, code: &str, system: &ActorSystem) -> VersionListing {
    let actors = v
        .actors
        .iter()
        .map(|a| ActorListing {
            address: a.address.filter(|addr| system.is_alive(addr)).map(|addr| addr.to_string()),
            class: a.spec.class.clone(),
            role: a.spec.role.clone(),
            global_name: a.spec.global_name.clone().filter(|_| active),
            since: a.since,
            restarts: a.restarts,
        })
        .collect();
    VersionListing {
        group: group.to_string(),
        hash: v.info.hash.clone(),
        version: v.info.version.clone(),
        active,
        code: code.to_string(),
        file: v.file.display().to_string(),
        actors,
    }
}

impl Core {
    /// Loads the newest package of every group that has a `.tli` in the
    /// directory; goes on past failures and reports each group.
    pub fn refresh(&mut self) -> Vec<crate::protocol::RefreshItem> {
        let mut groups: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".tli")).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        groups.sort();
        groups
            .into_iter()
            .map(|group| match self.load_target(&group, false) {
                Ok(l) => crate::protocol::RefreshItem { group, loaded: Some(l), error: None },
                Err(e) => crate::protocol::RefreshItem { group, loaded: None, error: Some(e.message) },
            })
            .collect()
    }
}
