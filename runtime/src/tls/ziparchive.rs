//! Strict reading of a package archive.
//!
//! Every entry is vetted from the central directory before any data is
//! read: raw names are checked as they are (never "sanitised"), duplicates,
//! directories, symlinks, encryption and methods other than Stored/Deflate
//! are refused, sizes are capped and compression bombs refused. Entries are
//! read through SHA-256 in small chunks; a caller that keeps an entry
//! gives the writer it goes to (this module never names a file).

use std::io::{Read, SeekFrom, Write};

use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipArchive};

use crate::package::hex;
use crate::tls::error::PackageError;
use crate::tls::format::{EntryInfo, MAX_ENTRIES, MAX_RATIO, check_entry_name};
use crate::tls::package_file::ReadSeek;

/// How much of an entry one step of [`StrictArchive::stream`] handles.
const CHUNK: usize = 1 << 16;

/// Why streaming an entry stopped.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// The entry is damaged or does not match its manifest line.
    Refused(PackageError),
    /// The writer failed.
    Write(std::io::Error),
}

/// A vetted archive.
pub(crate) struct StrictArchive<'a> {
    archive: ZipArchive<&'a mut dyn ReadSeek>,
    /// Entry names and declared sizes, in archive order.
    pub(crate) entries: Vec<(String, u64)>,
}

fn zip_err(e: zip::result::ZipError) -> PackageError {
    PackageError::NotAnArchive(e.to_string())
}

impl<'a> StrictArchive<'a> {
    /// Opens and vets the archive `input` reads; `cap_for` gives the size
    /// cap of each entry.
    pub(crate) fn open(input: &'a mut dyn ReadSeek, cap_for: impl Fn(&str) -> u64) -> Result<Self, PackageError> {
        let mut archive = ZipArchive::new(input).map_err(zip_err)?;
        if archive.offset() != 0 {
            return Err(PackageError::PrefixedData(archive.offset()));
        }
        if archive.has_duplicate_names() {
            let name = duplicate_name(archive.into_inner()).unwrap_or_default();
            return Err(PackageError::DuplicateEntry(name));
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
        let declared = self.declared(name)?;
        let mut out = Vec::with_capacity(usize::try_from(declared.min(1 << 20)).unwrap_or(0));
        let damaged = |reason: String| PackageError::DamagedEntry { name: name.to_string(), reason };
        let f = self.archive.by_name(name).map_err(|e| damaged(e.to_string()))?;
        f.take(declared + 1).read_to_end(&mut out).map_err(|e| damaged(e.to_string()))?;
        if out.len() as u64 != declared {
            return Err(damaged(format!("{} bytes read, {declared} declared", out.len())));
        }
        Ok(out)
    }

    /// Streams the entry a manifest line describes into `out`, checking on
    /// the way its size (declared, listed and read) and its SHA-256.
    /// `out` may have received bytes when this fails; the caller discards them.
    pub(crate) fn stream(&mut self, entry: &EntryInfo, out: &mut dyn Write) -> Result<(), StreamError> {
        let refused = StreamError::Refused;
        let declared = self.declared(&entry.name).map_err(refused)?;
        if declared != entry.size {
            let (name, listed) = (entry.name.clone(), entry.size);
            return Err(refused(PackageError::EntrySizeMismatch { name, listed, actual: declared }));
        }
        let damaged = |reason: String| refused(PackageError::DamagedEntry { name: entry.name.clone(), reason });
        let f = self.archive.by_name(&entry.name).map_err(|e| damaged(e.to_string()))?;
        let mut f = f.take(declared + 1);
        let (mut hasher, mut buf, mut total) = (Sha256::new(), vec![0u8; CHUNK], 0u64);
        loop {
            let n = fill(&mut f, &mut buf).map_err(|e| damaged(e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(StreamError::Write)?;
            total += n as u64;
        }
        if total != declared {
            return Err(damaged(format!("{total} bytes read, {declared} declared")));
        }
        if hex(&hasher.finalize()) != entry.sha256 {
            return Err(refused(PackageError::EntryHashMismatch(entry.name.clone())));
        }
        Ok(())
    }

    fn declared(&self, name: &str) -> Result<u64, PackageError> {
        let declared = self.entries.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
        declared.ok_or_else(|| PackageError::MissingEntry(name.to_string()))
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
///
/// The writer gets whole chunks: inflate hands out pieces of deflate block
/// size, and writes that end mid-page made extraction writes three times
/// slower on ext4 (measured: 50 MiB in 75 ms instead of 20 ms).
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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
/// says that there is one): reads the end record and the central directory
/// back from `input` and scans their records directly.
fn duplicate_name(input: &mut dyn ReadSeek) -> Option<String> {
    let len = input.seek(SeekFrom::End(0)).ok()?;
    let tail_len = len.min(u64::from(u16::MAX) + 22);
    let tail = read_at(input, len - tail_len, tail_len)?;
    let eocd = tail.windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let count = le(&tail, eocd + 10, 2)?;
    let (cd_size, cd_at) = (le(&tail, eocd + 12, 4)?, le(&tail, eocd + 16, 4)?);
    let central = read_at(input, cd_at as u64, (cd_size as u64).min(len))?;
    let mut at = 0;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..count {
        if central.get(at..at + 4)? != b"PK\x01\x02" {
            return None;
        }
        let (n, extra, comment) = (le(&central, at + 28, 2)?, le(&central, at + 30, 2)?, le(&central, at + 32, 2)?);
        let name = central.get(at + 46..at + 46 + n)?;
        if !seen.insert(name) {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 46 + n + extra + comment;
    }
    None
}

/// `len` bytes of `input` from offset `at`.
fn read_at(input: &mut dyn ReadSeek, at: u64, len: u64) -> Option<Vec<u8>> {
    input.seek(SeekFrom::Start(at)).ok()?;
    let mut out = Vec::new();
    input.take(len).read_to_end(&mut out).ok()?;
    Some(out)
}

/// The little-endian number of `width` bytes at `at`.
fn le(bytes: &[u8], at: usize, width: usize) -> Option<usize> {
    let b = bytes.get(at..at + width)?;
    Some(b.iter().rev().fold(0usize, |acc, &x| (acc << 8) | usize::from(x)))
}
