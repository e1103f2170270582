//! Files whose contents decide what code runs (trusted keys, packages,
//! group descriptors, settings) are trusted only when no other user can
//! change them, like sshd's `StrictModes`: the file must be owned by this
//! process's user or root and have no group or world write bit. The check
//! is made on the open descriptor (`fstat`), so the file judged is the file
//! read. Turning it off (`strict = false`) is the caller's decision and
//! should be announced.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file or directory another user could change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing {path}: owned by uid {uid} with mode {mode:04o}, {why}. Fix: chown {me} {path} && chmod go-w {path} \
     (or write False into stricttrust.cfg to turn this check off)"
)]
pub struct UntrustedFile {
    /// The file or directory.
    pub path: PathBuf,
    /// Its owner.
    pub uid: u32,
    /// Its permission bits.
    pub mode: u32,
    /// What is wrong.
    pub why: &'static str,
    /// This process's user, who (or root) must own it.
    pub me: u32,
}

/// Why [`read`] gave no bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file does not exist.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// Not a regular file.
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    /// Larger than the cap.
    #[error("{path} is {size} bytes, over the {cap}-byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// Another user could change it.
    #[error("{0}")]
    Untrusted(#[from] UntrustedFile),
    /// The read failed.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// This process's effective user id.
pub fn euid() -> u32 {
    crate::native::os::euid()
}

/// Checks the owner and mode of `path` (described by `meta`, which should
/// come from the open file): owned by us or root, not writable by group or others.
pub fn check(path: &Path, meta: &Metadata) -> Result<(), UntrustedFile> {
    let me = euid();
    let mode = meta.mode() & 0o7777;
    let why = if meta.uid() != me && meta.uid() != 0 {
        "another user owns it"
    } else if mode & 0o022 != 0 {
        "group or others may write to it"
    } else {
        return Ok(());
    };
    Err(UntrustedFile { path: path.to_path_buf(), uid: meta.uid(), mode, why, me })
}

/// Checks a directory (following a symlink to it, as every path through it does).
pub fn check_dir(dir: &Path) -> Result<(), ReadError> {
    let meta = std::fs::metadata(dir).map_err(|e| io_error(dir, &e))?;
    check(dir, &meta)?;
    Ok(())
}

/// Opens `path` for reading without blocking on a FIFO, refuses anything
/// but a regular file and, when `strict`, a file another user could change.
pub fn open(path: &Path, strict: bool) -> Result<(File, Metadata), ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_error(path, &e))?;
    let meta = file.metadata().map_err(|e| io_error(path, &e))?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(path.to_path_buf()));
    }
    if strict {
        check(path, &meta)?;
    }
    Ok((file, meta))
}

/// Reads the whole of `path` (at most `cap` bytes) after [`open`]'s checks.
pub fn read(path: &Path, cap: u64, strict: bool) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open(path, strict)?;
    read_open(&file, &meta, path, cap)
}

/// Reads the whole of `file` (opened from `path`, described by `meta`), at
/// most `cap` bytes: a file that grows past the cap while it is read is
/// refused too.
pub fn read_open(file: &File, meta: &Metadata, path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    if meta.len() > cap {
        return Err(ReadError::TooLarge { path: path.to_path_buf(), size: meta.len(), cap });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { path: path.to_path_buf(), size: bytes.len() as u64, cap });
    }
    Ok(bytes)
}

fn io_error(path: &Path, e: &std::io::Error) -> ReadError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::Missing(path.to_path_buf()),
        _ => ReadError::Io { path: path.to_path_buf(), reason: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_others_can_write_is_refused_only_when_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k_tls.key");
        std::fs::write(&path, b"key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = read(&path, 100, true).unwrap_err();
        let ReadError::Untrusted(u) = &e else { panic!("{e}") };
        assert_eq!((u.mode, u.why), (0o666, "group or others may write to it"));
        assert!(e.to_string().contains("chmod go-w"), "{e}");
        assert_eq!(read(&path, 100, false).unwrap(), b"key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&path, 100, true).unwrap(), b"key");
    }

    #[test]
    fn caps_fifos_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.cfg");
        std::fs::write(&path, vec![b'1'; 101]).unwrap();
        assert!(matches!(read(&path, 100, true), Err(ReadError::TooLarge { size: 101, .. })));
        assert!(matches!(read(dir.path(), 100, true), Err(ReadError::NotAFile(_))));
        let fifo = dir.path().join("fifo.tli");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(matches!(read(&fifo, 100, true), Err(ReadError::NotAFile(_))), "a FIFO never blocks the reader");
        assert!(matches!(read(&dir.path().join("none"), 100, true), Err(ReadError::Missing(_))));
    }
}
