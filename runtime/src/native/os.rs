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

/// Makes `cmd`'s child find `stream` at descriptor `target` (with
/// close-on-exec cleared) and start a session of its own (no controlling
/// terminal). `stream` must stay open until the child is spawned.
pub(crate) fn pass_stream(cmd: &mut Command, stream: &UnixStream, target: RawFd) {
    let fd = stream.as_raw_fd();
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls async-signal-safe functions (dup2, fcntl, setsid) on descriptors
    // the parent owns and keeps open until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if fd == target {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, target) < 0 {
                return Err(std::io::Error::last_os_error());
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
