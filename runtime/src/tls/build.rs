//! Writing and signing a package (the heart of `gensrc`).

use std::io::{Cursor, Write};
use std::path::PathBuf;

use rsa::sha2::Sha256;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::package::sha256_hex;
use crate::tls::error::KeyError;
use crate::tls::format::{
    self, ALGORITHM, AbiInfo, EntryInfo, EntryKind, FORMAT, MANIFEST_NAME, Manifest, SIGNATURE_NAME, SignatureFile,
};
use crate::tls::keys::{self, KeyStrength, PrivateKeyFile};
use crate::tls::library_file::LibraryInfo;

/// One prebuilt library and the target it was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrarySpec {
    /// The target triple.
    pub target: String,
    /// The file.
    pub path: PathBuf,
}

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The signing key is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Something given to the builder breaks a format rule.
    #[error("{0}")]
    Invalid(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The archive could not be written.
    #[error("cannot write the package archive: {0}")]
    Archive(String),
}

/// Collects a package's parts, then writes and signs it.
#[derive(Debug, Clone)]
pub struct PackageBuilder {
    manifest: Manifest,
    payload: Vec<(String, Vec<u8>)>,
}

impl PackageBuilder {
    /// Starts a package of `group` and `version`, created at `created`
    /// (seconds since the epoch), exporting `library`'s classes.
    pub fn new(group: &str, version: Option<&str>, created: u64, library: &LibraryInfo) -> Result<Self, BuildError> {
        format::check_group(group).map_err(BuildError::Invalid)?;
        if let Some(v) = version {
            format::check_version(v).map_err(BuildError::Invalid)?;
        }
        let manifest = Manifest {
            format: FORMAT,
            group: group.to_string(),
            version: version.map(str::to_string),
            created,
            abi: AbiInfo {
                version: library.abi_version,
                fingerprint: format!("{:016x}", library.fingerprint),
                crate_version: library.crate_version.clone(),
            },
            actors: library.classes.clone(),
            entries: Vec::new(),
            tli: None,
        };
        Ok(PackageBuilder { manifest, payload: Vec::new() })
    }

    fn add(&mut self, name: String, kind: EntryKind, target: Option<&str>, bytes: Vec<u8>) -> Result<(), BuildError> {
        format::check_entry_name(name.as_bytes()).map_err(|e| BuildError::Invalid(e.to_string()))?;
        if self.payload.iter().any(|(n, _)| *n == name) {
            return Err(BuildError::Invalid(format!("{name:?} would be in the package twice")));
        }
        self.manifest.entries.push(EntryInfo {
            name: name.clone(),
            kind,
            target: target.map(str::to_string),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
        self.payload.push((name, bytes));
        Ok(())
    }

    /// Adds the plugin library for `target`.
    pub fn library(&mut self, target: &str, file: &str, bytes: Vec<u8>) -> Result<(), BuildError> {
        self.add(format::library_entry(target, file), EntryKind::Library, Some(target), bytes)
    }

    /// Adds a dependency library for `target`.
    pub fn dependency(&mut self, target: &str, file: &str, bytes: Vec<u8>) -> Result<(), BuildError> {
        self.add(format::dependency_entry(target, file), EntryKind::Dependency, Some(target), bytes)
    }

    /// Adds an audit source at `relative` path.
    pub fn source(&mut self, relative: &str, bytes: Vec<u8>) -> Result<(), BuildError> {
        self.add(format::source_entry(relative), EntryKind::Source, None, bytes)
    }

    /// Embeds the group's TLI text.
    pub fn tli(&mut self, text: &str) {
        self.manifest.tli = Some(text.to_string());
    }

    /// The manifest as it stands.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The exact manifest bytes that will be stored and signed.
    pub fn manifest_bytes(&self) -> Result<Vec<u8>, BuildError> {
        let mut bytes = serde_json::to_vec_pretty(&self.manifest).map_err(|e| BuildError::Invalid(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Writes the package, signed with `key` (checked against the size
    /// policy: `allow_legacy` admits a 1024-bit key). Returns the file bytes
    /// and the key's strength.
    pub fn build(&self, key: &PrivateKeyFile, allow_legacy: bool) -> Result<(Vec<u8>, KeyStrength), BuildError> {
        let strength = keys::check_size(&key.path, key.bits, allow_legacy)?;
        if self.manifest.libraries().next().is_none() {
            return Err(BuildError::Invalid("a package needs at least one library".into()));
        }
        let manifest = self.manifest_bytes()?;
        let signature = key
            .key
            .pkcs1v15_sign::<Sha256>(&format::signing_input(&manifest))
            .map_err(|e| BuildError::Sign(e.to_string()))?;
        let sig_file = SignatureFile {
            algorithm: ALGORITHM.to_string(),
            key_id: key.key_id()?,
            signature: crate::package::hex(&signature),
        };
        let sig_bytes = serde_json::to_vec_pretty(&sig_file).map_err(|e| BuildError::Invalid(e.to_string()))?;
        let mut entries = vec![
            (MANIFEST_NAME, &manifest[..], CompressionMethod::Deflated),
            (SIGNATURE_NAME, &sig_bytes[..], CompressionMethod::Deflated),
        ];
        // Payload and manifest entries are added together, in the same order.
        for ((name, bytes), entry) in self.payload.iter().zip(&self.manifest.entries) {
            entries.push((name.as_str(), bytes.as_slice(), method_for(entry.kind)));
        }
        Ok((write_entries(&entries)?, strength))
    }
}

/// How an entry of `kind` is stored. Libraries are stored as they are, as
/// Android stores the native libraries of an APK: every load then copies
/// them out instead of inflating them (inflating took about 40% of a
/// load's CPU time on the reference machine), at the price of a larger
/// file (a 600 KB library deflates to about 250 KB). Sources deflate.
fn method_for(kind: EntryKind) -> CompressionMethod {
    match kind {
        EntryKind::Library | EntryKind::Dependency => CompressionMethod::Stored,
        EntryKind::Source => CompressionMethod::Deflated,
    }
}

/// Writes a ZIP of `entries`, all deflated (fixed timestamps, so the same
/// input gives the same bytes).
pub fn write_zip(entries: &[(&str, &[u8])]) -> Result<Vec<u8>, BuildError> {
    let deflated: Vec<_> = entries.iter().map(|(n, b)| (*n, *b, CompressionMethod::Deflated)).collect();
    write_entries(&deflated)
}

/// Writes a ZIP of `entries`, each with its compression method (fixed
/// timestamps, so the same input gives the same bytes).
fn write_entries(entries: &[(&str, &[u8], CompressionMethod)]) -> Result<Vec<u8>, BuildError> {
    let err = |e: &dyn std::fmt::Display| BuildError::Archive(e.to_string());
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, method) in entries {
        let options =
            SimpleFileOptions::default().compression_method(*method).large_file(bytes.len() > u32::MAX as usize / 2);
        zip.start_file(*name, options).map_err(|e| err(&e))?;
        zip.write_all(bytes).map_err(|e| err(&e))?;
    }
    Ok(zip.finish().map_err(|e| err(&e))?.into_inner())
}
