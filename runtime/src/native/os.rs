//! The few facts about this process the runtime asks the OS for.

/// This process's effective user id.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Resource limits for a child process (`prlimit`, soft = hard).
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

    /// Applies the limits to the running process `pid` (`prlimit`, soft =
    /// hard): a worker gets them right after it is spawned, before it is
    /// asked to load anything, so no package code runs without them.
    pub(crate) fn apply_to(&self, pid: u32) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
        for (resource, value) in &self.0 {
            let lim = libc::rlimit { rlim_cur: *value as libc::rlim_t, rlim_max: *value as libc::rlim_t };
            // SAFETY: `lim` is a live rlimit read by the call; the old
            // limit is not asked for (null).
            if unsafe { libc::prlimit(pid, *resource, &lim, std::ptr::null_mut()) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Starts a session of this process's own: no controlling terminal (a
/// worker does this first; it is never a process group leader then).
pub(crate) fn new_session() -> std::io::Result<()> {
    // SAFETY: setsid takes no arguments and touches no memory.
    if unsafe { libc::setsid() } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// What `fstat` says of descriptor `fd`.
pub(crate) fn fstat(fd: RawFd) -> std::io::Result<libc::stat> {
    // SAFETY: `st` is a plain struct that fstat fills; fstat has no other
    // effect, and a bad descriptor makes it fail.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// Takes the stream socket the starting process left as this process's
/// stdin, moves it to a descriptor of its own (close-on-exec) and puts
/// `/dev/null` on stdin, so that nothing reading stdin can take the
/// protocol's bytes. Refused unless stdin is a socket.
pub(crate) fn socket_from_stdin() -> std::io::Result<UnixStream> {
    if fstat(0)?.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(std::io::Error::other("stdin is not a socket"));
    }
    // SAFETY: duplicates descriptor 0 (open, checked above) to a new one.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just made for us alone; this is its only owner.
    let socket = unsafe { UnixStream::from_raw_fd(fd) };
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: dup2 of an open descriptor onto 0; `null` closes its own copy.
    if unsafe { libc::dup2(null.as_raw_fd(), 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(socket)
}

/// The byte that comes with a descriptor sent by [`send_fd`].
const FD_MARK: u8 = b'F';

/// Room for a control message with one descriptor.
fn fd_space() -> usize {
    // SAFETY: CMSG_SPACE is a pure size computation.
    unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize }
}

/// A message header of one buffer (`iov`) and room for control data
/// (`control`). It holds raw pointers to both: the caller keeps them alive
/// (and unmoved) until the sendmsg or recvmsg that uses it returns.
fn fd_message(iov: &mut libc::iovec, control: &mut [u8]) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    msg
}

/// Sends `fd` over `stream` (SCM_RIGHTS, with one marker byte).
pub(crate) fn send_fd(stream: &UnixStream, fd: RawFd) -> std::io::Result<()> {
    let mut byte = [FD_MARK];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut control = vec![0u8; fd_space()];
    let msg = fd_message(&mut iov, &mut control);
    // SAFETY: `control` has room for one header with one descriptor
    // (CMSG_SPACE), so CMSG_FIRSTHDR is non-null and CMSG_DATA holds a
    // RawFd; the writes stay inside `control`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    // SAFETY: `msg` points into `iov`, `byte` and `control`, live until
    // after the call; the socket is open.
    if unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) } != 1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one descriptor sent by [`send_fd`] (blocking). Refused if the
/// message is not exactly the marker byte with one descriptor.
pub(crate) fn recv_fd(stream: &UnixStream) -> std::io::Result<std::os::fd::OwnedFd> {
    let mut byte = [0u8];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut control = vec![0u8; fd_space()];
    let mut msg = fd_message(&mut iov, &mut control);
    // SAFETY: `msg` describes buffers that live through the call;
    // MSG_CMSG_CLOEXEC makes a received descriptor close-on-exec.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel filled `msg.msg_control` up to `msg_controllen`;
    // CMSG_FIRSTHDR returns null when there is no header, checked below.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if n != 1 || byte[0] != FD_MARK || cmsg.is_null() {
        return Err(std::io::Error::other("expected one descriptor from the starter"));
    }
    // SAFETY: `cmsg` points to a header inside `control` (non-null above).
    let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
    if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
        return Err(std::io::Error::other("expected a descriptor (SCM_RIGHTS) from the starter"));
    }
    // SAFETY: an SCM_RIGHTS header carries at least one RawFd in its data.
    let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>()) };
    // SAFETY: the kernel installed `fd` in this process for this message;
    // this is its only owner.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
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
