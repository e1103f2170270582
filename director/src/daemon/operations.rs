//! The Director's operations (load, unload, refresh, restore) and their
//! locking.
//!
//! Lock order: `Director::operations` then `Director::state`, never the
//! other way round. `operations` serialises whole operations, so two loads
//! or a load and an unload never interleave. `state` (the [`Core`]) is held
//! only to read or change the Director's records, and never across anything
//! that can take long: verifying and staging a package, `dlopen` and the
//! package's `init`, waiting for a lifecycle message to be handled, or an
//! unload waiting for actors. So `status`, `list`, target lookups for `ask`
//! and `tell`, and the Director actor never wait on a load.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::daemon::placement::Placed;
use crate::daemon::runs::{Runs, WORKER_STOP_GRACE};
use crate::daemon::unloading::DEFAULT_DRAIN;
use crate::tli::{AutoUnload, Isolation, Tli};
use actor_abi::{Address, Message, Value};
use runtime::tls::trusted_file::{self, ReadError};
use runtime::tls::{SourceAuthority, Verified, VersionKey};
use runtime::worker::{WorkerLimits, WorkerProgram};
use runtime::{ActorSystem, LoadError, VerifiedPackage};

use crate::daemon::core::{Core, DELIVERY_TIMEOUT, DirectorError, LoadedVersion, Running, fail, version_key};
use crate::daemon::state::SavedVersion;
use crate::localtime::now_unix;
use crate::protocol::{ErrorKind, GroupListing, Loaded, RefreshItem, Unloaded};

/// The Director: its state and the operations that change it.
pub struct Director {
    me: Weak<Director>,
    system: Arc<ActorSystem>,
    authority: SourceAuthority,
    dir: PathBuf,
    worker_program: Option<WorkerProgram>,
    /// Held for the whole of one operation.
    operations: Mutex<()>,
    /// Held only while the records are read or changed.
    state: Mutex<Core>,
}

impl Director {
    /// A Director over `core`'s directory, system and Source Authority.
    pub fn new(core: Core) -> Arc<Director> {
        Arc::new_cyclic(|me| Director {
            me: me.clone(),
            system: core.system.clone(),
            authority: core.authority.clone(),
            dir: core.dir.clone(),
            worker_program: core.worker_program.clone(),
            operations: Mutex::new(()),
            state: Mutex::new(core),
        })
    }

    pub(crate) fn me(&self) -> Weak<Director> {
        self.me.clone()
    }

    pub(crate) fn system(&self) -> &Arc<ActorSystem> {
        &self.system
    }

    pub(crate) fn authority(&self) -> &SourceAuthority {
        &self.authority
    }

    pub(crate) fn worker_program(&self) -> Option<WorkerProgram> {
        self.worker_program.clone()
    }

    /// The records, locked. Never hold this across a wait.
    pub fn state(&self) -> MutexGuard<'_, Core> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every loaded version, and the unloaded ones whose code stayed
    /// resident, re-checked now. The re-check may finish an unload (a
    /// shutdown hook, joining threads), so it runs without the state lock.
    pub fn list(&self) -> Vec<GroupListing> {
        let known = self.state().resident_libraries();
        let states = if known.is_empty() { Vec::new() } else { self.system.recheck_resident() };
        let mut state = self.state();
        state.apply_resident(&known, &states);
        state.list()
    }

    pub(crate) fn operation(&self) -> MutexGuard<'_, ()> {
        self.operations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads `target` (a group's newest valid package, or exactly one
    /// `.tls` file), activates it and applies AutoUnload and TLS_Keep_Limit.
    /// An explicit load, so a quarantined group leaves quarantine.
    pub fn load(&self, target: &str) -> Result<Loaded, DirectorError> {
        let _op = self.operation();
        self.load_target(target, true, None)
    }

    /// Loads the newest package of every group that has a `.tli` in the
    /// directory (quarantined groups are refused); goes on past failures.
    pub fn refresh(&self) -> Vec<RefreshItem> {
        let _op = self.operation();
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
            .map(|group| self.refresh_item(group.clone(), self.load_target(&group, false, None)))
            .collect()
    }

    /// Loads the versions a crashed daemon held, each from its file and only
    /// if the file still has the same hash; per group the active one last,
    /// so that it is active again. Quarantined groups are skipped.
    pub fn restore(&self, saved: &[SavedVersion]) -> Vec<RefreshItem> {
        let _op = self.operation();
        let mut order: Vec<&SavedVersion> = saved.iter().filter(|v| !v.active).collect();
        order.extend(saved.iter().filter(|v| v.active));
        order
            .into_iter()
            .map(|v| {
                self.refresh_item(
                    v.group.clone(),
                    self.load_target(&v.file.display().to_string(), false, Some(&v.hash)),
                )
            })
            .collect()
    }

    fn refresh_item(&self, group: String, result: Result<Loaded, DirectorError>) -> RefreshItem {
        match result {
            Ok(l) => RefreshItem { group, loaded: Some(l), error: None },
            Err(e) => RefreshItem { group, loaded: None, error: Some(e.message) },
        }
    }

    /// Loads `target`; a quarantined group only when `explicit`; with
    /// `expect`, only if the package still has that hash (a restore). The
    /// group is recorded as being loaded (in the state file) from the moment
    /// its code may run until the load has ended, whichever way it ends.
    fn load_target(&self, target: &str, explicit: bool, expect: Option<&str>) -> Result<Loaded, DirectorError> {
        let file = resolve(&self.authority, &self.dir, target)?;
        let (verified, package) = stage(&self.authority, &self.system, &file)?;
        if let Some(hash) = expect.filter(|h| *h != verified.hash) {
            return Err(fail(
                ErrorKind::Refused,
                format!(
                    "{} has changed since it was loaded (hash {} was {hash}); not restored",
                    file.display(),
                    verified.hash
                ),
            ));
        }
        let group = verified.manifest.group.clone();
        let loading = {
            let mut state = self.state();
            state.admit(&group, explicit)?;
            if let Some(v) = state.version(&group, &verified.hash) {
                return Ok(Loaded {
                    group: group.clone(),
                    file: v.file.display().to_string(),
                    hash: v.info.hash.clone(),
                    version: verified.manifest.version_text().to_string(),
                    already_loaded: true,
                    auto_unloaded: vec![],
                    deleted_files: vec![],
                    unplaced: vec![],
                });
            }
            state.begin_loading(&group)
        };
        // Durable before the group's code runs (a crash then quarantines it).
        loading.write();
        let result = self.load_staged(file, verified, package);
        // Bound first: the state lock is released before the write.
        let loaded = self.state().end_loading();
        loaded.write();
        result
    }

    fn load_staged(
        &self,
        file: PathBuf,
        verified: Verified,
        package: VerifiedPackage,
    ) -> Result<Loaded, DirectorError> {
        let group = verified.manifest.group.clone();
        let version = verified.manifest.version_text().to_string();
        let tli = tli_for(&self.authority, &self.dir, &verified)?;
        let verified_hook = self.state().verified.clone();
        if let Some(hook) = verified_hook {
            hook(&verified.hash, &file);
        }
        let (info, runs) = self.place(package, tli.as_ref(), &file)?;
        let hash = info.hash.clone();
        let actors = self.place_actors(&hash, tli.as_ref());
        let unplaced = actors
            .iter()
            .filter_map(|a| match &a.placed {
                Placed::Unplaced(why) => Some(format!("{}: {why}", a.spec.class)),
                _ => None,
            })
            .collect();
        let loaded = LoadedVersion { info, file: file.clone(), actors, runs };
        let previous = {
            let mut state = self.state();
            let previous = state.groups.get(&group).and_then(|g| g.active.clone());
            state.groups.entry(group.clone()).or_default().versions.push(loaded);
            // Creating actors is quick; under the lock, an actor that exits at
            // once is still found by the Director actor.
            if let Err(e) = state.start_version(&group, &hash) {
                let worker = state.take_worker(&group, &hash);
                state.remove_version(&group, &hash);
                drop(state);
                match worker {
                    Some(w) => drop(w.stop(WORKER_STOP_GRACE)),
                    None => drop(self.system.unload(&hash)),
                }
                return Err(e);
            }
            previous
        };
        if let Some(prev) = previous {
            self.send_lifecycle(&group, &prev, |a| a.spec.on_deactivate.clone());
        }
        if let Err(e) = self.activate(&group, &hash, |a| a.spec.on_load.clone()) {
            // Roll back: the previous version (if any) becomes active again.
            let _ = self.unload_version(&hash, DEFAULT_DRAIN);
            return Err(e);
        }
        let auto_unloaded = self.auto_unload(&group, &hash, tli.as_ref());
        let deleted_files = self.keep_limit(&group, tli.as_ref());
        self.state().send_notifications();
        let (hook, placed) = {
            let state = self.state();
            let actors = state.version(&group, &hash).map_or(&[][..], |v| &v.actors[..]);
            (state.loaded.clone(), crate::daemon::core::placed_of(actors))
        };
        if let Some(hook) = hook {
            let new = crate::daemon::core::NewVersion {
                group: group.clone(),
                hash: hash.clone(),
                file: file.clone(),
                placed,
            };
            hook(&new);
        }
        Ok(Loaded {
            group,
            file: file.display().to_string(),
            hash,
            version,
            already_loaded: false,
            auto_unloaded,
            deleted_files,
            unplaced,
        })
    }

    /// The version's TLI actors, each placed (see [`crate::daemon::placement::Placer`]); asked
    /// without the state lock held.
    fn place_actors(&self, hash: &str, tli: Option<&Tli>) -> Vec<Running> {
        let placer = self.state().placer.clone();
        let specs = tli.iter().flat_map(|t| t.actors.iter());
        let placed = specs.map(|spec| {
            let placed = spec.requires.as_ref().map_or(Placed::Here, |r| placer.place(hash, &spec.class, r));
            match &placed {
                Placed::Here | Placed::On(_) => {}
                Placed::Unplaced(why) => log::warn!("{} of {hash} is not placed: {why}", spec.class),
            }
            Running { spec: spec.clone(), address: None, since: now_unix(), restarts: 0, placed }
        });
        placed.collect()
    }

    /// Loads `package` where it is to run: in a worker process of its own,
    /// or in the daemon's. The TLI's `Isolation` overrides the daemon's.
    fn place(
        &self,
        package: VerifiedPackage,
        tli: Option<&Tli>,
        file: &Path,
    ) -> Result<(runtime::PackageInfo, Runs), DirectorError> {
        let default = self.state().isolation;
        let limits = tli.map_or_else(WorkerLimits::default, |t| t.limits);
        match tli.and_then(|t| t.isolation).unwrap_or(default) {
            Isolation::Process => {
                let worker = self.start_worker(package, limits)?;
                Ok((worker.info().clone(), Runs::worker(worker, limits)))
            }
            Isolation::InProcess if limits != WorkerLimits::default() => Err(fail(
                ErrorKind::BadRequest,
                format!(
                    "{}: 'Limits' apply to a worker process, and this group runs in-process (set 'Isolation': \
                     'process' in its TLI, or a multiproc base in thespbase.cfg)",
                    file.display()
                ),
            )),
            Isolation::InProcess => {
                let info = self.system.load(package).map_err(|e| fail(ErrorKind::Failed, e.to_string()))?;
                Ok((info, Runs::InProcess))
            }
        }
    }

    /// Makes `hash` the group's active version: its actors take their global
    /// names, then each gets the message `pick` chooses (delivered, not just
    /// queued; waited for without the state lock).
    pub(crate) fn activate(
        &self,
        group: &str,
        hash: &str,
        pick: impl Fn(&Running) -> Option<Value>,
    ) -> Result<(), DirectorError> {
        let sends: Vec<(Address, Value)> = {
            let mut state = self.state();
            if let Some(g) = state.groups.get_mut(group) {
                g.active = Some(hash.to_string());
            }
            state.take_global_names(group, hash);
            let Some(v) = state.version(group, hash) else { return Ok(()) };
            v.actors.iter().filter_map(|a| Some((a.address?, pick(a)?))).collect()
        };
        for (addr, msg) in sends {
            self.system
                .tell_delivered(&addr, Message::Value(msg), DELIVERY_TIMEOUT)
                .map_err(|e| fail(ErrorKind::Failed, format!("delivering a lifecycle message to {addr}: {e}")))?;
        }
        Ok(())
    }

    /// Sends each live actor of a version the message `pick` chooses and
    /// waits (without the state lock) until each is handled.
    fn send_lifecycle(&self, group: &str, hash: &str, pick: impl Fn(&Running) -> Option<Value>) {
        let sends: Vec<(Address, String, Value)> = {
            let state = self.state();
            let Some(v) = state.version(group, hash) else { return };
            v.actors.iter().filter_map(|a| Some((a.address?, a.spec.class.clone(), pick(a)?))).collect()
        };
        for (addr, class, msg) in sends {
            if let Err(e) = self.system.tell_delivered(&addr, Message::Value(msg), DELIVERY_TIMEOUT) {
                log::warn!("lifecycle message to {addr} ({class}) not delivered: {e}");
            }
        }
    }

    /// `AutoUnload`: keep the newest N versions (by version order, the new
    /// one included); unload the others.
    fn auto_unload(&self, group: &str, new_hash: &str, tli: Option<&Tli>) -> Vec<Unloaded> {
        let AutoUnload::Keep(n) = tli.map_or(AutoUnload::Off, |t| t.auto_unload) else { return Vec::new() };
        let mut others: Vec<(VersionKey, String)> = self.state().groups.get(group).map_or_else(Vec::new, |g| {
            g.versions
                .iter()
                .filter(|v| v.info.hash != new_hash)
                .map(|v| (version_key(v), v.info.hash.clone()))
                .collect()
        });
        others.sort_by(|a, b| b.0.cmp(&a.0));
        let keep_others = usize::try_from(n.saturating_sub(1)).unwrap_or(usize::MAX);
        others.into_iter().skip(keep_others).filter_map(|(_, h)| self.unload_version(&h, DEFAULT_DRAIN).ok()).collect()
    }

    /// `TLS_Keep_Limit`: delete the oldest package files of the group beyond
    /// the limit, never a loaded one (the files are verified without the lock).
    fn keep_limit(&self, group: &str, tli: Option<&Tli>) -> Vec<String> {
        let Some(limit) = tli.and_then(|t| t.keep_limit).filter(|l| *l > 0) else { return Vec::new() };
        let loaded: Vec<String> = self
            .state()
            .groups
            .get(group)
            .map_or_else(Vec::new, |g| g.versions.iter().map(|v| v.info.hash.clone()).collect());
        let mut files: Vec<(VersionKey, PathBuf, String)> = candidates(&self.dir, group)
            .into_iter()
            .filter_map(|p| {
                self.authority.verify_file(&p).ok().map(|v| (VersionKey::of(v.manifest.version.as_deref()), p, v.hash))
            })
            .collect();
        files.sort_by(|a, b| b.0.cmp(&a.0));
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut deleted = Vec::new();
        for (_, path, hash) in files.into_iter().skip(limit) {
            if loaded.contains(&hash) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => deleted.push(path.display().to_string()),
                Err(e) => log::warn!("TLS_Keep_Limit: cannot delete {}: {e}", path.display()),
            }
        }
        deleted
    }
}

/// Finds the package file a load target names: a `.tls` file (exactly that
/// file, verified when it is staged) or a group (its newest valid package).
fn resolve(authority: &SourceAuthority, dir: &Path, target: &str) -> Result<PathBuf, DirectorError> {
    if target.ends_with(".tls") || target.contains('/') {
        let path = if Path::new(target).is_absolute() { PathBuf::from(target) } else { dir.join(target) };
        return Ok(path);
    }
    runtime::tls::format::check_group(target).map_err(|e| fail(ErrorKind::BadRequest, e))?;
    let mut best: Option<(PathBuf, VersionKey)> = None;
    let mut refused = Vec::new();
    for path in candidates(dir, target) {
        match authority.verify_file(&path) {
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
        fail(ErrorKind::NotFound, format!("no valid package for group {target:?} in {}{why}", dir.display()))
    })
}

/// Verifies `path` and writes its code out in one pass.
pub(crate) fn stage(
    authority: &SourceAuthority,
    system: &ActorSystem,
    path: &Path,
) -> Result<(Verified, VerifiedPackage), DirectorError> {
    authority.stage_file(path, system.extract_root()).map_err(|e| match e {
        LoadError::Refused(e) => fail(ErrorKind::Refused, format!("{}: {e}", path.display())),
        other => fail(ErrorKind::Failed, format!("{}: {other}", path.display())),
    })
}

/// Files that can hold group `g`: `g.tls` and `g-*.tls` (a group has no `-`).
fn candidates(dir: &Path, g: &str) -> Vec<PathBuf> {
    let prefix = format!("{g}-");
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    out.retain(|p| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        name.ends_with(".tls") && (name == format!("{g}.tls") || name.starts_with(&prefix))
    });
    out.sort();
    out
}

/// The group's TLI: `DIR/GROUP.tli`, else the one signed into the package.
fn tli_for(authority: &SourceAuthority, dir: &Path, v: &Verified) -> Result<Option<Tli>, DirectorError> {
    let file = dir.join(format!("{}.tli", v.manifest.group));
    let strict = authority.policy().strict_modes;
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
