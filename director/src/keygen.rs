//! `keygen NAME [--bits N]`: a signing key pair, readable by openssl.
//!
//! Writes `NAME.pem` (PKCS#8 private key, mode 0600) and `NAME_tls.key`
//! (SPKI public key, for `THESPIAN_DIRECTOR_DIR`). Existing files are never
//! overwritten.

use std::path::{Path, PathBuf};

use runtime::tls::KeyError;
use runtime::tls::keys;

use crate::atomic;

/// The default key size.
pub const DEFAULT_BITS: usize = 3072;
/// The largest key size offered.
pub const MAX_BITS: usize = 8192;

/// The files `keygen` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// `NAME.pem`.
    pub private: PathBuf,
    /// `NAME_tls.key`.
    pub public: PathBuf,
    /// The key size.
    pub bits: usize,
}

/// Why `keygen` failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// The size is outside the policy.
    #[error(transparent)]
    Size(#[from] KeyError),
    /// Too large.
    #[error("{0} bits is more than the {MAX_BITS} supported")]
    TooLarge(usize),
    /// A target file exists.
    #[error("{0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    /// Generation failed.
    #[error("key generation failed: {0}")]
    Generate(String),
    /// A file could not be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// The two file names for `name`.
pub fn paths(name: &Path) -> (PathBuf, PathBuf) {
    let base = name.to_string_lossy();
    (PathBuf::from(format!("{base}.pem")), PathBuf::from(format!("{base}_tls.key")))
}

/// Generates and writes a key pair.
pub fn keygen(name: &Path, bits: usize, allow_legacy: bool) -> Result<KeyPair, KeygenError> {
    let (private, public) = paths(name);
    keys::check_size(&private, bits, allow_legacy)?;
    if bits > MAX_BITS {
        return Err(KeygenError::TooLarge(bits));
    }
    for p in [&private, &public] {
        if p.exists() {
            return Err(KeygenError::Exists(p.clone()));
        }
    }
    let key = keys::generate(bits).map_err(KeygenError::Generate)?;
    let (private_pem, public_pem) = keys::pem_pair(&key).map_err(KeygenError::Generate)?;
    let werr = |p: &Path| {
        let path = p.to_path_buf();
        move |e: std::io::Error| KeygenError::Write { path, reason: e.to_string() }
    };
    let staged_private = atomic::stage(&private, private_pem.as_bytes(), 0o600).map_err(werr(&private))?;
    let staged_public = atomic::stage(&public, public_pem.as_bytes(), 0o644).map_err(werr(&public))?;
    staged_private.commit().map_err(werr(&private))?;
    staged_public.commit().map_err(werr(&public))?;
    Ok(KeyPair { private, public, bits })
}
