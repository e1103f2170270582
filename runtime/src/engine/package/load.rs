//! Loading a verified package: private copy, dlopen, ABI check, the
//! version's own threads, init on one of them. A failure at any step undoes
//! the steps before it.
//!
//! Locking (the order is in `engine::state`): the hash is claimed in
//! `loading` while `versions` is held, so two loads of one package cannot
//! race; `dlopen`, thread start and `init` then run with no lock
//! held, and `versions` is taken again only to add the new version. Creating
//! actors, unloading and listing never wait on a load.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::engine::executor::Executor;
use crate::engine::package::host_api::HOST_API;
use crate::engine::package::version::Version;
use crate::engine::state::EngineState;
use crate::error::LoadError;
use crate::native::library::Library;
use crate::package::{PackageInfo, VerifiedPackage};

/// Loads `pkg` into the system.
pub(crate) fn load(engine: &Arc<EngineState>, pkg: VerifiedPackage) -> Result<PackageInfo, LoadError> {
    if engine.stopping.load(Ordering::Acquire) {
        return Err(LoadError::ShuttingDown);
    }
    let VerifiedPackage { group, version, hash, files, actors } = pkg;
    let (staging, library) = files.stage(&engine.extract_root)?;
    let _claim = Claim::take(engine, &hash)?;
    let dir = staging.commit(&engine.extract_root, &hash)?;
    let identity = Identity { group, version, hash, actors };
    match open_and_start(engine, &identity, &dir.join(library)) {
        Ok(version) => {
            let info = version.info.clone();
            let mut versions = engine.versions.lock().unwrap_or_else(|p| p.into_inner());
            if engine.stopping.load(Ordering::Acquire) {
                // The system began shutting down during the load (it took
                // the versions it saw): this one is unloaded here.
                drop(versions);
                let _ = crate::engine::package::unload::unload(engine, version, engine.config.unload_grace);
                return Err(LoadError::ShuttingDown);
            }
            versions.push(version);
            drop(versions);
            log::info!("loaded {} {} ({}) from {}", info.group, info.version, info.hash, info.library.display());
            Ok(info)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// A hash claimed for one load; released when the load ends, either way.
struct Claim<'s> {
    engine: &'s EngineState,
    hash: String,
}

impl<'s> Claim<'s> {
    /// Claims `hash`, unless it is loaded or being loaded already.
    fn take(engine: &'s EngineState, hash: &str) -> Result<Claim<'s>, LoadError> {
        let versions = engine.versions.lock().unwrap_or_else(|p| p.into_inner());
        let mut loading = engine.loading.lock().unwrap_or_else(|p| p.into_inner());
        if versions.iter().any(|v| v.info.hash == hash) || loading.iter().any(|h| h == hash) {
            return Err(LoadError::AlreadyLoaded { hash: hash.to_string() });
        }
        loading.push(hash.to_string());
        Ok(Claim { engine, hash: hash.to_string() })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.engine.loading.lock().unwrap_or_else(|p| p.into_inner()).retain(|h| *h != self.hash);
    }
}

/// Who a package being loaded says it is.
struct Identity {
    group: String,
    version: String,
    hash: String,
    /// The actor classes its signed manifest lists (empty: not compared).
    actors: Vec<String>,
}

/// A signed package lists its actor classes; the library must export exactly those.
fn check_actors(pkg: &Identity, library: &Library, path: &std::path::Path) -> Result<(), LoadError> {
    if pkg.actors.is_empty() {
        return Ok(());
    }
    let mut signed = pkg.actors.clone();
    let mut exported = library.classes().to_vec();
    signed.sort();
    exported.sort();
    if signed == exported {
        return Ok(());
    }
    Err(LoadError::NotAPackage {
        path: path.to_path_buf(),
        reason: format!("it exports {exported:?} but its signed manifest lists {signed:?}"),
    })
}

fn open_and_start(
    engine: &Arc<EngineState>,
    pkg: &Identity,
    path: &std::path::Path,
) -> Result<Arc<Version>, LoadError> {
    let home = engine.new_home().ok_or(LoadError::HomesExhausted)?;
    let library = Arc::new(Library::open(path, home)?);
    check_actors(pkg, &library, path)?;
    let name = format!("pkg{home}-{}", pkg.group);
    let threads = Executor::start(&name, engine.config.package_threads, engine, engine.idle_poll())
        .map_err(|source| LoadError::Threads { group: pkg.group.clone(), source })?;
    let info = PackageInfo {
        home,
        group: pkg.group.clone(),
        version: pkg.version.clone(),
        hash: pkg.hash.clone(),
        classes: library.classes().to_vec(),
        library: path.to_path_buf(),
        loaded_at: SystemTime::now(),
    };
    let init_code = library.clone();
    let max_level = log::max_level() as u32;
    let init = threads.call(move || init_code.init(&HOST_API, max_level));
    let version = Arc::new(Version::new(home, info, threads, library));
    match init {
        Some(Ok(())) => Ok(version),
        failed => {
            let reason = match failed {
                Some(Err(e)) => e,
                _ => "the package thread stopped during init".to_string(),
            };
            version.exec.stop_and_join();
            if let Some(library) = version.take_library().and_then(|c| Arc::try_unwrap(c).ok()) {
                let _ = library.close();
            }
            Err(LoadError::Init { group: pkg.group.clone(), reason })
        }
    }
}
