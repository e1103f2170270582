//! Where a daemon keeps its state for one director directory, and the
//! checks that keep another user from taking over its control socket.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
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
    /// in a private per-user directory under `$TMPDIR` (else /tmp), named by
    /// a hash of `dir` (see [`ensure_private_dir`]).
    pub fn for_dir(dir: &Path) -> DaemonPaths {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut socket = dir.join(".director.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            let hash = runtime::sha256_hex(dir.to_string_lossy().as_bytes());
            let private = std::env::temp_dir().join(format!("thespian-director-{}", crate::sys::euid()));
            socket = private.join(format!("{}.sock", &hash[..16]));
        }
        DaemonPaths {
            socket,
            pid: dir.join(".director.pid"),
            run: dir.join(".director-run"),
            log: dir.join(".director.log"),
            dir,
        }
    }

    /// True when the socket lives outside the director directory (in a
    /// shared temporary directory, inside a private per-user one).
    pub fn socket_outside_dir(&self) -> bool {
        self.socket.parent() != Some(self.dir.as_path())
    }

    /// Makes sure the socket's private per-user directory is ours and
    /// closed to others, when the socket lives in one ([`ensure_private_dir`]).
    pub fn ensure_socket_dir(&self) -> Result<(), String> {
        match self.socket.parent() {
            Some(parent) if self.socket_outside_dir() => ensure_private_dir(parent),
            _ => Ok(()),
        }
    }
}

/// Creates `dir` (mode 0700) if it is missing, then insists that it is a
/// real directory (not a symlink), owned by this user, with no permission
/// bits for group or others. Anything else might let another user replace
/// the control socket inside it, so it is refused with what to do.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    let me = crate::sys::euid();
    let mode = meta.permissions().mode() & 0o7777;
    let problem = if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("is not a directory".to_string())
    } else if meta.uid() != me {
        Some(format!("is owned by uid {}, not by uid {me}", meta.uid()))
    } else if mode & 0o077 != 0 {
        Some(format!("has mode {mode:04o}; other users may use it"))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(format!(
            "refusing the control socket directory {}: it {p}, so another user could replace the socket. \
             Remove it (rm -r {}) and start again; it is created with mode 0700",
            dir.display(),
            dir.display()
        )),
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
        assert!(long.socket_outside_dir() && !short.socket_outside_dir());
    }

    #[test]
    fn a_private_dir_is_made_0700_and_an_open_one_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("fresh");
        ensure_private_dir(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
        ensure_private_dir(&fresh).unwrap();
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_private_dir(&open).unwrap_err();
        assert!(e.contains("mode 0777") && e.contains(&open.display().to_string()), "{e}");
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(ensure_private_dir(&link).unwrap_err().contains("symbolic link"));
    }
}
