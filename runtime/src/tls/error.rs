//! Why a package or a key was refused. Each hostile input has its own variant.

use std::path::PathBuf;

/// Why a key file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {file}: {reason}")]
    Unreadable {
        /// The key file.
        file: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Not a PEM document we accept (empty, two blocks, text after END...).
    #[error("key file {file} is not a single PEM key: {reason}")]
    NotPem {
        /// The key file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A PEM label we do not accept.
    #[error("key file {file} holds a {label:?} block; expected {expected}")]
    WrongKind {
        /// The key file.
        file: PathBuf,
        /// The label found.
        label: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// Another user could change the key file.
    #[error("{0}")]
    Untrusted(crate::tls::trusted_file::UntrustedFile),
    /// A private key where only public keys belong.
    #[error(
        "{file} is a PRIVATE key in the trusted-key directory: remove it (anyone who can read it can sign packages)"
    )]
    PrivateKeyInTrustDir {
        /// The key file.
        file: PathBuf,
    },
    /// The key's contents do not parse as RSA.
    #[error("key file {file} is not a valid RSA key: {reason}")]
    Malformed {
        /// The key file.
        file: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The key is smaller than the policy allows.
    #[error("key in {file} has {bits} bits; at least {min} are required{hint}")]
    TooSmall {
        /// The key file.
        file: PathBuf,
        /// Its size.
        bits: usize,
        /// The policy minimum in force.
        min: usize,
        /// How to allow a legacy key, when that would help.
        hint: &'static str,
    },
}

/// Why a package was refused. Nothing of a refused package is extracted or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// The file does not exist.
    #[error("the package file {0} does not exist")]
    Missing(PathBuf),
    /// The file could not be read.
    #[error("cannot read package {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Not a regular file.
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    /// Some process has the file open for writing.
    #[error("{0} is open for writing by another process (still being copied?); try again once it is complete")]
    BeingWritten(PathBuf),
    /// The file was opened for writing while it was verified.
    #[error("{0} was opened for writing while it was being verified; nothing was loaded from it; try again")]
    ChangedWhileVerified(PathBuf),
    /// Another user could change the package file.
    #[error("{0}")]
    UntrustedFile(crate::tls::trusted_file::UntrustedFile),
    /// Larger than the package size cap.
    #[error("package is {size} bytes, over the {cap}-byte cap")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// Not a readable ZIP (truncated, garbage, damaged directory).
    #[error("not a valid package archive: {0}")]
    NotAnArchive(String),
    /// Bytes before the archive (a polyglot file).
    #[error("{0} unexpected bytes before the archive")]
    PrefixedData(u64),
    /// Local headers disagree with the central directory, or entries overlap.
    #[error("inconsistent archive headers: {0}")]
    InconsistentHeaders(String),
    /// Two entries with one name.
    #[error("duplicate archive entry {0:?}")]
    DuplicateEntry(String),
    /// A name that is not a plain relative path.
    #[error("archive entry name {name:?} refused: {why}")]
    BadEntryName {
        /// The raw name (lossy).
        name: String,
        /// Why.
        why: &'static str,
    },
    /// A directory entry.
    #[error("archive entry {0:?} is a directory; packages hold files only")]
    DirectoryEntry(String),
    /// A symbolic link entry.
    #[error("archive entry {0:?} is a symbolic link")]
    SymlinkEntry(String),
    /// An encrypted entry.
    #[error("archive entry {0:?} is encrypted")]
    EncryptedEntry(String),
    /// A compression method other than Stored or Deflate.
    #[error("archive entry {name:?} uses unsupported compression {method}")]
    UnsupportedCompression {
        /// The entry.
        name: String,
        /// The method.
        method: String,
    },
    /// More entries than allowed.
    #[error("archive has {count} entries, over the {cap} cap")]
    TooManyEntries {
        /// How many.
        count: usize,
        /// The cap.
        cap: usize,
    },
    /// An entry larger than its cap.
    #[error("archive entry {name:?} is {size} bytes, over its {cap}-byte cap")]
    EntryTooLarge {
        /// The entry.
        name: String,
        /// Its declared size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// An entry that expands far more than real code does.
    #[error("archive entry {name:?} expands {ratio}x ({size} bytes from {compressed}): refused as a compression bomb")]
    CompressionBomb {
        /// The entry.
        name: String,
        /// Declared uncompressed size.
        size: u64,
        /// Compressed size.
        compressed: u64,
        /// The ratio.
        ratio: u64,
    },
    /// An entry whose data could not be read (bad CRC, wrong size, damage).
    #[error("archive entry {name:?} is damaged: {reason}")]
    DamagedEntry {
        /// The entry.
        name: String,
        /// The reader's message.
        reason: String,
    },
    /// No `MANIFEST.json`.
    #[error("the package has no MANIFEST.json")]
    MissingManifest,
    /// No `MANIFEST.sig`.
    #[error("the package has no MANIFEST.sig")]
    MissingSignature,
    /// `MANIFEST.sig` does not parse.
    #[error("MANIFEST.sig is malformed: {0}")]
    BadSignatureFile(String),
    /// `MANIFEST.json` does not parse or breaks a rule.
    #[error("MANIFEST.json is invalid: {0}")]
    BadManifest(String),
    /// No `*_tls.key` file to verify with.
    #[error("no trusted keys (*_tls.key) in {0}")]
    NoTrustedKeys(PathBuf),
    /// A key problem that refuses every package (a private key in the trust dir).
    #[error(transparent)]
    TrustDir(KeyError),
    /// No trusted key validates the signature.
    #[error("no trusted key validates the signature (tried: {})", tried.join("; "))]
    Untrusted {
        /// What each key file said.
        tried: Vec<String>,
    },
    /// An entry the manifest does not list.
    #[error("archive entry {0:?} is not listed in the signed manifest")]
    UnlistedEntry(String),
    /// A listed entry that is not in the archive.
    #[error("the signed manifest lists {0:?} but the archive does not hold it")]
    MissingEntry(String),
    /// Size differs from the manifest.
    #[error("archive entry {name:?} is {actual} bytes; the signed manifest says {listed}")]
    EntrySizeMismatch {
        /// The entry.
        name: String,
        /// The manifest's size.
        listed: u64,
        /// The real size.
        actual: u64,
    },
    /// SHA-256 differs from the manifest.
    #[error("archive entry {0:?} does not match its SHA-256 in the signed manifest")]
    EntryHashMismatch(String),
    /// Built against another actor-abi.
    #[error("package is built for actor ABI version {package}, this host speaks version {host}")]
    AbiMismatch {
        /// The package's ABI version.
        package: u32,
        /// The host's.
        host: u32,
    },
    /// Same ABI version, different layout fingerprint.
    #[error("package has ABI layout fingerprint {package}, this host has {host}")]
    FingerprintMismatch {
        /// The package's fingerprint (hex).
        package: String,
        /// The host's (hex).
        host: String,
    },
    /// No library for this machine.
    #[error("package has no library for target {target} (it has: {})", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    NoLibraryForTarget {
        /// This machine's target triple.
        target: String,
        /// The targets it has.
        available: Vec<String>,
    },
    /// The file name disagrees with the signed group and version.
    #[error(
        "file name {file:?} does not match the signed manifest (group {group:?}, version {version:?}): expected {expected:?}"
    )]
    NameMismatch {
        /// The file name.
        file: String,
        /// The signed group.
        group: String,
        /// The signed version.
        version: String,
        /// The name it should have.
        expected: String,
    },
}

impl PackageError {
    /// True for refusals about trust (signature and keys), as opposed to a
    /// damaged or malformed package. The CLI maps these to exit status 7.
    pub fn is_trust_failure(&self) -> bool {
        matches!(self, PackageError::NoTrustedKeys(_) | PackageError::TrustDir(_) | PackageError::Untrusted { .. })
    }
}
