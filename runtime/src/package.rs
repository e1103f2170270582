//! Package identity: what may be loaded and what is loaded.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::LoadError;
use crate::native::staging::Staging;

/// Library files whose package passed verification, with the identity the
/// verified package declares. It is the only thing
/// [`ActorSystem::load`](crate::ActorSystem::load) accepts; a verified one
/// comes from [`SourceAuthority::stage_file`](crate::tls::SourceAuthority::stage_file).
/// Dropped without being loaded, it removes its staged files.
pub struct VerifiedPackage {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) hash: String,
    pub(crate) files: LibraryFiles,
    /// The actor classes the signed manifest lists; the library must export
    /// exactly these. Empty for unverified bytes (nothing to compare with).
    pub(crate) actors: Vec<String>,
}

/// Where a package's library files are before the load.
pub(crate) enum LibraryFiles {
    /// Bytes in memory, written at load (only unverified packages are).
    #[cfg_attr(not(feature = "unverified-load"), allow(dead_code))]
    Bytes {
        /// The library's file name.
        name: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// Checked files already written, with their dependencies, in a staging
    /// directory of the system that will load them.
    Staged {
        /// The staging directory.
        staging: Staging,
        /// The library's file name in it.
        library: String,
        /// The library file's SHA-256 from the signed manifest.
        sha256: String,
    },
}

impl fmt::Debug for LibraryFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibraryFiles::Bytes { name, bytes } => write!(f, "{name} ({} bytes in memory)", bytes.len()),
            LibraryFiles::Staged { staging, library, .. } => write!(f, "{}", staging.path_of(library).display()),
        }
    }
}

impl LibraryFiles {
    /// The staging directory and the library's file name in it, writing
    /// in-memory bytes into a fresh staging directory under `root` first.
    pub(crate) fn stage(self, root: &std::path::Path) -> Result<(Staging, String), LoadError> {
        self.stage_with_hash(root).map(|(staging, library, _)| (staging, library))
    }

    /// As [`LibraryFiles::stage`], with the library's SHA-256 (from the
    /// signed manifest, or of the in-memory bytes).
    pub(crate) fn stage_with_hash(self, root: &std::path::Path) -> Result<(Staging, String, String), LoadError> {
        match self {
            LibraryFiles::Staged { staging, library, sha256 } => Ok((staging, library, sha256)),
            LibraryFiles::Bytes { name, bytes } => {
                let staging = Staging::new(root)?;
                let library = staging.write(&name, &bytes)?;
                Ok((staging, library, sha256_hex(&bytes)))
            }
        }
    }
}

impl VerifiedPackage {
    /// Wraps library bytes that no signature check has seen.
    ///
    /// Only with the `unverified-load` feature, for tests and the embedding
    /// demo. The hash is the SHA-256 of a domain tag, the group, the version
    /// and the bytes, so two versions of one build get distinct identities.
    #[cfg(feature = "unverified-load")]
    pub fn unverified(group: &str, version: &str, library_name: &str, library: Vec<u8>) -> VerifiedPackage {
        let mut h = Sha256::new();
        h.update(b"thespian-unverified-package\0");
        h.update(group.as_bytes());
        h.update([0]);
        h.update(version.as_bytes());
        h.update([0]);
        h.update(&library);
        VerifiedPackage {
            group: group.to_string(),
            version: version.to_string(),
            hash: hex(&h.finalize()),
            files: LibraryFiles::Bytes { name: library_name.to_string(), bytes: library },
            actors: Vec::new(),
        }
    }

    /// The package hash (lowercase hex SHA-256).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The version (empty when unversioned).
    pub fn version(&self) -> &str {
        &self.version
    }
}

impl fmt::Debug for VerifiedPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedPackage")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("hash", &self.hash)
            .field("files", &self.files)
            .finish()
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A loaded package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    /// The version's home: its number in this actor system, which every
    /// address of its actors carries ([`Address::home`](actor_abi::Address::home)).
    pub home: u32,
    /// The group.
    pub group: String,
    /// The version (empty when unversioned).
    pub version: String,
    /// The package hash (lowercase hex).
    pub hash: String,
    /// The exported actor classes.
    pub classes: Vec<String>,
    /// The library file the code was loaded from.
    pub library: PathBuf,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}
