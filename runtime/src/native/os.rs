//! The few facts about this process the runtime asks the OS for.

/// This process's effective user id.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Resource limits for a child process (`setrlimit`, soft = hard).
#[derive(Debug, Clone, Default)]
pub(crate) struct Limits(Vec<(Resource, u64)>);

impl Limits {
    /// Address space, in MiB.
    pub(crate) fn memory_mib(mut self, mib: u64) -> Self {
        self.0.push((libc::RLIMIT_AS, mib.saturating_mul(1 << 20)));
        self
    }

    /// CPU time, in seconds.
    pub(crate) fn cpu_seconds(mut self, secs: u64) -> Self {
        self.0.push((libc::RLIMIT_CPU, secs));
        self
    }

    /// Open file descriptors.
    pub(crate) fn open_files(mut self, n: u64) -> Self {
        self.0.push((libc::RLIMIT_NOFILE, n));
        self
    }
}

/// Makes `cmd`'s child find each descriptor of `fds` at its target number
/// (with close-on-exec cleared), start a session of its own (no
/// controlling terminal) and run under `limits`. The descriptors must stay
/// open until the child is spawned.
pub(crate) fn prepare_child(cmd: &mut Command, fds: &[(RawFd, RawFd)], limits: &Limits) {
    let fds = fds.to_vec();
    let limits = limits.0.clone();
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls async-signal-safe functions (fcntl, dup2, close, setsid,
    // setrlimit) on descriptors the parent owns and keeps open until spawn
    // returns, and on `fds` and `limits`, which were allocated before the
    // fork (nothing is allocated after it).
    unsafe {
        cmd.pre_exec(move || {
            for (resource, value) in &limits {
                let lim = libc::rlimit { rlim_cur: *value as libc::rlim_t, rlim_max: *value as libc::rlim_t };
                if libc::setrlimit(*resource, &lim) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Move every source above the targets first, so that no dup2
            // overwrites a source still to be placed.
            let mut moved = [0 as RawFd; 8];
            if fds.len() > moved.len() {
                return Err(std::io::ErrorKind::InvalidInput.into());
            }
            for (i, (fd, _)) in fds.iter().enumerate() {
                moved[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 64);
                if moved[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, (_, target)) in fds.iter().enumerate() {
                // dup2 clears close-on-exec on the target.
                if libc::dup2(moved[i], *target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(moved[i]);
            }
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Takes the stream socket the starting process left at descriptor `fd`.
/// Refused unless `fd` is open and a socket.
pub(crate) fn inherited_stream(fd: RawFd) -> std::io::Result<UnixStream> {
    // SAFETY: `st` is a plain struct that fstat fills; fstat has no other effect.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; a bad descriptor makes fstat fail, nothing else.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(std::io::Error::other(format!("descriptor {fd} is not a socket")));
    }
    // SAFETY: `fd` is an open socket that the starter handed to this process
    // for it alone; this is the only place that takes ownership of it.
    Ok(unsafe { UnixStream::from_raw_fd(fd) })
}

/// A handle on one child process that stays right after the child is
/// reaped: signals sent through it can never reach a process that reused
/// the pid.
#[derive(Debug)]
pub(crate) struct PidFd(std::os::fd::OwnedFd);

impl PidFd {
    /// Opens a handle on the child `pid` (Linux 5.3 and later).
    pub(crate) fn open(pid: u32) -> std::io::Result<PidFd> {
        let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor or -1; no memory is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = RawFd::try_from(fd).map_err(std::io::Error::other)?;
        // SAFETY: `fd` is a descriptor the kernel just opened for us alone.
        Ok(PidFd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends SIGKILL; a process that has already ended is left alone.
    pub(crate) fn kill(&self) {
        // SAFETY: the descriptor is open for the life of `self`; no siginfo
        // is passed (null), flags are 0.
        let _ = unsafe {
            libc::syscall(libc::SYS_pidfd_send_signal, self.0.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0)
        };
    }
}

/// Waits up to `timeout_ms` (-1: no limit) until a read of `stream` would
/// not block (data, its end, or an error); true if so.
fn poll_in(stream: &UnixStream, timeout_ms: i32) -> std::io::Result<bool> {
    let mut fds = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    loop {
        // SAFETY: `fds` is one live pollfd, and the count passed is 1; the
        // descriptor is open for the life of `stream`.
        let n = unsafe { libc::poll(&mut fds, 1, timeout_ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// True if a read of `stream` would not block now (an error counts: the
/// read then reports it).
pub(crate) fn readable_now(stream: &UnixStream) -> bool {
    poll_in(stream, 0).unwrap_or(true)
}

/// True if the socket's peer has closed its end (or this end was shut
/// down): nothing written will be read.
pub(crate) fn hung_up(stream: &UnixStream) -> bool {
    let mut fds = libc::pollfd { fd: stream.as_raw_fd(), events: 0, revents: 0 };
    // SAFETY: `fds` is one live pollfd, the count is 1, no waiting; the
    // descriptor is open for the life of `stream`.
    let n = unsafe { libc::poll(&mut fds, 1, 0) };
    n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

/// Blocks until a read of `stream` would not block.
pub(crate) fn wait_readable(stream: &UnixStream) -> std::io::Result<()> {
    poll_in(stream, -1).map(drop)
}

/// Reads what the socket holds now into `buf`, without waiting: `None` if
/// nothing is there yet, `Some(0)` at the end of the stream.
pub(crate) fn recv_nonblocking(stream: &UnixStream, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes; the
        // descriptor is open for the life of `stream`.
        let n = unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Ok(Some(n.unsigned_abs()));
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(None),
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}

/// Sends what the socket takes of `bytes` now, without waiting: how many
/// bytes went (0 if its buffer is full). Never raises SIGPIPE.
pub(crate) fn send_nonblocking(stream: &UnixStream, bytes: &[u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: `bytes` is a live slice of `bytes.len()` bytes; the
        // descriptor is open for the life of `stream`.
        let n = unsafe {
            libc::send(stream.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        };
        if n >= 0 {
            return Ok(n.unsigned_abs());
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(0),
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}
