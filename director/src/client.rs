//! `DirectorControl`: the client API of the daemon, one method per command.
//! The `thespian-director` CLI is a thin printer over it.
//!
//! Before it sends a byte, the client checks who serves the socket
//! (`SO_PEERCRED`): only its own user or root. Every call is bounded: the
//! connect, and the wait for the reply ([`DirectorControl::with_timeout`]),
//! so a stopped daemon is reported with its pid instead of hanging.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::paths::DaemonPaths;
use crate::protocol::{ErrorKind, GroupListing, Loaded, RefreshItem, Reply, Request, Response, Send, Status, Unloaded};
use crate::sys;

/// How long `start` waits for a new daemon to answer (it loads what it
/// starts with first, which may take a while).
const START_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one probe of a starting daemon waits.
const START_PROBE: Duration = Duration::from_millis(250);
/// How long `shutdown` waits for the daemon to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a quick request (status, list, tell...) waits for its reply by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long load, refresh and unload wait: verifying large packages and
/// delivering lifecycle messages (up to 10 s each) takes a while.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How often `status` looks again after a connection dropped unanswered.
const DROPPED_RETRIES: u32 = 5;
/// What an ask waits beyond its own timeout.
const ASK_MARGIN: Duration = Duration::from_secs(30);
/// Largest reply read.
const MAX_REPLY: u64 = 256 << 20;
/// The environment variable that overrides [`DEFAULT_TIMEOUT`] (seconds).
pub const TIMEOUT_VAR: &str = "THESPIAN_DIRECTOR_TIMEOUT";

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No daemon is running for the directory.
    #[error("no daemon is running for {0} (start it with `thespian-director start`)")]
    NotRunning(PathBuf),
    /// The daemon refused or failed the request.
    #[error("{message}")]
    Daemon {
        /// The kind of failure.
        kind: ErrorKind,
        /// The daemon's message.
        message: String,
    },
    /// Talking to the daemon failed.
    #[error("talking to the daemon at {socket}: {reason}")]
    Io {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The socket is served by another user: nothing was sent to it.
    #[error(
        "refusing to talk to {socket}: it is served by uid {uid} (pid {pid}), not by this user or root; \
         someone may have replaced the control socket. Nothing was sent"
    )]
    Impostor {
        /// The socket.
        socket: PathBuf,
        /// The server's user id.
        uid: u32,
        /// The server's pid.
        pid: u32,
    },
    /// The connection was closed without an answer (the daemon may be exiting).
    #[error("the daemon (pid {pid}) closed the connection on {socket} without answering; is it exiting? see its log")]
    Dropped {
        /// The socket.
        socket: PathBuf,
        /// The pid that held the socket.
        pid: u32,
    },
    /// The daemon accepted the connection but did not answer in time.
    #[error(
        "the daemon (pid {pid}) is not answering on {socket}: no reply within {after:?} \
         (stopped, or stuck?); check it with `ps -o stat,pid {pid}` and its log"
    )]
    NotAnswering {
        /// The socket.
        socket: PathBuf,
        /// The daemon's pid.
        pid: u32,
        /// How long we waited.
        after: Duration,
    },
    /// The daemon could not be started.
    #[error("could not start the daemon: {0}")]
    Start(String),
    /// The daemon answered with a reply of the wrong kind.
    #[error("unexpected reply from the daemon: {0}")]
    Unexpected(String),
}

/// Where and how long for [`DirectorControl::ask`] and [`DirectorControl::tell`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Only look for the role in this group.
    pub group: Option<String>,
    /// Use this loaded version (hash or prefix) instead of the active one.
    pub source: Option<String>,
    /// How long an ask waits (default 5 s).
    pub timeout: Option<Duration>,
}

/// What `start` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The daemon's pid.
    pub pid: u32,
    /// True if it was running already (and was left alone).
    pub already_running: bool,
    /// What a new daemon could not load as it started (empty when it was running already).
    pub startup_failures: Vec<RefreshItem>,
    /// Groups a new daemon skipped because a daemon died loading them.
    pub quarantined: Vec<String>,
}

/// Controls the daemon of one director directory.
#[derive(Debug, Clone)]
pub struct DirectorControl {
    paths: DaemonPaths,
    binary: Option<PathBuf>,
    timeout: Duration,
}

impl DirectorControl {
    /// A controller for the daemon of `dir`.
    pub fn new(dir: &Path) -> DirectorControl {
        DirectorControl { paths: DaemonPaths::for_dir(dir), binary: None, timeout: default_timeout() }
    }

    /// Waits at most `timeout` for the reply to a quick request (status,
    /// list, tell, ...); load, refresh and unload wait longer, an ask its own
    /// timeout plus a margin. The default is [`DEFAULT_TIMEOUT`], or
    /// `$THESPIAN_DIRECTOR_TIMEOUT` seconds.
    pub fn with_timeout(mut self, timeout: Duration) -> DirectorControl {
        self.timeout = timeout;
        self
    }

    /// A controller for `$THESPIAN_DIRECTOR_DIR` (or the default directory).
    pub fn from_env() -> DirectorControl {
        DirectorControl::new(&crate::dir::director_dir())
    }

    /// Uses `binary` (a `thespian-director`) to start the daemon.
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> DirectorControl {
        self.binary = Some(binary.into());
        self
    }

    /// The daemon's files.
    pub fn paths(&self) -> &DaemonPaths {
        &self.paths
    }

    /// How long `req` may wait for its reply.
    fn reply_timeout(&self, req: &Request) -> Duration {
        match req {
            Request::Load { .. } | Request::Refresh => LIFECYCLE_TIMEOUT.max(self.timeout),
            // A long drain, and then the rest of the unload.
            Request::Unload { timeout_ms, .. } => {
                let drain = Duration::from_millis(timeout_ms.unwrap_or(0));
                drain.saturating_add(LIFECYCLE_TIMEOUT).max(self.timeout)
            }
            Request::Ask(send) => Duration::from_millis(send.timeout_ms).saturating_add(ASK_MARGIN).max(self.timeout),
            _ => self.timeout,
        }
    }

    fn request(&self, req: &Request) -> Result<Reply, ControlError> {
        let socket = &self.paths.socket;
        let io = |e: std::io::Error| ControlError::Io { socket: socket.clone(), reason: e.to_string() };
        let stream = match sys::connect(socket, CONNECT_TIMEOUT) {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
                return Err(ControlError::NotRunning(self.paths.dir.clone()));
            }
            Err(e) => return Err(io(e)),
        };
        let server = sys::peer(&stream).map_err(io)?;
        if !sys::trusted_uid(server.uid) {
            return Err(ControlError::Impostor { socket: socket.clone(), uid: server.uid, pid: server.pid });
        }
        let wait = self.reply_timeout(req);
        let not_answering = || ControlError::NotAnswering { socket: socket.clone(), pid: server.pid, after: wait };
        stream.set_write_timeout(Some(wait)).map_err(io)?;
        stream.set_read_timeout(Some(wait)).map_err(io)?;
        let mut line = serde_json::to_vec(req).map_err(|e| ControlError::Unexpected(e.to_string()))?;
        line.push(b'\n');
        // A daemon that refuses the connection answers without reading the
        // request, so the write may fail while its answer is already there.
        let written = sys::send_all(&stream, &line);
        let mut answer = String::new();
        let read = BufReader::new((&stream).take(MAX_REPLY)).read_line(&mut answer);
        let timed_out =
            |e: &std::io::Error| matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut);
        if answer.is_empty() || !answer.ends_with('\n') {
            if read.as_ref().err().is_some_and(timed_out) || written.as_ref().err().is_some_and(timed_out) {
                return Err(not_answering());
            }
            let e = written.err().or(read.err());
            let reset = |e: &std::io::Error| {
                matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
            };
            if e.as_ref().is_none_or(reset) {
                return Err(ControlError::Dropped { socket: socket.clone(), pid: server.pid });
            }
            return Err(e.map_or_else(|| io(std::io::Error::other("the daemon closed the connection")), io));
        }
        match serde_json::from_str::<Response>(&answer) {
            Ok(Response::Ok { result }) => Ok(result),
            Ok(Response::Error { kind, message }) => Err(ControlError::Daemon { kind, message }),
            Err(e) => Err(ControlError::Unexpected(format!("{e}: {answer:?}"))),
        }
    }

    /// The daemon's status, or `None` when none is running.
    pub fn status(&self) -> Result<Option<Status>, ControlError> {
        // A daemon killed a moment ago may still hold its socket while its
        // last threads exit: the connection is then dropped unanswered. Look
        // again before calling that an error.
        let mut attempts = 0;
        loop {
            return match self.request(&Request::Status) {
                Ok(Reply::Status(s)) => Ok(Some(s)),
                Ok(other) => Err(ControlError::Unexpected(format!("{other:?}"))),
                Err(ControlError::NotRunning(_)) => Ok(None),
                Err(ControlError::Dropped { .. }) if attempts < DROPPED_RETRIES => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => Err(e),
            };
        }
    }

    /// Starts the daemon in the background (it then refreshes), unless one
    /// is running already.
    pub fn start(&self) -> Result<Started, ControlError> {
        if let Some(s) = self.status()? {
            return Ok(Started { pid: s.pid, already_running: true, startup_failures: vec![], quarantined: vec![] });
        }
        let binary = match &self.binary {
            Some(b) => b.clone(),
            None => std::env::current_exe().map_err(|e| ControlError::Start(e.to_string()))?,
        };
        self.paths.ensure_socket_dir().map_err(ControlError::Start)?;
        let log = open_daemon_log(&self.paths.log).map_err(ControlError::Start)?;
        let log_start = log.metadata().map_or(0, |m| m.len());
        let log2 = log.try_clone().map_err(|e| ControlError::Start(e.to_string()))?;
        let mut child = Command::new(&binary)
            .args(["start", "--foreground"])
            .env(crate::dir::DIR_VAR, &self.paths.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(|e| ControlError::Start(format!("{}: {e}", binary.display())))?;
        let deadline = Instant::now() + START_TIMEOUT;
        // The daemon binds its socket, loads what it starts with, then
        // answers: short probes, and between them a look at whether it died.
        let probe = self.clone().with_timeout(START_PROBE);
        loop {
            let answer = probe.status();
            if let Ok(Some(s)) = answer {
                // Reap the daemon whenever it exits, so it never lingers as a zombie of ours.
                std::thread::spawn(move || child.wait());
                return Ok(Started {
                    pid: s.pid,
                    already_running: false,
                    startup_failures: s.startup_failures,
                    quarantined: s.quarantined,
                });
            }
            if let Ok(Some(code)) = child.try_wait() {
                return Err(ControlError::Start(format!(
                    "the daemon exited during start-up ({code}); see {}{}",
                    self.paths.log.display(),
                    log_tail(&self.paths.log, log_start)
                )));
            }
            match answer {
                Ok(_)
                | Err(ControlError::NotAnswering { .. } | ControlError::Io { .. } | ControlError::Dropped { .. }) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > deadline {
                return Err(ControlError::Start(format!(
                    "no answer within {START_TIMEOUT:?}; see {}",
                    self.paths.log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Loads a group's newest package, or exactly one `.tls` file; starts
    /// the daemon first if needed.
    pub fn load(&self, target: &str) -> Result<Loaded, ControlError> {
        self.start()?;
        let path = Path::new(target);
        let target = if target.ends_with(".tls") && path.is_relative() && path.exists() {
            std::path::absolute(path).map(|p| p.display().to_string()).unwrap_or_else(|_| target.to_string())
        } else {
            target.to_string()
        };
        match self.request(&Request::Load { target })? {
            Reply::Loaded(l) => Ok(l),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Loads the newest package of every group with a `.tli`; starts the daemon if needed.
    pub fn refresh(&self) -> Result<Vec<RefreshItem>, ControlError> {
        self.start()?;
        match self.request(&Request::Refresh)? {
            Reply::Refreshed { groups } => Ok(groups),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Unloads the version with this hash (or unique prefix); its actors
    /// get the daemon's default drain (10 s) to answer what they hold.
    pub fn unload(&self, hash: &str) -> Result<Unloaded, ControlError> {
        self.unload_within(hash, None)
    }

    /// [`DirectorControl::unload`] with a drain limit of its own (1 ms to
    /// an hour): what the actors still hold when it runs out is dropped and
    /// counted in [`Unloaded::undelivered`].
    pub fn unload_within(&self, hash: &str, drain: Option<Duration>) -> Result<Unloaded, ControlError> {
        let timeout_ms = drain.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        match self.request(&Request::Unload { hash: hash.to_string(), timeout_ms })? {
            Reply::Unloaded(u) => Ok(u),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Every loaded version and its actors.
    pub fn list(&self) -> Result<Vec<GroupListing>, ControlError> {
        match self.request(&Request::List)? {
            Reply::List { groups } => Ok(groups),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The convention's members (an error if the daemon is in none).
    pub fn members(&self) -> Result<Vec<crate::convention::members::MemberListing>, ControlError> {
        match self.request(&Request::Members)? {
            Reply::Members { members } => Ok(members),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    fn send(target: &str, message: serde_json::Value, o: &SendOptions) -> Send {
        let timeout_ms = o.timeout.unwrap_or(Duration::from_secs(5)).as_millis();
        Send {
            target: target.to_string(),
            group: o.group.clone(),
            source: o.source.clone(),
            message,
            timeout_ms: u64::try_from(timeout_ms).unwrap_or(u64::MAX),
        }
    }

    /// Sends `message` to a role or global name and returns the reply.
    pub fn ask(
        &self,
        target: &str,
        message: serde_json::Value,
        o: &SendOptions,
    ) -> Result<serde_json::Value, ControlError> {
        match self.request(&Request::Ask(Self::send(target, message, o)))? {
            Reply::Answer { reply } => Ok(reply),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends `message` to a role or global name.
    pub fn tell(&self, target: &str, message: serde_json::Value, o: &SendOptions) -> Result<(), ControlError> {
        match self.request(&Request::Tell(Self::send(target, message, o)))? {
            Reply::Told => Ok(()),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The address of `role` in the active version of `group` (or of the
    /// one group that has the role).
    pub fn get_role_address(&self, role: &str, group: Option<&str>) -> Result<Option<String>, ControlError> {
        let req = Request::RoleAddress { role: role.to_string(), group: group.map(str::to_string) };
        match self.request(&req)? {
            Reply::Address { address } => Ok(address),
            other => Err(ControlError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Stops every actor, unloads everything and waits for the daemon to
    /// exit. Returns false if none was running (not an error).
    pub fn shutdown(&self) -> Result<bool, ControlError> {
        let pid = match self.status()? {
            Some(s) => s.pid,
            None => return Ok(false),
        };
        match self.request(&Request::Shutdown) {
            Ok(_) | Err(ControlError::NotRunning(_)) => {}
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while process_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if process_alive(pid) {
            return Err(ControlError::Start(format!("daemon {pid} did not exit within {STOP_TIMEOUT:?}")));
        }
        Ok(true)
    }
}

/// The last lines the daemon wrote to `log` after offset `from`, indented,
/// for an error message.
fn log_tail(log: &Path, from: u64) -> String {
    use std::io::Seek;
    let Ok(mut f) = std::fs::File::open(log) else { return String::new() };
    let mut text = String::new();
    if f.seek(std::io::SeekFrom::Start(from)).is_err() || f.take(64 << 10).read_to_string(&mut text).is_err() {
        return String::new();
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(10)..];
    tail.iter().map(|l| format!("\n  {l}")).collect()
}

/// The timeout of quick requests: `$THESPIAN_DIRECTOR_TIMEOUT` seconds, else [`DEFAULT_TIMEOUT`].
fn default_timeout() -> Duration {
    std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Opens the background daemon's output file for appending, never through
/// a symlink (`O_NOFOLLOW`), and only if it is a regular file of ours.
fn open_daemon_log(path: &Path) -> Result<std::fs::File, String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => {
                format!("{} is a symbolic link; refusing to write through it (remove it)", path.display())
            }
            _ => format!("{}: {e}", path.display()),
        })?;
    let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() || !sys::trusted_uid(meta.uid()) {
        return Err(format!(
            "{} is not a regular file of this user (uid {}, mode {:04o}); refusing to write to it (remove it)",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    Ok(file)
}

/// True while `pid` exists and is not a zombie.
///
/// A zombie thread-group leader whose other threads are still exiting
/// counts as alive: they may still hold its files (the control socket).
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    if stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z") {
        return true;
    }
    std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| tasks.count() > 1)
}
