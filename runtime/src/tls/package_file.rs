//! A package file opened for verification: size-capped, read in place
//! (never copied into memory whole), with its identity hash.
//!
//! Invariant: the identity hash and every check are computed from the same
//! bytes. Two readers (the hash on its own thread, the archive checks) read
//! one open file, so the file is pinned for the whole verification with a
//! read lease (`F_SETLEASE`): it is granted only while no process has the
//! file open for writing, and while it is held the kernel makes any open for
//! writing, or truncate, wait (the break is announced with SIGURG, which is
//! ignored by default). If the lease is found broken at the end (a writer
//! waited longer than the kernel's lease-break time), the verification is
//! refused. Where leases are not available (another owner without
//! CAP_LEASE, a file system without leases) the file is read into memory
//! once, and both the hash and the checks use that copy.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::package::hex;
use crate::tls::error::PackageError;
use crate::tls::trusted_file::{self, ReadError};

/// How much of the file one read of the identity hash takes.
const HASH_CHUNK: usize = 1 << 20;

/// The bytes of a package: an open file, or bytes the caller already holds.
pub(crate) enum PackageBytes<'a> {
    /// An open package file of `len` bytes, pinned by a read lease.
    File {
        /// The open file.
        file: File,
        /// Its path, for messages.
        path: PathBuf,
        /// Its size when it was opened.
        len: u64,
        /// When the lease was taken.
        pinned: std::time::Instant,
    },
    /// Bytes in memory.
    Memory(&'a [u8]),
    /// A file read into memory once (where it could not be pinned).
    Owned(Vec<u8>),
}

impl PackageBytes<'_> {
    /// Opens `path`, refusing what is missing, not a regular file, larger
    /// than `cap` or (when `strict`) a file another user could change.
    pub(crate) fn open(path: &Path, cap: u64, strict: bool) -> Result<PackageBytes<'static>, PackageError> {
        let refused = |e: ReadError| match e {
            ReadError::Missing(p) => PackageError::Missing(p),
            ReadError::NotAFile(p) => PackageError::NotAFile(p),
            ReadError::Untrusted(u) => PackageError::UntrustedFile(u),
            ReadError::TooLarge { size, cap, .. } => PackageError::TooLarge { size, cap },
            other => PackageError::Unreadable { path: path.to_path_buf(), reason: other.to_string() },
        };
        let (file, meta) = trusted_file::open(path, strict).map_err(refused)?;
        if meta.len() > cap {
            return Err(PackageError::TooLarge { size: meta.len(), cap });
        }
        match lease::take(&file) {
            Ok(pinned) => Ok(PackageBytes::File { file, path: path.to_path_buf(), len: meta.len(), pinned }),
            Err(lease::Refused::OpenForWriting) => Err(PackageError::BeingWritten(path.to_path_buf())),
            Err(lease::Refused::Unavailable) => {
                trusted_file::read_open(&file, &meta, path, cap).map(PackageBytes::Owned).map_err(refused)
            }
        }
    }

    /// After every read: the file was not opened for writing meanwhile
    /// (so the hash and the checks saw the same bytes).
    pub(crate) fn confirm_unchanged(&self) -> Result<(), PackageError> {
        match self {
            PackageBytes::File { file, path, pinned, .. } if !lease::held(file, *pinned) => {
                Err(PackageError::ChangedWhileVerified(path.clone()))
            }
            _ => Ok(()),
        }
    }

    /// The size in bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            PackageBytes::File { len, .. } => *len,
            PackageBytes::Memory(b) => b.len() as u64,
            PackageBytes::Owned(b) => b.len() as u64,
        }
    }

    /// SHA-256 of every byte, lowercase hex: the package's identity.
    ///
    /// A file is read with positional reads, so this can run beside an
    /// archive reader of the same file. It must still be the size it was
    /// opened with: a file that changes while it is verified is refused.
    pub(crate) fn identity_hash(&self) -> Result<String, PackageError> {
        let (file, path, len) = match self {
            PackageBytes::Memory(b) => return Ok(crate::package::sha256_hex(b)),
            PackageBytes::Owned(b) => return Ok(crate::package::sha256_hex(b)),
            PackageBytes::File { file, path, len, .. } => (file, path, *len),
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; HASH_CHUNK];
        let mut at = 0u64;
        loop {
            let n = file.read_at(&mut buf, at).map_err(|e| unreadable(path, &e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            at += n as u64;
        }
        if at != len {
            return Err(PackageError::Unreadable {
                path: path.clone(),
                reason: format!("it changed while it was verified ({len} bytes when opened, {at} now)"),
            });
        }
        Ok(hex(&hasher.finalize()))
    }
}

/// Reads `bytes` through an archive reader (buffered for a file).
pub(crate) fn with_reader<T>(bytes: &PackageBytes<'_>, f: impl FnOnce(&mut dyn ReadSeek) -> T) -> T {
    match bytes {
        PackageBytes::File { file, .. } => f(&mut std::io::BufReader::with_capacity(1 << 16, file)),
        PackageBytes::Memory(b) => f(&mut std::io::Cursor::new(*b)),
        PackageBytes::Owned(b) => f(&mut std::io::Cursor::new(b.as_slice())),
    }
}

/// Read leases (`fcntl(F_SETLEASE, F_RDLCK)`) on a package file (Linux).
#[cfg(target_os = "linux")]
mod lease {
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// Why no lease was taken.
    pub(crate) enum Refused {
        /// Some process has the file open for writing.
        OpenForWriting,
        /// Leases are not available here (not our file and no CAP_LEASE,
        /// or the file system has none).
        Unavailable,
    }

    /// `F_SETSIG` from `<asm-generic/fcntl.h>` (the libc crate does not name it).
    const F_SETSIG: libc::c_int = 10;

    /// Takes a read lease on `file` (opened read-only). A writer's open then
    /// waits until the lease is dropped with the file; the break is
    /// signalled with SIGURG, whose default action is to ignore it.
    pub(crate) fn take(file: &File) -> Result<Instant, Refused> {
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a live fd owned by `file`, with integer arguments only.
        if unsafe { libc::fcntl(fd, F_SETSIG, libc::SIGURG) } != 0 {
            return Err(Refused::Unavailable);
        }
        let taken = Instant::now();
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) } == 0 {
            return Ok(taken);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => Err(Refused::OpenForWriting),
            _ => Err(Refused::Unavailable),
        }
    }

    /// True if the lease taken at `taken` still holds the file: no writer
    /// asked to break it, or one did and is still waiting (the kernel only
    /// takes a lease away `lease-break-time` seconds after a break began,
    /// and a break begins after the lease was taken).
    pub(crate) fn held(file: &File, taken: Instant) -> bool {
        // SAFETY: fcntl on a live fd owned by `file`, with integer arguments only.
        let unbroken = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLEASE) == libc::F_RDLCK };
        unbroken || taken.elapsed() < break_time()
    }

    /// The kernel's lease-break time, less a second of margin (0 when unknown).
    fn break_time() -> Duration {
        std::fs::read_to_string("/proc/sys/fs/lease-break-time")
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map_or(Duration::ZERO, |s| Duration::from_secs(s).saturating_sub(Duration::from_secs(1)))
    }
}

/// Elsewhere no lease: the file is read into memory once.
#[cfg(not(target_os = "linux"))]
mod lease {
    pub(crate) enum Refused {
        #[allow(dead_code)]
        OpenForWriting,
        Unavailable,
    }

    pub(crate) fn take(_: &std::fs::File) -> Result<std::time::Instant, Refused> {
        Err(Refused::Unavailable)
    }

    pub(crate) fn held(_: &std::fs::File, _: std::time::Instant) -> bool {
        true
    }
}

/// What the archive reader needs of its input.
pub(crate) trait ReadSeek: Read + std::io::Seek {}

impl<T: Read + std::io::Seek> ReadSeek for T {}

fn unreadable(path: &Path, e: &std::io::Error) -> PackageError {
    PackageError::Unreadable { path: path.to_path_buf(), reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_and_its_bytes_have_the_same_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tls");
        let bytes: Vec<u8> = (0..3 * HASH_CHUNK + 17).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = PackageBytes::open(&path, u64::MAX, true).unwrap();
        assert_eq!(file.len(), bytes.len() as u64);
        assert_eq!(file.identity_hash().unwrap(), PackageBytes::Memory(&bytes).identity_hash().unwrap());
    }

    #[test]
    fn a_file_open_for_writing_is_refused_and_a_writer_breaks_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tls");
        std::fs::write(&path, b"package bytes").unwrap();
        let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(matches!(PackageBytes::open(&path, 100, true), Err(PackageError::BeingWritten(_))));
        drop(writer);
        let pinned = PackageBytes::open(&path, 100, true).unwrap();
        assert!(matches!(pinned, PackageBytes::File { .. }), "leases work here");
        pinned.confirm_unchanged().unwrap();
        // A writer waits for the pin to go: the bytes stay as they were.
        let p = path.clone();
        let w = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            std::io::Write::write_all(&mut f, b"PACKAGE").unwrap();
        });
        assert!(test_eventually(|| !lease_unbroken(&pinned)), "the writer asked to break the lease");
        assert_eq!(std::fs::read(&path).unwrap(), b"package bytes", "and waits");
        pinned.confirm_unchanged().expect("a writer still waiting changed nothing");
        drop(pinned);
        w.join().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"PACKAGE bytes", "it writes once the pin is gone");
    }

    fn lease_unbroken(bytes: &PackageBytes<'_>) -> bool {
        use std::os::fd::AsRawFd;
        let PackageBytes::File { file, .. } = bytes else { return true };
        // SAFETY: fcntl on a live fd, integer arguments only.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLEASE) == libc::F_RDLCK }
    }

    fn test_eventually(mut f: impl FnMut() -> bool) -> bool {
        for _ in 0..2000 {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn opening_refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(PackageBytes::open(dir.path(), 10, true), Err(PackageError::NotAFile(_))));
        assert!(matches!(PackageBytes::open(&dir.path().join("none"), 10, true), Err(PackageError::Missing(_))));
        let path = dir.path().join("big.tls");
        std::fs::write(&path, [0u8; 11]).unwrap();
        assert!(matches!(PackageBytes::open(&path, 10, true), Err(PackageError::TooLarge { size: 11, cap: 10 })));
    }
}
