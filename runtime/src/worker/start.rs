//! The starting side: a worker process per isolated version, its hello and
//! load handshake, actor creation in it, and stopping it.
//!
//! One request is outstanding at a time (the `answers` lock is held from
//! request to answer), so answers need no ids. A worker that does not
//! answer within the timeout, or answers out of turn, is killed: a late
//! answer must never be taken for the next request's.
//!
//! A reaper thread owns the child process (see `exit.rs`). Kills go
//! through a pidfd, so they can never hit a process that reused the pid.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use actor_abi::Address;

use crate::error::{CreateActorError, LoadError};
use crate::native::os::PidFd;
use crate::native::shared_memory::SharedRegion;
use crate::package::{PackageInfo, VerifiedPackage};
use crate::remote::ring::{self, Side};
use crate::remote::stream::{Channel, Connection};
use crate::remote::{Control, LoadRequest};
use crate::worker::exit::{ExitWatch, WorkerExit, start_reaper};
use crate::worker::program::{WorkerProgram, WorkerTransport};
use crate::worker::{LOG_LEVEL_ENV, NODE_ENV, RING_ENV, ROOT_ENV};
use crate::{ActorSystem, CreateOptions};

/// How long a stopping worker has, after its drain, to shut down, send
/// its last frames and exit before it is killed.
pub const STOP_MARGIN: Duration = Duration::from_secs(5);

/// A package version loaded in a worker process of its own. Dropping it
/// kills the worker (no process is ever left behind).
pub struct IsolatedVersion {
    info: PackageInfo,
    node: u32,
    pid: u32,
    pidfd: Arc<PidFd>,
    exit: Arc<ExitWatch>,
    reaper: Option<JoinHandle<()>>,
    conn: Option<Connection>,
    answers: Mutex<Receiver<Control>>,
    timeout: Duration,
    /// The version's directories (as handed over to the worker, and where
    /// the worker moved it); removed here once the worker has ended, since a
    /// killed worker cannot remove them.
    dirs: Vec<PathBuf>,
}

/// Starts a worker for `pkg` and loads it there (see [`IsolatedVersion::start`]).
fn start(
    system: &ActorSystem,
    pkg: VerifiedPackage,
    program: &WorkerProgram,
    timeout: Duration,
) -> Result<IsolatedVersion, LoadError> {
    let VerifiedPackage { group, version, hash, files, actors } = pkg;
    let fail = |reason: String| LoadError::Worker { group: group.clone(), reason };
    let (staging, library, sha256) = files.stage_with_hash(system.extract_root())?;
    let node = system.new_node();
    let name = format!("thespian-worker {group} {version}");
    let (child, link) = spawn(program, &name, node, system.extract_root()).map_err(|e| fail(e.to_string()))?;
    let pid = child.id();
    let pidfd = PidFd::open(pid).map(Arc::new);
    let exit = Arc::new(ExitWatch::default());
    let reaper = link.socket().try_clone().and_then(|s| start_reaper(child, s, exit.clone()));
    let (pidfd, reaper) = match (pidfd, reaper) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(e), _) | (_, Err(e)) => return Err(fail(format!("watching worker {pid}: {e}"))),
    };
    let (tx, answers) = channel();
    let killer = pidfd.clone();
    let kill = Box::new(move |v: &crate::remote::Violation| {
        log::warn!("killing worker {pid}: {v}");
        killer.kill();
    });
    let conn = system.connect_worker(node, link, tx, kill).map_err(|e| fail(e.to_string()))?;
    let mut worker = IsolatedVersion {
        info: PackageInfo {
            home: 0,
            group: group.clone(),
            version: version.clone(),
            hash: hash.clone(),
            classes: Vec::new(),
            library: PathBuf::new(),
            loaded_at: SystemTime::now(),
        },
        node,
        pid,
        pidfd,
        exit,
        reaper: Some(reaper),
        conn: Some(conn),
        answers: Mutex::new(answers),
        timeout,
        dirs: Vec::new(),
    };
    match worker.wait_answer() {
        Ok(Control::Hello { node: n, pid: p }) if n == node && p == pid => {}
        Ok(other) => return Err(fail(format!("expected hello from node {node} pid {pid}, got {other:?}"))),
        Err(why) => return Err(fail(why)),
    }
    let dir = staging.hand_over();
    worker.dirs.push(dir.clone());
    let load = Control::Load(LoadRequest {
        dir: dir.to_string_lossy().into_owned(),
        library,
        sha256,
        group: group.clone(),
        version,
        hash,
        actors,
    });
    let loaded = match worker.request(load) {
        Ok(Control::Loaded { home, library, classes }) => Ok((home, library, classes)),
        Ok(Control::Failed { reason }) => Err(reason),
        Ok(other) => Err(format!("answered a load with {other:?}")),
        Err(why) => Err(why),
    };
    match loaded {
        Ok((home, library, classes)) => {
            worker.info.home = home;
            let library = PathBuf::from(library);
            worker.dirs.extend(version_dir(&library, system.extract_root(), &worker.info.hash));
            worker.info.library = library;
            worker.info.classes = classes;
            Ok(worker)
        }
        // Dropping the worker kills it and removes the directory.
        Err(reason) => Err(fail(reason)),
    }
}

/// The directory the worker says it loaded `library` from, if it is one
/// a load of `hash` could have made (`root/HASH` or `root/HASH.N`): what a
/// worker says is never trusted with a path to remove.
fn version_dir(library: &Path, root: &Path, hash: &str) -> Option<PathBuf> {
    let dir = library.parent()?;
    let name = dir.file_name()?.to_str()?;
    let suffix = name.strip_prefix(hash)?;
    let ours = suffix.is_empty() || suffix.strip_prefix('.').is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    (ours && dir.parent() == Some(root) && !hash.is_empty()).then(|| dir.to_path_buf())
}

/// Starts `program` as the worker for `node`: its end of a socketpair as
/// its stdin, stdout and stderr into one pipe, `name` as its `argv[0]`
/// (what `ps` shows). For shared memory the region follows on the socket
/// (SCM_RIGHTS). Limits are applied with `prlimit` before it is asked to
/// load anything; the worker starts a session of its own.
///
/// No `pre_exec`: std then spawns with `posix_spawn` (a vfork), not a
/// fork, whose page-table copy costs ~17 ms in a starter with 200 MiB
/// resident on this machine kind (1 ms with 1 MiB).
fn spawn(program: &WorkerProgram, name: &str, node: u32, root: &Path) -> std::io::Result<(Child, Channel)> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (ours, theirs) = UnixStream::pair()?;
    let mut cmd = Command::new(&program.program);
    cmd.arg0(name)
        .args(&program.args)
        .env(NODE_ENV, node.to_string())
        .env(ROOT_ENV, root)
        .env(LOG_LEVEL_ENV, log::max_level().to_string())
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)));
    // stdout and stderr share one pipe, read into the starter's log.
    let (output, output_end) = std::io::pipe()?;
    cmd.stdout(output_end.try_clone()?).stderr(output_end);
    let mut region = match program.transport {
        WorkerTransport::SharedMemory => Some(SharedRegion::create(name, ring::REGION_BYTES)?),
        WorkerTransport::Socket => None,
    };
    if region.is_some() {
        cmd.env(RING_ENV, ring::REGION_BYTES.to_string());
    }
    let mut child = cmd.spawn()?;
    drop(cmd);
    let handed = program.limits.os_limits().apply_to(child.id()).and_then(|()| match region.as_mut() {
        Some(r) => r.take_fd().map_or(Ok(()), |fd| crate::native::os::send_fd(&ours, fd.as_raw_fd())),
        None => Ok(()),
    });
    if let Err(e) = handed {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    crate::worker::output::forward(output, child.id(), node)?;
    let channel = match region {
        Some(region) => Channel::Shared { socket: ours, region: Arc::new(region), side: Side::Starter },
        None => Channel::Socket(ours),
    };
    Ok((child, channel))
}

impl IsolatedVersion {
    /// Loads a verified package in a worker process of its own, started
    /// from `program`, connected to `system` as a new node: a crash in the
    /// package's code ends only that process. `timeout` bounds every answer
    /// the worker owes (its hello, the load, each actor creation).
    pub fn start(
        system: &ActorSystem,
        pkg: VerifiedPackage,
        program: &WorkerProgram,
        timeout: Duration,
    ) -> Result<IsolatedVersion, LoadError> {
        start(system, pkg, program, timeout)
    }

    /// The loaded version, as the worker reported it (`home` is its home
    /// in the worker; its actors' addresses carry [`IsolatedVersion::node`]).
    pub fn info(&self) -> &PackageInfo {
        &self.info
    }

    /// The worker's node number.
    pub fn node(&self) -> u32 {
        self.node
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The worker's exit status, if it has ended (it is reaped by then).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit.status()
    }

    /// The protocol violation the worker was dropped (and killed) for, if
    /// that is how it ended.
    pub fn violation(&self) -> Option<crate::remote::Violation> {
        self.conn.as_ref().and_then(Connection::violation)
    }

    /// Waits up to `limit` for the worker to end; its status if it did.
    pub fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        self.exit.wait(limit)
    }

    /// Runs `f` with the exit status once the worker ends, on the thread
    /// that noticed (at once, on this thread, if it has ended already).
    /// The asks waiting on its actors have failed by then.
    pub fn on_exit(&self, f: impl FnOnce(ExitStatus) + Send + 'static) {
        self.exit.on_exit(Box::new(f));
    }

    /// Creates an actor of `class` in the worker.
    pub fn create_actor(&self, class: &str) -> Result<Address, CreateActorError> {
        self.create_actor_with(class, CreateOptions::default())
    }

    /// Creates an actor of `class` in the worker, with a global name (in
    /// the worker's system) and a parent (typically an actor of the starting
    /// system, which gets `ChildActorExited` across the socket).
    pub fn create_actor_with(&self, class: &str, options: CreateOptions) -> Result<Address, CreateActorError> {
        let fail = |reason: String| CreateActorError::Worker { hash: self.info.hash.clone(), reason };
        let request = Control::Create {
            class: class.to_string(),
            global_name: options.global_name,
            parent: options.parent.unwrap_or(Address::NOBODY),
        };
        match self.request(request).map_err(fail)? {
            Control::Created { addr } if addr.node() == self.node => Ok(addr),
            Control::Failed { reason } => Err(fail(reason)),
            other => {
                self.kill();
                Err(fail(format!("answered a create with {other:?}; the worker was killed")))
            }
        }
    }

    /// Asks the worker to unload and exit, its actors answering what they
    /// hold for up to `drain` (see [`IsolatedVersion::stop_draining`]).
    pub fn stop(self, drain: Duration) -> WorkerExit {
        self.stop_draining(drain).0
    }

    /// Asks the worker to unload and exit: its actors get their exit
    /// requests behind the messages they hold and up to `drain` to answer
    /// them (the answers reach this system before the worker's last
    /// frame). Kills it if it has not exited `STOP_MARGIN` (5 s) after that.
    /// Either way it is reaped and its connection closed. Returns how it
    /// ended and how many messages it reported dropped when its drain ran
    /// out (0 if it died or was killed without reporting: its lost asks
    /// fail as their node is lost).
    pub fn stop_draining(mut self, drain: Duration) -> (WorkerExit, u64) {
        if let Some(conn) = &self.conn {
            let drain_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX);
            let _ = conn.send_control(Control::Stop { drain_ms });
        }
        let limit = drain.saturating_add(STOP_MARGIN);
        let exit = match self.exit.wait(limit) {
            Some(status) => WorkerExit::Exited(status),
            None => {
                self.kill();
                WorkerExit::Killed { after: limit }
            }
        };
        let undelivered = self.reported_undelivered();
        self.finish();
        (exit, undelivered)
    }

    /// The count in the worker's `Stopped` frame, if it sent one. Called
    /// once the worker has ended: its reader then reaches the end of the
    /// stream soon, after handing over the last frames.
    fn reported_undelivered(&self) -> u64 {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        while let Ok(answer) = answers.recv_timeout(STOP_MARGIN) {
            if let Control::Stopped { undelivered } = answer {
                return undelivered;
            }
        }
        0
    }

    /// Sends `request` and waits for its answer; on a timeout the worker
    /// is killed (its answer could otherwise be taken for a later request's).
    fn request(&self, request: Control) -> Result<Control, String> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        let conn = self.conn.as_ref().ok_or("the worker is stopped")?;
        conn.send_control(request).map_err(|e| e.to_string())?;
        self.recv(&answers)
    }

    fn wait_answer(&self) -> Result<Control, String> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        self.recv(&answers)
    }

    fn recv(&self, answers: &Receiver<Control>) -> Result<Control, String> {
        match answers.recv_timeout(self.timeout) {
            Ok(answer) => Ok(answer),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(format!("no answer within {:?}; the worker was killed", self.timeout))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let violation = self.conn.as_ref().and_then(Connection::violation);
                Err(match (violation, self.exit.wait(Duration::from_millis(100))) {
                    (Some(v), _) => format!("dropped: {v}"),
                    (None, Some(status)) => format!("the worker ended ({status})"),
                    (None, None) => "the worker closed its connection".to_string(),
                })
            }
        }
    }

    /// Kills the worker and waits until it is reaped.
    fn kill(&self) {
        self.pidfd.kill();
        // SIGKILL cannot be caught; the reaper records the exit at once.
        let _ = self.exit.wait(Duration::from_secs(30));
    }

    /// Closes the connection, joins the reaper and removes the version's
    /// directory if the worker left it (the worker has ended).
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
        if let Some(reaper) = self.reaper.take() {
            let _ = reaper.join();
        }
        for dir in self.dirs.drain(..).filter(|d| d.exists()) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

impl Drop for IsolatedVersion {
    fn drop(&mut self) {
        if self.exit_status().is_none() {
            self.kill();
        }
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::version_dir;
    use std::path::Path;

    #[test]
    fn only_a_directory_a_load_could_have_made_is_removed() {
        let root = Path::new("/run/d/.director-run");
        let ok = |lib: &str| version_dir(Path::new(lib), root, "ab12");
        assert_eq!(ok("/run/d/.director-run/ab12/libx.so"), Some(root.join("ab12")));
        assert_eq!(ok("/run/d/.director-run/ab12.3/libx.so"), Some(root.join("ab12.3")));
        for bad in [
            "/libx.so",
            "/run/d/libx.so",
            "/run/d/.director-run/ab12x/l.so",
            "/run/d/.director-run/ab12.x/l.so",
            "/run/d/.director-run/other/l.so",
            "/run/d/.director-run/ab12/sub/l.so",
            "/run/d/.director-run/../ab12/l.so",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }
}
