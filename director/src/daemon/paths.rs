//! Where a daemon keeps its state for one director directory.

use std::path::{Path, PathBuf};

/// The daemon's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonPaths {
    /// The director directory.
    pub dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// The pid file.
    pub pid: PathBuf,
    /// Where package libraries are extracted (0700).
    pub run: PathBuf,
    /// The daemon's output when started in the background.
    pub log: PathBuf,
}

/// `sun_path` holds 108 bytes with the NUL; stay well inside it.
const MAX_SOCKET_PATH: usize = 100;

impl DaemonPaths {
    /// The paths for director directory `dir`. The socket goes in `dir`
    /// unless that path would be too long for a Unix socket; then it goes
    /// in a per-user directory under /tmp, named by a hash of `dir`.
    pub fn for_dir(dir: &Path) -> DaemonPaths {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut socket = dir.join(".director.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            let hash = runtime::sha256_hex(dir.to_string_lossy().as_bytes());
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            socket = PathBuf::from(format!("/tmp/thespian-director-{uid}/{}.sock", &hash[..16]));
        }
        DaemonPaths {
            socket,
            pid: dir.join(".director.pid"),
            run: dir.join(".director-run"),
            log: dir.join(".director.log"),
            dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_directories_get_a_short_socket_path() {
        let short = DaemonPaths::for_dir(Path::new("/opt/thespian/director"));
        assert_eq!(short.socket, Path::new("/opt/thespian/director/.director.sock"));
        let long = DaemonPaths::for_dir(&Path::new("/tmp").join("x".repeat(150)));
        assert!(long.socket.as_os_str().len() <= MAX_SOCKET_PATH, "{}", long.socket.display());
        assert!(long.pid.starts_with("/tmp"));
    }
}
