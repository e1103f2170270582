//! Inside a worker process: one actor system as the node it was given, one
//! loaded version, and the control requests of the system that started it.

use std::path::PathBuf;
use std::sync::mpsc::channel;

use actor_abi::Address;

use crate::native::staging::Staging;
use crate::package::{LibraryFiles, VerifiedPackage, sha256_hex};
use crate::remote::stream::Connection;
use crate::remote::{Control, LoadRequest};
use crate::worker::{LOG_LEVEL_ENV, NODE_ENV, ROOT_ENV, WORKER_FD};
use crate::{ActorSystem, CreateOptions, RouteKind, SystemConfig};

/// If this process was started as a worker, serves as one and exits;
/// otherwise returns at once. Call it first in `main` of the program given
/// to [`WorkerProgram`](crate::worker::WorkerProgram).
///
/// ```no_run
/// // First thing in `main`:
/// runtime::worker::run_if_worker();
/// // ... the program's own work ...
/// ```
pub fn run_if_worker() {
    let Some(node) = std::env::var_os(NODE_ENV) else { return };
    let code = match serve(&node.to_string_lossy()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("thespian worker {}: {e}", std::process::id());
            1
        }
    };
    std::process::exit(code);
}

fn serve(node: &str) -> Result<(), String> {
    let node: u32 = node.parse().map_err(|_| format!("{NODE_ENV}={node:?} is not a node number"))?;
    let root = std::env::var_os(ROOT_ENV).map(PathBuf::from).ok_or(format!("{ROOT_ENV} is not set"))?;
    let stream = crate::native::os::inherited_stream(WORKER_FD).map_err(|e| format!("descriptor {WORKER_FD}: {e}"))?;
    let config = SystemConfig::default().with_node(node).with_extract_root(root);
    let system = ActorSystem::start(config).map_err(|e| e.to_string())?;
    let (tx, requests) = channel();
    let conn = system
        .connect_with_control(Address::MAIN_NODE, stream, RouteKind::Default, tx)
        .map_err(|e| format!("connecting: {e}"))?;
    let hello = Control::Hello { node, pid: std::process::id() };
    conn.send_control(hello).map_err(|e| e.to_string())?;
    forward_logs(&conn);
    let mut loaded: Option<String> = None;
    // The loop ends on Stop, or when the starter goes away (the reader ends
    // and drops the sending half of `requests`).
    for request in requests {
        let answer = match request {
            Control::Load(request) => load(&system, request, &mut loaded),
            Control::Create { class, global_name, parent } => {
                let parent = (!parent.is_nobody()).then_some(parent);
                create(&system, loaded.as_deref(), &class, CreateOptions { global_name, parent })
            }
            Control::Stop => break,
            other => Control::Failed { reason: format!("a worker does not take {other:?}") },
        };
        answer_or_stop(&conn, answer)?;
    }
    system.shutdown();
    conn.close();
    Ok(())
}

/// Sends every `log` record of this process to the starter, which logs it
/// as its own with the actor that logged it. The level is the starter's
/// (passed in the environment), so nothing is sent that it would drop.
fn forward_logs(conn: &Connection) {
    let level = std::env::var(LOG_LEVEL_ENV).ok().and_then(|l| l.parse().ok()).unwrap_or(log::LevelFilter::Info);
    if log::set_boxed_logger(Box::new(Forwarder(conn.sender()))).is_ok() {
        log::set_max_level(level);
    }
}

/// A logger that hands records to the starter as control messages.
struct Forwarder(std::sync::Arc<crate::remote::stream::StreamSender>);

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let _ = self.0.send_control(Control::Log {
            level: record.level() as u8,
            target: record.target().to_string(),
            message: record.args().to_string(),
            actor: crate::current_actor(),
        });
    }

    fn flush(&self) {}
}

fn answer_or_stop(conn: &Connection, answer: Control) -> Result<(), String> {
    conn.send_control(answer).map_err(|e| format!("answering: {e}"))
}

fn load(system: &ActorSystem, pkg: LoadRequest, loaded: &mut Option<String>) -> Control {
    if loaded.is_some() {
        return Control::Failed { reason: "this worker has a version loaded already".into() };
    }
    let staging = match Staging::adopt(PathBuf::from(&pkg.dir)) {
        Ok(s) => s,
        Err(e) => return Control::Failed { reason: e.to_string() },
    };
    let file = staging.path_of(&pkg.library);
    match std::fs::read(&file).map(|b| sha256_hex(&b)) {
        Ok(h) if h == pkg.sha256 => {}
        Ok(h) => {
            let reason = format!("{} has SHA-256 {h}, the signed manifest says {}", file.display(), pkg.sha256);
            return Control::Failed { reason };
        }
        Err(e) => return Control::Failed { reason: format!("{}: {e}", file.display()) },
    }
    let files = LibraryFiles::Staged { staging, library: pkg.library, sha256: pkg.sha256 };
    let verified =
        VerifiedPackage { group: pkg.group, version: pkg.version, hash: pkg.hash, files, actors: pkg.actors };
    match system.load(verified) {
        Ok(info) => {
            *loaded = Some(info.hash.clone());
            let library = info.library.to_string_lossy().into_owned();
            Control::Loaded { home: info.home, library, classes: info.classes }
        }
        Err(e) => Control::Failed { reason: e.to_string() },
    }
}

fn create(system: &ActorSystem, loaded: Option<&str>, class: &str, options: CreateOptions) -> Control {
    let Some(hash) = loaded else {
        return Control::Failed { reason: "no version is loaded in this worker".into() };
    };
    match system.create_actor_with(hash, class, options) {
        Ok(addr) => Control::Created { addr },
        Err(e) => Control::Failed { reason: e.to_string() },
    }
}
