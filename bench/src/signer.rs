//! Signed packages for the benchmarks, made the way `gensrc` makes them,
//! in a temporary director directory that trusts the signing key.

use std::path::{Path, PathBuf};

use runtime::tls::{LibraryInfo, PackageBuilder, PrivateKeyFile, SourceAuthority, inspect_library, keys};
use runtime::{ActorSystem, PackageInfo};

/// Error text for the harness.
pub type Error = Box<dyn std::error::Error>;

/// A trust directory with one key, and the key.
pub struct Signer {
    dir: tempfile::TempDir,
    key: PrivateKeyFile,
    public: PathBuf,
}

impl Signer {
    /// Makes a key pair the way `thespian-director keygen` does and trusts it.
    pub fn new() -> Result<Signer, Error> {
        let dir = tempfile::tempdir()?;
        let pair = director::keygen::keygen(&dir.path().join("bench"), director::keygen::DEFAULT_BITS, false)?;
        let key = keys::read_private_key(&pair.private)?;
        Ok(Signer { dir, key, public: pair.public })
    }

    /// The director directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The public key file that trusts this signer (`*_tls.key`).
    pub fn public_key(&self) -> &Path {
        &self.public
    }

    /// Signs `lib_bytes` (a build of `lib`) as `group-version.tls` in the
    /// signer's directory.
    pub fn package(&self, lib: &Path, lib_bytes: Vec<u8>, group: &str, version: &str) -> Result<PathBuf, Error> {
        self.package_into(self.dir.path(), &inspect_library(lib)?, lib_bytes, group, version)
    }

    /// Signs `lib_bytes` (a library whose header `info` describes) as
    /// `dir/group-version.tls`.
    pub fn package_into(
        &self,
        dir: &Path,
        info: &LibraryInfo,
        lib_bytes: Vec<u8>,
        group: &str,
        version: &str,
    ) -> Result<PathBuf, Error> {
        let mut b = PackageBuilder::new(group, Some(version), 0, info)?;
        b.library(runtime::TARGET_TRIPLE, "libbench.so", lib_bytes)?;
        let (bytes, _) = b.build(&self.key, false)?;
        let file = dir.join(format!("{group}-{version}.tls"));
        std::fs::write(&file, bytes)?;
        Ok(file)
    }

    /// Verifies and loads `file` into `sys`.
    pub fn load(&self, sys: &ActorSystem, file: &Path) -> Result<PackageInfo, Error> {
        let (_, package) = SourceAuthority::new(self.dir.path()).stage_file(file, sys.extract_root())?;
        Ok(sys.load(package)?)
    }
}
