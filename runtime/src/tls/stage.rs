//! Verifying a package file and writing this machine's code out of it in
//! the same pass, ready for [`ActorSystem::load`](crate::ActorSystem::load).

use std::io::Write;
use std::path::Path;

use crate::error::LoadError;
use crate::native::staging::Staging;
use crate::package::{LibraryFiles, VerifiedPackage};
use crate::tls::authority::{SourceAuthority, Verified, check_file_name};
use crate::tls::contents::LibrarySink;
use crate::tls::format::{EntryInfo, EntryKind};
use crate::tls::package_file::PackageBytes;

impl SourceAuthority {
    /// Verifies the package file at `path` exactly as
    /// [`verify_file`](SourceAuthority::verify_file) does and, in the same
    /// read, writes this machine's library and dependencies into a private
    /// staging directory under `root` (a system's
    /// [`extract_root`](crate::ActorSystem::extract_root)). The returned
    /// package is what [`ActorSystem::load`](crate::ActorSystem::load) takes; the bytes written are the ones whose
    /// SHA-256 matched the signed manifest, whatever happens to the file
    /// afterwards. On any refusal nothing is left on disk.
    pub fn stage_file(&self, path: &Path, root: &Path) -> Result<(Verified, VerifiedPackage), LoadError> {
        let bytes = PackageBytes::open(path, self.policy().max_package_bytes, self.policy().strict_modes)?;
        let mut sink = StagingSink { staging: Staging::new(root)?, library: None };
        let verified = self.verify_input(&bytes, &mut sink)?;
        check_file_name(path, &verified)?;
        let library = sink.library.ok_or_else(|| LoadError::NotAPackage {
            path: path.to_path_buf(),
            reason: "no library for this machine was written".into(),
        })?;
        let package = VerifiedPackage {
            group: verified.manifest.group.clone(),
            version: verified.manifest.version_text().to_string(),
            hash: verified.hash.clone(),
            files: LibraryFiles::Staged { staging: sink.staging, library: library.0, sha256: library.1 },
            actors: verified.manifest.actors.clone(),
        };
        Ok((verified, package))
    }
}

/// Writes each library entry to a file of the staging directory named by
/// the entry's last path component.
struct StagingSink {
    staging: Staging,
    /// The library's file name and its manifest SHA-256, once written.
    library: Option<(String, String)>,
}

/// The file an entry is staged as (before sanitising): its last path component.
fn base_name(entry: &EntryInfo) -> &str {
    entry.name.rsplit('/').next().unwrap_or(&entry.name)
}

impl LibrarySink for StagingSink {
    type Error = LoadError;

    fn writer(&mut self, entry: &EntryInfo) -> Result<Box<dyn Write>, LoadError> {
        let (file_name, file) = self.staging.create(base_name(entry))?;
        if entry.kind == EntryKind::Library {
            self.library = Some((file_name, entry.sha256.clone()));
        }
        Ok(Box::new(file))
    }

    fn write_failed(&mut self, entry: &EntryInfo, source: std::io::Error) -> LoadError {
        LoadError::Extract { path: self.staging.path_for(base_name(entry)), source }
    }
}
