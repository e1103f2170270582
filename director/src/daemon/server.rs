//! The control socket: accepts connections (own user or root only), reads
//! one request line, answers one response line. Each connection gets its
//! own thread; the Director state serialises changes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actor_abi::Value;
use runtime::{ActorSystem, AskError};

use crate::daemon::core::{Core, DirectorError, fail};
use crate::daemon::paths::DaemonPaths;
use crate::daemon::{peer, signals};
use crate::protocol::{ErrorKind, Reply, Request, Response, Send, Status};

/// Largest request line accepted.
const MAX_REQUEST: u64 = 1 << 20;

/// The running control server.
pub struct Server {
    pub(crate) listener: UnixListener,
    pub(crate) core: Arc<Mutex<Core>>,
    pub(crate) system: Arc<ActorSystem>,
    pub(crate) paths: DaemonPaths,
    pub(crate) started: Instant,
    pub(crate) stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves until a shutdown request or SIGTERM/SIGINT.
    pub fn serve(self: &Arc<Self>) {
        let fd = self.listener.as_raw_fd();
        while !self.stop.load(Ordering::Acquire) && !signals::received() {
            let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: `pfd` is one valid pollfd for the listener's live fd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 200) };
            if ready <= 0 {
                continue;
            }
            let Ok((stream, _)) = self.listener.accept() else { continue };
            let me = self.clone();
            let spawned = std::thread::Builder::new().name("control".into()).spawn(move || me.connection(stream));
            if let Err(e) = spawned {
                log::error!("cannot start a control thread: {e}");
            }
        }
    }

    fn connection(&self, mut stream: UnixStream) {
        let response = match peer::peer_uid(&stream) {
            Ok(uid) if peer::allowed(uid) => self.read_and_answer(&stream),
            Ok(uid) => {
                log::warn!("refused a control connection from uid {uid}");
                error(fail(ErrorKind::PermissionDenied, format!("uid {uid} may not control this daemon")))
            }
            Err(e) => error(fail(ErrorKind::PermissionDenied, format!("cannot check the peer's credentials: {e}"))),
        };
        let mut line = serde_json::to_vec(&response).unwrap_or_default();
        line.push(b'\n');
        let _ = stream.write_all(&line);
    }

    fn read_and_answer(&self, stream: &UnixStream) -> Response {
        let mut line = String::new();
        if let Err(e) = BufReader::new(stream.take(MAX_REQUEST)).read_line(&mut line) {
            return error(fail(ErrorKind::BadRequest, format!("cannot read the request: {e}")));
        }
        match serde_json::from_str::<Request>(&line) {
            Ok(req) => match self.dispatch(req) {
                Ok(result) => Response::Ok { result },
                Err(e) => error(e),
            },
            Err(e) => error(fail(ErrorKind::BadRequest, format!("malformed request: {e}"))),
        }
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dispatch(&self, req: Request) -> Result<Reply, DirectorError> {
        Ok(match req {
            Request::Status => Reply::Status(self.status()),
            Request::Load { target } => Reply::Loaded(self.core().load(&target)?),
            Request::Refresh => Reply::Refreshed { groups: self.core().refresh() },
            Request::Unload { hash } => Reply::Unloaded(self.core().unload(&hash)?),
            Request::List => Reply::List { groups: self.core().list() },
            Request::Ask(send) => Reply::Answer { reply: self.ask(&send)?.to_json() },
            Request::Tell(send) => {
                let addr = self.core().target(&send.target, send.group.as_deref(), send.source.as_deref())?;
                self.system.tell(&addr, Value::from_json(send.message));
                Reply::Told
            }
            Request::RoleAddress { role, group } => {
                let address = self.core().role_address(&role, group.as_deref(), None)?;
                Reply::Address { address: address.map(|a| a.to_string()) }
            }
            Request::Shutdown => {
                self.stop.store(true, Ordering::Release);
                Reply::ShuttingDown
            }
        })
    }

    fn ask(&self, send: &Send) -> Result<Value, DirectorError> {
        // Resolve under the lock, wait without it.
        let addr = self.core().target(&send.target, send.group.as_deref(), send.source.as_deref())?;
        let timeout = Duration::from_millis(send.timeout_ms.max(1));
        self.system.ask(&addr, Value::from_json(send.message.clone()), timeout).map_err(|e| {
            let kind = match &e {
                AskError::Timeout { .. } => ErrorKind::Timeout,
                AskError::Poisoned { .. } => ErrorKind::Poisoned,
                AskError::NoSuchActor(_) | AskError::TargetExited(_) => ErrorKind::NotFound,
                _ => ErrorKind::Failed,
            };
            fail(kind, format!("{} ({addr}): {e}", send.target))
        })
    }

    fn status(&self) -> Status {
        let core = self.core();
        Status {
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            socket: self.paths.socket.display().to_string(),
            dir: self.paths.dir.display().to_string(),
            groups: core.groups.len(),
            versions: core.groups.values().map(|g| g.versions.len()).sum(),
            actors: self.system.actors().len(),
            dead_letters: self.system.dead_letters(),
        }
    }
}

fn error(e: DirectorError) -> Response {
    Response::Error { kind: e.kind, message: e.message }
}
