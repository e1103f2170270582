//! A package file opened for verification: size-capped, read in place
//! (never copied into memory whole), with its identity hash.

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
    /// An open package file of `len` bytes.
    File {
        /// The open file.
        file: File,
        /// Its path, for messages.
        path: PathBuf,
        /// Its size when it was opened.
        len: u64,
    },
    /// Bytes in memory.
    Memory(&'a [u8]),
}

impl PackageBytes<'_> {
    /// Opens `path`, refusing what is missing, not a regular file, larger
    /// than `cap` or (when `strict`) a file another user could change.
    pub(crate) fn open(path: &Path, cap: u64, strict: bool) -> Result<PackageBytes<'static>, PackageError> {
        let (file, meta) = trusted_file::open(path, strict).map_err(|e| match e {
            ReadError::Missing(p) => PackageError::Missing(p),
            ReadError::NotAFile(p) => PackageError::NotAFile(p),
            ReadError::Untrusted(u) => PackageError::UntrustedFile(u),
            other => PackageError::Unreadable { path: path.to_path_buf(), reason: other.to_string() },
        })?;
        if meta.len() > cap {
            return Err(PackageError::TooLarge { size: meta.len(), cap });
        }
        Ok(PackageBytes::File { file, path: path.to_path_buf(), len: meta.len() })
    }

    /// The size in bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            PackageBytes::File { len, .. } => *len,
            PackageBytes::Memory(b) => b.len() as u64,
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
            PackageBytes::File { file, path, len } => (file, path, *len),
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
    fn a_file_that_grows_while_it_is_hashed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tls");
        std::fs::write(&path, b"short").unwrap();
        let file = PackageBytes::open(&path, u64::MAX, true).unwrap();
        std::fs::write(&path, b"much longer now").unwrap();
        let err = file.identity_hash().unwrap_err();
        assert!(err.to_string().contains("changed while it was verified"), "{err}");
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
