//! `DirectorControl`: the client API of the daemon, one method per command.
//! The `thespian-director` CLI is a thin printer over it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::paths::DaemonPaths;
use crate::protocol::{ErrorKind, GroupListing, Loaded, RefreshItem, Reply, Request, Response, Send, Status, Unloaded};

/// How long `start` waits for a new daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `shutdown` waits for the daemon to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// The daemon's pid.
    pub pid: u32,
    /// True if it was running already (and was left alone).
    pub already_running: bool,
}

/// Controls the daemon of one director directory.
#[derive(Debug, Clone)]
pub struct DirectorControl {
    paths: DaemonPaths,
    binary: Option<PathBuf>,
}

impl DirectorControl {
    /// A controller for the daemon of `dir`.
    pub fn new(dir: &Path) -> DirectorControl {
        DirectorControl { paths: DaemonPaths::for_dir(dir), binary: None }
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

    fn request(&self, req: &Request) -> Result<Reply, ControlError> {
        let socket = &self.paths.socket;
        let io = |e: std::io::Error| ControlError::Io { socket: socket.clone(), reason: e.to_string() };
        let mut stream = match UnixStream::connect(socket) {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
                return Err(ControlError::NotRunning(self.paths.dir.clone()));
            }
            Err(e) => return Err(io(e)),
        };
        let mut line = serde_json::to_vec(req).map_err(|e| ControlError::Unexpected(e.to_string()))?;
        line.push(b'\n');
        // A daemon that refuses the connection answers without reading the
        // request, so the write may fail while its answer is already there.
        let written = stream.write_all(&line);
        let mut answer = String::new();
        let read = BufReader::new(&stream).read_line(&mut answer);
        if answer.is_empty() {
            let e = written.err().or(read.err());
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
        match self.request(&Request::Status) {
            Ok(Reply::Status(s)) => Ok(Some(s)),
            Ok(other) => Err(ControlError::Unexpected(format!("{other:?}"))),
            Err(ControlError::NotRunning(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts the daemon in the background (it then refreshes), unless one
    /// is running already.
    pub fn start(&self) -> Result<Started, ControlError> {
        if let Some(s) = self.status()? {
            return Ok(Started { pid: s.pid, already_running: true });
        }
        let binary = match &self.binary {
            Some(b) => b.clone(),
            None => std::env::current_exe().map_err(|e| ControlError::Start(e.to_string()))?,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.paths.log)
            .map_err(|e| ControlError::Start(format!("{}: {e}", self.paths.log.display())))?;
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
        loop {
            if let Some(s) = self.status()? {
                // Reap the daemon whenever it exits, so it never lingers as a zombie of ours.
                std::thread::spawn(move || child.wait());
                return Ok(Started { pid: s.pid, already_running: false });
            }
            if let Ok(Some(code)) = child.try_wait() {
                return Err(ControlError::Start(format!(
                    "the daemon exited ({code}); see {}",
                    self.paths.log.display()
                )));
            }
            if Instant::now() > deadline {
                return Err(ControlError::Start(format!(
                    "no answer within {START_TIMEOUT:?}; see {}",
                    self.paths.log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
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

    /// Unloads the version with this hash (or unique prefix).
    pub fn unload(&self, hash: &str) -> Result<Unloaded, ControlError> {
        match self.request(&Request::Unload { hash: hash.to_string() })? {
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

/// True while `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}
