//! Inside a worker process: one actor system as the node it was given, one
//! loaded version, and the control requests of the system that started it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_abi::Address;

use crate::native::shared_memory::SharedRegion;
use crate::native::staging::Staging;
use crate::package::{LibraryFiles, VerifiedPackage, sha256_hex};
use crate::remote::ring::{REGION_BYTES, Side};
use crate::remote::stream::{Channel, Connection, StreamSender};
use crate::remote::{Control, LoadRequest, NameAuthority};
use crate::worker::{LOG_LEVEL_ENV, NODE_ENV, RING_ENV, ROOT_ENV};
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
    crate::native::os::new_session().map_err(|e| format!("starting a session: {e}"))?;
    let stream = crate::native::os::socket_from_stdin().map_err(|e| format!("the starter's socket: {e}"))?;
    let link = starter_channel(stream)?;
    let config = SystemConfig::default().with_node(node).with_extract_root(root);
    // The starter's node is the first of the block it numbered this worker in.
    let starter = crate::remote::block_start(crate::remote::block_of(node));
    let system = ActorSystem::start(config).map_err(|e| e.to_string())?;
    let (tx, incoming) = channel();
    let conn = system.connect_channel(starter, link, RouteKind::Default, tx).map_err(|e| format!("connecting: {e}"))?;
    let names = Arc::new(NamesClient::new(conn.sender()));
    system.set_name_authority(names.clone());
    let requests = dispatch(incoming, names).map_err(|e| format!("starting the dispatcher: {e}"))?;
    let hello = Control::Hello { node, pid: std::process::id() };
    conn.send_control(hello).map_err(|e| e.to_string())?;
    forward_logs(&conn);
    let mut loaded: Option<String> = None;
    let mut drain = None;
    // The loop ends on Stop, or when the starter goes away (the reader ends
    // and drops the sending half of `requests`).
    for request in requests {
        let answer = match request {
            Control::Load(request) => load(&system, request, &mut loaded),
            Control::Create { class, global_name, parent } => {
                let parent = (!parent.is_nobody()).then_some(parent);
                create(&system, loaded.as_deref(), &class, CreateOptions { global_name, parent })
            }
            Control::Stop { drain_ms } => {
                drain = Some(Duration::from_millis(drain_ms));
                break;
            }
            other => Control::Failed { reason: format!("a worker does not take {other:?}") },
        };
        answer_or_stop(&conn, answer)?;
    }
    stop(&system, &conn, loaded.as_deref(), drain);
    conn.close();
    Ok(())
}

/// How long a stopping worker waits for its last frames to be written.
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Drain, then stop: the version's actors answer what they hold (up to
/// `drain`; their answers queue on the connection ahead of anything
/// later), the starter learns how many messages were dropped, and the
/// connection is flushed before it closes. Without a stop request (the
/// starter went away) there is nobody to answer: everything just stops.
fn stop(system: &ActorSystem, conn: &Connection, loaded: Option<&str>, drain: Option<Duration>) {
    let undelivered = match (loaded, drain) {
        (Some(hash), Some(limit)) => system.unload_within(hash, limit).map_or(0, |r| r.undelivered),
        _ => 0,
    };
    system.shutdown();
    if drain.is_some() {
        let _ = conn.send_control(Control::Stopped { undelivered });
        conn.flush(FLUSH_LIMIT);
    }
}

/// The channel to the starter: the socket, and the shared region if the
/// starter made one.
fn starter_channel(socket: std::os::unix::net::UnixStream) -> Result<Channel, String> {
    let Some(size) = std::env::var_os(RING_ENV) else { return Ok(Channel::Socket(socket)) };
    let size: usize = size.to_string_lossy().parse().map_err(|_| format!("{RING_ENV}={size:?} is not a size"))?;
    if size != REGION_BYTES {
        return Err(format!("{RING_ENV}={size}: this worker's rings take {REGION_BYTES} bytes"));
    }
    let fd = crate::native::os::recv_fd(&socket).map_err(|e| format!("the shared region: {e}"))?;
    let region = SharedRegion::from_fd(fd, size).map_err(|e| format!("the shared region: {e}"))?;
    Ok(Channel::Shared { socket, region: Arc::new(region), side: Side::Worker })
}

/// Hands the starter's answers to name claims to the claims waiting on
/// them (a claim may wait inside a request, so the request loop cannot be
/// the one to deliver its answer), and everything else to the request loop.
fn dispatch(incoming: Receiver<Control>, names: Arc<NamesClient>) -> std::io::Result<Receiver<Control>> {
    let (tx, requests) = channel();
    std::thread::Builder::new().name("thespian-worker-control".into()).spawn(move || {
        for ctrl in incoming {
            match ctrl {
                Control::NameClaimed { id, holder } => names.answer(id, holder),
                other => {
                    if tx.send(other).is_err() {
                        return;
                    }
                }
            }
        }
    })?;
    Ok(requests)
}

/// How long a name claim waits for the starter's answer.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(10);

/// The worker's side of the starter's table of global names.
struct NamesClient {
    sender: Arc<StreamSender>,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, SyncSender<Address>>>,
}

impl NamesClient {
    fn new(sender: Arc<StreamSender>) -> NamesClient {
        NamesClient { sender, next: AtomicU64::new(1), waiting: Mutex::new(HashMap::new()) }
    }

    fn answer(&self, id: u64, holder: Address) {
        let waiter = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        if let Some(w) = waiter {
            let _ = w.try_send(holder);
        }
    }
}

impl NameAuthority for NamesClient {
    fn claim(&self, name: &str, addr: Address) -> Option<Address> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = sync_channel(1);
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(id, tx);
        let sent = self.sender.send_control(Control::ClaimName { id, name: name.to_string(), addr });
        let answer = sent.ok().and_then(|()| rx.recv_timeout(CLAIM_TIMEOUT).ok());
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        answer
    }

    fn release(&self, name: &str, addr: Address) {
        let _ = self.sender.send_control(Control::ReleaseName { name: name.to_string(), addr });
    }
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
