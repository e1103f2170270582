//! The control socket: accepts connections (own user or root only), reads
//! one request line, answers one response line. Each connection gets its
//! own thread; the Director state serialises changes.
//!
//! Every connection is bounded: the request must arrive whole within
//! [`REQUEST_DEADLINE`] and be at most [`MAX_REQUEST`] bytes; at most
//! [`Server::connection_cap`] connections are served at once (more get an
//! immediate `Busy` refusal); an `accept` that fails (for example out of
//! file descriptors) backs off instead of spinning.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use runtime::ActorSystem;

use crate::daemon::core::{Core, DirectorError, fail};
use crate::daemon::operations::Director;
use crate::daemon::paths::DaemonPaths;
use crate::daemon::signals;
use crate::protocol::{ErrorKind, Reply, Request, Response, Status};
use crate::sys;

/// Largest request line accepted.
pub const MAX_REQUEST: usize = 1 << 20;
/// How long a client has to send its whole request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long writing a response may block on a client that does not read.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// The most control connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// File descriptors kept free for the daemon's own work (packages, logs, workers).
const RESERVED_FDS: u64 = 48;
/// Longest pause after failed `accept`s in a row.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The running control server.
pub struct Server {
    pub(crate) listener: UnixListener,
    pub(crate) core: Arc<Director>,
    pub(crate) system: Arc<ActorSystem>,
    pub(crate) paths: DaemonPaths,
    pub(crate) started: Instant,
    pub(crate) stop: Arc<AtomicBool>,
    /// Connections being served now.
    pub(crate) open: Arc<AtomicUsize>,
    /// This member's name and its link to the convention's server, if any.
    pub(crate) convention: Option<(String, Arc<crate::convention::Link>)>,
}

/// Counts one served connection for as long as it lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Server {
    /// How many connections are served at once: [`MAX_CONNECTIONS`], less
    /// when the open-file limit is low, so that `accept` itself keeps working.
    pub fn connection_cap() -> usize {
        let spare = sys::open_file_limit().saturating_sub(RESERVED_FDS).max(4);
        usize::try_from(spare).unwrap_or(MAX_CONNECTIONS).min(MAX_CONNECTIONS)
    }

    /// Serves until a shutdown request or SIGTERM/SIGINT.
    pub fn serve(self: &Arc<Self>) {
        let fd = self.listener.as_raw_fd();
        let cap = Self::connection_cap();
        let mut backoff = Duration::ZERO;
        while !self.stop.load(Ordering::Acquire) && !signals::received() {
            let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: `pfd` is one valid pollfd for the listener's live fd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 200) };
            if ready <= 0 {
                continue;
            }
            match self.listener.accept() {
                Ok((stream, _)) => {
                    backoff = Duration::ZERO;
                    self.admit(stream, cap);
                }
                Err(e) => {
                    // Out of descriptors (or memory): the connection stays in
                    // the backlog; wait for served ones to finish.
                    backoff = (backoff * 2).clamp(Duration::from_millis(20), MAX_ACCEPT_BACKOFF);
                    if backoff == MAX_ACCEPT_BACKOFF || backoff == Duration::from_millis(20) {
                        log::warn!("control socket: accept failed ({e}); retrying in {backoff:?}");
                    }
                    std::thread::sleep(backoff);
                }
            }
        }
    }

    /// Serves `stream` on its own thread, or refuses it at once when `cap`
    /// connections are being served.
    fn admit(self: &Arc<Self>, stream: UnixStream, cap: usize) {
        let _ = stream.set_write_timeout(Some(WRITE_DEADLINE));
        if self.open.fetch_add(1, Ordering::AcqRel) >= cap {
            self.open.fetch_sub(1, Ordering::AcqRel);
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            let why = format!("the daemon is busy: {cap} control connections are open (the limit); try again");
            answer(stream, &error(fail(ErrorKind::Busy, why)));
            return;
        }
        let slot = Slot(self.open.clone());
        let me = self.clone();
        let spawned = std::thread::Builder::new().name("control".into()).spawn(move || {
            let _slot = slot;
            me.connection(stream);
        });
        if let Err(e) = spawned {
            log::error!("cannot start a control thread: {e}");
        }
    }

    fn connection(&self, stream: UnixStream) {
        let response = match sys::peer(&stream) {
            Ok(p) if sys::trusted_uid(p.uid) => self.read_and_answer(&stream),
            Ok(p) => {
                log::warn!("refused a control connection from uid {} (pid {})", p.uid, p.pid);
                error(fail(ErrorKind::PermissionDenied, format!("uid {} may not control this daemon", p.uid)))
            }
            Err(e) => error(fail(ErrorKind::PermissionDenied, format!("cannot check the peer's credentials: {e}"))),
        };
        answer(stream, &response);
    }

    fn read_and_answer(&self, stream: &UnixStream) -> Response {
        let line = match read_request(stream, REQUEST_DEADLINE) {
            Ok(line) => line,
            Err(why) => return error(fail(ErrorKind::BadRequest, why)),
        };
        match serde_json::from_slice::<Request>(&line) {
            Ok(req) => match self.dispatch(req) {
                Ok(result) => Response::Ok { result },
                Err(e) => error(e),
            },
            Err(e) => error(fail(ErrorKind::BadRequest, format!("malformed request: {e}"))),
        }
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.state()
    }

    fn dispatch(&self, req: Request) -> Result<Reply, DirectorError> {
        Ok(match req {
            Request::Status => Reply::Status(self.status()),
            Request::Load { target } => Reply::Loaded(self.core.load(&target)?),
            Request::Refresh => Reply::Refreshed { groups: self.core.refresh() },
            Request::Unload { hash, timeout_ms } => {
                Reply::Unloaded(self.core.unload_within(&hash, crate::daemon::unloading::drain_limit(timeout_ms)?)?)
            }
            Request::List => Reply::List { groups: self.core.list() },
            Request::Members => Reply::Members { members: self.members()? },
            Request::Ask(send) => Reply::Answer { reply: self.core.ask(&send)?.to_json() },
            Request::Tell(send) => {
                self.core.tell(&send)?;
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

    fn members(&self) -> Result<Vec<crate::convention::members::MemberListing>, DirectorError> {
        let Some((_, link)) = &self.convention else {
            return Err(fail(
                ErrorKind::NotFound,
                "this daemon is in no convention (its directory has no convention.cfg)",
            ));
        };
        crate::convention::members::members(link).map_err(|e| fail(ErrorKind::Failed, e.to_string()))
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
            workers: core.running_workers(),
            convention: self.convention.as_ref().map(|(member, link)| {
                let state = if link.is_connected() { "connected" } else { "not connected, reconnecting" };
                format!("{} as member {member:?} via {} ({state})", link.name(), link.url())
            }),
            dead_letters: self.system.dead_letters(),
            quarantined: core.quarantined(),
            startup_failures: core.startup_failures.clone(),
        }
    }
}

/// Reads one request line, whole, within `deadline` (however slowly the
/// bytes trickle in) and at most [`MAX_REQUEST`] bytes.
fn read_request(mut stream: &UnixStream, deadline: Duration) -> Result<Vec<u8>, String> {
    let end = Instant::now() + deadline;
    let mut line = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("the request did not arrive within {deadline:?}"));
        }
        stream.set_read_timeout(Some(left)).map_err(|e| format!("cannot read the request: {e}"))?;
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err("the connection closed before a whole request arrived".into()),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(format!("the request did not arrive within {deadline:?}"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read the request: {e}")),
        };
        let chunk = &buf[..n];
        if let Some(nl) = chunk.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&chunk[..nl]);
            return Ok(line);
        }
        line.extend_from_slice(chunk);
        if line.len() > MAX_REQUEST {
            return Err(format!("the request is larger than {MAX_REQUEST} bytes"));
        }
    }
}

/// Writes one response line; a client that went away is not an error.
fn answer(mut stream: UnixStream, response: &Response) {
    let mut line = serde_json::to_vec(response).unwrap_or_default();
    line.push(b'\n');
    let _ = stream.write_all(&line);
}

fn error(e: DirectorError) -> Response {
    Response::Error { kind: e.kind, message: e.message }
}
