//! Strict reading of a package archive held in memory.
//!
//! Every entry is vetted from the central directory before any data is
//! read: raw names are checked as they are (never "sanitised"), duplicates,
//! directories, symlinks, encryption and methods other than Stored/Deflate
//! are refused, sizes are capped and compression bombs refused. Entries are
//! read into memory only; nothing is ever extracted to disk.

use std::io::{Cursor, Read};

use zip::{CompressionMethod, ZipArchive};

use crate::tls::error::PackageError;
use crate::tls::format::{MAX_ENTRIES, MAX_RATIO, check_entry_name};

/// A vetted archive.
pub(crate) struct StrictArchive<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    /// Entry names and declared sizes, in archive order.
    pub(crate) entries: Vec<(String, u64)>,
}

fn zip_err(e: zip::result::ZipError) -> PackageError {
    PackageError::NotAnArchive(e.to_string())
}

impl<'a> StrictArchive<'a> {
    /// Opens and vets `bytes`; `cap_for` gives the size cap of each entry.
    pub(crate) fn open(bytes: &'a [u8], cap_for: impl Fn(&str) -> u64) -> Result<Self, PackageError> {
        let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
        if archive.offset() != 0 {
            return Err(PackageError::PrefixedData(archive.offset()));
        }
        if archive.has_duplicate_names() {
            return Err(PackageError::DuplicateEntry(duplicate_name(bytes).unwrap_or_default()));
        }
        archive.validate_header_consistency().map_err(|e| PackageError::InconsistentHeaders(e.to_string()))?;
        if archive.len() > MAX_ENTRIES {
            return Err(PackageError::TooManyEntries { count: archive.len(), cap: MAX_ENTRIES });
        }
        let mut entries = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let f = archive.by_index_raw(i).map_err(zip_err)?;
            let raw = f.name_raw().to_vec();
            let lossy = String::from_utf8_lossy(&raw).into_owned();
            if f.is_dir() {
                return Err(PackageError::DirectoryEntry(lossy));
            }
            if f.is_symlink() {
                return Err(PackageError::SymlinkEntry(lossy));
            }
            if f.encrypted() {
                return Err(PackageError::EncryptedEntry(lossy));
            }
            let name = check_entry_name(&raw)?.to_string();
            if !matches!(f.compression(), CompressionMethod::Stored | CompressionMethod::Deflated) {
                return Err(PackageError::UnsupportedCompression { name, method: f.compression().to_string() });
            }
            check_size(&name, f.size(), f.compressed_size(), cap_for(&name))?;
            entries.push((name, f.size()));
        }
        Ok(StrictArchive { archive, entries })
    }

    /// True if the archive holds `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| n == name)
    }

    /// Reads one vetted entry fully into memory (its declared size was
    /// capped at open). Any read error, CRC error or size difference fails.
    pub(crate) fn read(&mut self, name: &str) -> Result<Vec<u8>, PackageError> {
        let declared = self.entries.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
        let declared = declared.ok_or_else(|| PackageError::MissingEntry(name.to_string()))?;
        let damaged = |reason: String| PackageError::DamagedEntry { name: name.to_string(), reason };
        let f = self.archive.by_name(name).map_err(|e| damaged(e.to_string()))?;
        let mut out = Vec::with_capacity(usize::try_from(declared.min(1 << 26)).unwrap_or(0));
        f.take(declared + 1).read_to_end(&mut out).map_err(|e| damaged(e.to_string()))?;
        if out.len() as u64 != declared {
            return Err(damaged(format!("{} bytes read, {declared} declared", out.len())));
        }
        Ok(out)
    }
}

fn check_size(name: &str, size: u64, compressed: u64, cap: u64) -> Result<(), PackageError> {
    if size > cap {
        return Err(PackageError::EntryTooLarge { name: name.to_string(), size, cap });
    }
    let ratio = size / compressed.max(1);
    if size > (1 << 20) && ratio > MAX_RATIO {
        return Err(PackageError::CompressionBomb { name: name.to_string(), size, compressed, ratio });
    }
    Ok(())
}

/// Finds a name that the central directory lists twice (the zip crate only
/// says that there is one). Scans the central directory records directly.
fn duplicate_name(bytes: &[u8]) -> Option<String> {
    let eocd = bytes.windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let le16 = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let le32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let count = le16(eocd + 10)?;
    let mut at = le32(eocd + 16)?;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..count {
        if bytes.get(at..at + 4)? != b"PK\x01\x02" {
            return None;
        }
        let (n, extra, comment) = (le16(at + 28)?, le16(at + 30)?, le16(at + 32)?);
        let name = bytes.get(at + 46..at + 46 + n)?;
        if !seen.insert(name) {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 46 + n + extra + comment;
    }
    None
}
