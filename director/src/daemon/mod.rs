//! The daemon: one long-running actor system per director directory,
//! holding the Director and Source Authority actors, controlled over a
//! Unix socket that only its own user (or root) may use.
//!
//! Whoever can talk to the daemon can load code into it: the socket is 0600
//! and every connection's peer credentials are checked.

pub mod actors;
pub mod core;
pub mod error;
mod membership;
mod moves;
pub mod operations;
pub mod paths;
pub mod placement;
mod recovery;
pub mod relay;
pub mod runs;
pub mod sending;
pub(crate) mod server;
mod signals;
pub mod state;
mod state_file;
mod targets;
pub mod unloading;
pub mod workers;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Instant;

use actor_abi::Address;
use runtime::tls::{SourceAuthority, TrustPolicy};
use runtime::{ActorSystem, SystemConfig};

use crate::atomic;
use crate::client::DirectorControl;
use crate::config::Config;
use crate::convention::Link;
use actors::{DIRECTOR_NAME, DirectorActor, SOURCE_AUTHORITY_NAME, SourceAuthorityActor};
use operations::Director;
use paths::DaemonPaths;
use state::SavedState;

/// Why the daemon did not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The director directory is missing.
    #[error("the director directory {0} does not exist")]
    NoDirectory(std::path::PathBuf),
    /// A daemon already serves this directory.
    #[error("a daemon is already running for {dir} (pid {pid})")]
    AlreadyRunning {
        /// The directory.
        dir: std::path::PathBuf,
        /// Its pid.
        pid: u32,
    },
    /// Its state could not be set up.
    #[error("cannot set up {path}: {source}")]
    Setup {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The actor system could not start.
    #[error("cannot start the actor system: {0}")]
    System(String),
    /// A file or directory others could change would be trusted.
    #[error("{0}")]
    Insecure(String),
    /// The control socket is held by something that is not a usable daemon.
    #[error("refusing to start: {0}")]
    Socket(String),
    /// A configuration file is invalid.
    #[error("refusing to start: {0}")]
    Config(String),
}

fn setup(path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Setup { path: path.to_path_buf(), source }
}

/// Removes what a killed daemon left behind: socket, pid file, extraction directories.
fn clean_stale(paths: &DaemonPaths) {
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.pid);
    let _ = std::fs::remove_dir_all(&paths.run);
}

fn prepare(paths: &DaemonPaths) -> Result<UnixListener, DaemonError> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&paths.run).map_err(setup(&paths.run))?;
    let listener = UnixListener::bind(&paths.socket).map_err(setup(&paths.socket))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600)).map_err(setup(&paths.socket))?;
    atomic::write(&paths.pid, format!("{}\n", std::process::id()).as_bytes(), 0o644).map_err(setup(&paths.pid))?;
    Ok(listener)
}

/// Runs the daemon for `dir` in the foreground until it is shut down. Its
/// configuration files are read first; any error refuses the start.
pub fn run(dir: &Path) -> Result<(), DaemonError> {
    if !dir.is_dir() {
        return Err(DaemonError::NoDirectory(dir.to_path_buf()));
    }
    let config = Config::load(dir).map_err(|e| DaemonError::Config(e.to_string()))?;
    let paths = DaemonPaths::for_dir(dir);
    paths.ensure_socket_dir().map_err(DaemonError::Insecure)?;
    match DirectorControl::new(dir).status() {
        Ok(Some(status)) => return Err(DaemonError::AlreadyRunning { dir: paths.dir.clone(), pid: status.pid }),
        Ok(None) => {}
        // Not answering, or an impostor: never take the socket over.
        Err(e) => return Err(DaemonError::Socket(e.to_string())),
    }
    clean_stale(&paths);
    crate::logging::install(&config).map_err(|e| DaemonError::Config(e.to_string()))?;
    log_panics();
    signals::install();
    let convention = join_convention(&config)?;
    let listener = prepare(&paths)?;
    let result = serve(&paths, &config, listener, convention);
    clean_stale(&paths);
    result
}

/// The Director and Source Authority actors running in an actor system.
pub struct Embedded {
    /// The Director: its operations (load, unload, refresh...) and its
    /// state (`core.state()`: list, role lookups...), as in the daemon.
    pub core: Arc<Director>,
    /// The Director actor (global name [`DIRECTOR_NAME`]).
    pub director: Address,
    /// The Source Authority actor (global name [`SOURCE_AUTHORITY_NAME`]).
    pub source_authority: Address,
}

/// Starts the Director and Source Authority actors for director directory
/// `dir` in `system`: what the daemon runs, for hosts that embed the runtime.
/// Files another user could change are refused (see [`embed_with_policy`]).
pub fn embed(system: &Arc<ActorSystem>, dir: &Path) -> Embedded {
    embed_with_policy(system, dir, TrustPolicy::default())
}

/// [`embed`] with the Source Authority's `policy`.
pub fn embed_with_policy(system: &Arc<ActorSystem>, dir: &Path, policy: TrustPolicy) -> Embedded {
    embed_core(system, core::Core::new(system.clone(), dir, Address::NOBODY, policy))
}

/// [`embed`] with a Director over `core` (see [`core::Core::with_workers`]).
pub fn embed_core(system: &Arc<ActorSystem>, core: core::Core) -> Embedded {
    let (dir, policy) = (core.dir.clone(), core.authority.policy().clone());
    let core = Director::new(core);
    let director = system.create_named_host_actor(DIRECTOR_NAME, || DirectorActor::new(core.clone()));
    core.state().set_director(director);
    let authority = SourceAuthority::new(&dir).with_policy(policy);
    let source_authority =
        system.create_named_host_actor(SOURCE_AUTHORITY_NAME, || SourceAuthorityActor::new(authority));
    Embedded { core, director, source_authority }
}

/// Puts a panic on any of the daemon's threads into its log, not only on
/// its stderr (which an operator rarely reads), then reports it as before.
fn log_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        log::error!("thread {thread:?} panicked: {info}");
        previous(info);
    }));
}

/// Connects to the convention's server if `convention.cfg` says there is
/// one; a daemon that cannot join refuses to start rather than run alone.
fn join_convention(config: &Config) -> Result<Option<Arc<Link>>, DaemonError> {
    let Some(settings) = &config.convention else { return Ok(None) };
    let file = config.dir.join("convention.cfg");
    let link = Link::connect(settings, &config.member_name)
        .map_err(|e| DaemonError::Config(format!("{}: {e}", file.display())))?;
    log::info!("member {:?} of convention {:?}: connected to {}", config.member_name, settings.name, settings.url);
    Ok(Some(Arc::new(link)))
}

fn serve(
    paths: &DaemonPaths,
    config: &Config,
    listener: UnixListener,
    convention: Option<Arc<Link>>,
) -> Result<(), DaemonError> {
    // A member's actor system takes its node block: its addresses are then
    // the same on every member.
    let block = match &convention {
        Some(link) => crate::convention::slots::claim(link, &config.member_name)
            .map_err(|e| DaemonError::Config(e.to_string()))?,
        None => 0,
    };
    let settings = SystemConfig::default()
        .with_extract_root(&paths.run)
        .with_host_threads(config.host_threads())
        .with_node(runtime::remote::block_start(block));
    let system = Arc::new(ActorSystem::start(settings).map_err(|e| DaemonError::System(e.to_string()))?);
    if let Some(w) = config.trust_warning() {
        log::warn!("{w}");
    }
    let policy = TrustPolicy { strict_modes: config.strict_trust, ..TrustPolicy::default() };
    let local = placement::LocalPlacer { capabilities: config.other_caps.clone() };
    let core = core::Core::new(system.clone(), &paths.dir, Address::NOBODY, policy)
        .with_workers(worker_program(), config.isolation())
        .with_placer(Arc::new(local));
    let core = embed_core(&system, core).core;
    let member = match &convention {
        Some(link) => Some(membership::join(link, config, &core, block)?),
        None => None,
    };
    log::info!("daemon {} serving {} on {}", std::process::id(), paths.dir.display(), paths.socket.display());
    start_up(&core, &paths.dir, config.strict_trust);
    if let Some(member) = &member {
        member.now();
    }
    let server = Arc::new(server::Server {
        listener,
        core: core.clone(),
        system: system.clone(),
        paths: paths.clone(),
        started: Instant::now(),
        stop: Arc::new(AtomicBool::new(false)),
        open: Arc::new(AtomicUsize::new(0)),
        convention: convention.clone().map(|link| (config.member_name.clone(), link)),
    });
    server.serve();
    core.state().begin_shutdown();
    // No OnDeactivate at shutdown: every actor gets ActorExitRequest (in a
    // worker, from the worker's own shutdown).
    for line in core.stop_workers() {
        log::info!("shutdown: {line}");
    }
    let report = system.shutdown();
    for u in &report.unloads {
        log::info!("shutdown: {u}");
    }
    core.state().save_clean_shutdown();
    if let Some(link) = &convention
        && let Err(e) = crate::convention::members::leave(link, &config.member_name)
    {
        log::warn!("{e}");
    }
    Ok(())
}

/// The daemon's workers run this very program (its `main` calls
/// `runtime::worker::run_if_worker` first), through `/proc/self/exe` so
/// that a binary replaced on disk still starts the same code.
fn worker_program() -> runtime::worker::WorkerProgram {
    runtime::worker::WorkerProgram { program: "/proc/self/exe".into(), ..Default::default() }
}

/// What a start loads: after a crash, exactly the versions that were loaded
/// (with the same ones active); after a clean shutdown or the first start,
/// the newest package of every group with a `.tli` (the seed's refresh).
/// Quarantined groups are skipped either way.
fn start_up(core: &Director, dir: &Path, strict: bool) {
    let previous = SavedState::read(dir, strict).unwrap_or_else(|e| {
        log::warn!("ignoring the saved state: {e}");
        None
    });
    core.state().keep_state(dir, previous.as_ref());
    let items = match previous.as_ref().map(SavedState::to_restore).filter(|v| !v.is_empty()) {
        Some(saved) => {
            log::warn!("the last daemon did not shut down cleanly: restoring the {} version(s) it held", saved.len());
            core.restore(saved)
        }
        None => core.refresh(),
    };
    for item in &items {
        match (&item.loaded, &item.error) {
            (Some(l), _) => log::info!("start: loaded {:?} {}: {}", l.group, l.file, l.hash),
            (None, Some(e)) => log::warn!("start: could not load {:?}: {e}", item.group),
            (None, None) => {}
        }
    }
    let save = {
        let mut state = core.state();
        state.record_startup(&items);
        state.save_state()
    };
    save.write();
}
