//! The checks on what a signed manifest lists: the entry set, the ABI,
//! this machine's library, and every entry's size and SHA-256, streamed.

use std::io::Write;

use crate::tls::error::PackageError;
use crate::tls::format::{EntryInfo, EntryKind, MANIFEST_NAME, Manifest, SIGNATURE_NAME};
use crate::tls::ziparchive::{StreamError, StrictArchive};

/// Where this machine's library and dependencies go while they are checked.
pub(crate) trait LibrarySink {
    /// What a refusal or a failed write becomes.
    type Error: From<PackageError>;

    /// The writer for `entry` (this machine's library or one of its dependencies).
    fn writer(&mut self, entry: &EntryInfo) -> Result<Box<dyn Write>, Self::Error>;

    /// The error for a write into `entry`'s writer that failed.
    fn write_failed(&mut self, entry: &EntryInfo, error: std::io::Error) -> Self::Error;
}

/// Checks the libraries without keeping them.
pub(crate) struct CheckOnly;

impl LibrarySink for CheckOnly {
    type Error = PackageError;

    fn writer(&mut self, _: &EntryInfo) -> Result<Box<dyn Write>, PackageError> {
        Ok(Box::new(std::io::sink()))
    }

    fn write_failed(&mut self, entry: &EntryInfo, error: std::io::Error) -> PackageError {
        PackageError::DamagedEntry { name: entry.name.clone(), reason: error.to_string() }
    }
}

/// What one listed entry is to this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The library or a dependency for this target: goes to the sink.
    Code,
    /// An audit source: kept in memory.
    Source,
    /// Code for another target: only checked.
    Other,
}

fn role(entry: &EntryInfo, target: &str) -> Role {
    match (entry.kind, entry.target.as_deref()) {
        (EntryKind::Library | EntryKind::Dependency, Some(t)) if t == target => Role::Code,
        (EntryKind::Source, _) => Role::Source,
        _ => Role::Other,
    }
}

/// The archive must hold exactly the manifest, the signature and the listed entries.
pub(crate) fn check_entry_set(archive: &StrictArchive<'_>, manifest: &Manifest) -> Result<(), PackageError> {
    for (name, _) in &archive.entries {
        let listed =
            name == MANIFEST_NAME || name == SIGNATURE_NAME || manifest.entries.iter().any(|e| &e.name == name);
        if !listed {
            return Err(PackageError::UnlistedEntry(name.clone()));
        }
    }
    match manifest.entries.iter().find(|e| !archive.contains(&e.name)) {
        Some(missing) => Err(PackageError::MissingEntry(missing.name.clone())),
        None => Ok(()),
    }
}

/// The package must speak this host's ABI.
pub(crate) fn check_abi(manifest: &Manifest) -> Result<(), PackageError> {
    use actor_abi::ffi;
    if manifest.abi.version != ffi::ABI_VERSION {
        return Err(PackageError::AbiMismatch { package: manifest.abi.version, host: ffi::ABI_VERSION });
    }
    let host = format!("{:016x}", ffi::LAYOUT_FINGERPRINT);
    if manifest.abi.fingerprint != host {
        return Err(PackageError::FingerprintMismatch { package: manifest.abi.fingerprint.clone(), host });
    }
    Ok(())
}

/// The package must hold a library for `target`.
pub(crate) fn check_target(manifest: &Manifest, target: &str) -> Result<(), PackageError> {
    let has_library = manifest.entries.iter().any(|e| e.kind == EntryKind::Library && role(e, target) == Role::Code);
    if has_library {
        return Ok(());
    }
    Err(PackageError::NoLibraryForTarget { target: target.to_string(), available: manifest.targets() })
}

/// Streams every listed entry through its checks: the code for `target`
/// into `sink`, sources into memory (returned by entry name), the rest
/// nowhere.
pub(crate) fn stream_entries<S: LibrarySink>(
    archive: &mut StrictArchive<'_>,
    manifest: &Manifest,
    target: &str,
    sink: &mut S,
) -> Result<Vec<(String, Vec<u8>)>, S::Error> {
    let mut sources = Vec::new();
    for entry in &manifest.entries {
        let result = match role(entry, target) {
            Role::Code => {
                let mut writer = sink.writer(entry)?;
                archive.stream(entry, &mut writer).and_then(|()| writer.flush().map_err(StreamError::Write))
            }
            Role::Source => {
                let mut bytes = Vec::new();
                let streamed = archive.stream(entry, &mut bytes);
                sources.push((entry.name.clone(), bytes));
                streamed
            }
            Role::Other => archive.stream(entry, &mut std::io::sink()),
        };
        match result {
            Ok(()) => {}
            Err(StreamError::Refused(e)) => return Err(e.into()),
            Err(StreamError::Write(e)) => return Err(sink.write_failed(entry, e)),
        }
    }
    Ok(sources)
}
