//! The Source Authority: the only way from package bytes to loadable code.
//!
//! It re-reads every `*_tls.key` on each verification (deleting a key file
//! revokes it for the next load), accepts a package if one trusted key
//! validates its signature, checks the archive strictly and every entry's
//! size and SHA-256 against the signed manifest, and picks this machine's
//! library. Every refusal is returned to the caller with its reason.

use std::path::{Path, PathBuf};

use rsa::sha2::Sha256;

use crate::tls::contents::{self, CheckOnly, LibrarySink};
use crate::tls::error::{KeyError, PackageError};
use crate::tls::format::{
    self, MANIFEST_NAME, MAX_MANIFEST, MAX_SIGNATURE_FILE, Manifest, SIGNATURE_NAME, SignatureFile,
};
use crate::tls::keys::{self, KeyStrength, PublicKeyFile};
use crate::tls::package_file::{self, PackageBytes, ReadSeek};
use crate::tls::ziparchive::StrictArchive;

/// From this package size on, the identity hash runs on its own thread.
const PARALLEL_HASH_BYTES: u64 = 1 << 20;

/// Settings of a [`SourceAuthority`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Accept 1024-bit keys (with a warning). Off by default.
    pub allow_legacy_keys: bool,
    /// The largest package file accepted, in bytes.
    pub max_package_bytes: u64,
    /// Refuse key and package files that another user could change
    /// (owned by someone else, or group/world-writable). On by default.
    pub strict_modes: bool,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        TrustPolicy { allow_legacy_keys: false, max_package_bytes: 256 << 20, strict_modes: true }
    }
}

/// Verifies packages against the keys in one directory.
#[derive(Debug, Clone)]
pub struct SourceAuthority {
    trust_dir: PathBuf,
    policy: TrustPolicy,
    target: String,
}

/// A package that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed manifest.
    pub manifest: Manifest,
    /// SHA-256 of the whole file, hex: the package's identity.
    pub hash: String,
    /// The key file whose key validated the signature.
    pub key_file: PathBuf,
    /// Whether that key is full-size or legacy.
    pub key_strength: KeyStrength,
    /// Every archive entry with its size, in archive order.
    pub entries: Vec<(String, u64)>,
    /// The audit sources, by entry name.
    sources: Vec<(String, Vec<u8>)>,
}

impl Verified {
    /// The bytes of an audit source (`name` with or without its `src/` prefix).
    pub fn source(&self, name: &str) -> Option<&[u8]> {
        let full = format::source_entry(name);
        self.sources.iter().find(|(n, _)| n == name || *n == full).map(|(_, b)| b.as_slice())
    }
}

impl SourceAuthority {
    /// An authority that trusts the `*_tls.key` files in `trust_dir`.
    pub fn new(trust_dir: impl Into<PathBuf>) -> Self {
        SourceAuthority {
            trust_dir: trust_dir.into(),
            policy: TrustPolicy::default(),
            target: crate::TARGET_TRIPLE.into(),
        }
    }

    /// Replaces the policy.
    pub fn with_policy(mut self, policy: TrustPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &TrustPolicy {
        &self.policy
    }

    /// The directory whose keys are trusted.
    pub fn trust_dir(&self) -> &Path {
        &self.trust_dir
    }

    /// Reads every `*_tls.key` now. Returns the usable keys and the problems
    /// of the others; a private key among them is an error of its own.
    pub fn trusted_keys(&self) -> Result<(Vec<PublicKeyFile>, Vec<KeyError>), PackageError> {
        let entries =
            std::fs::read_dir(&self.trust_dir).map_err(|_| PackageError::NoTrustedKeys(self.trust_dir.clone()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_tls.key")))
            .collect();
        files.sort();
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for file in files {
            match keys::read_trusted_public_key(&file, self.policy.strict_modes) {
                Ok(k) => match keys::check_size(&file, k.bits, self.policy.allow_legacy_keys) {
                    Ok(_) => good.push(k),
                    Err(e) => bad.push(e),
                },
                Err(e @ KeyError::PrivateKeyInTrustDir { .. }) => return Err(PackageError::TrustDir(e)),
                Err(e) => bad.push(e),
            }
        }
        if good.is_empty() && bad.is_empty() {
            return Err(PackageError::NoTrustedKeys(self.trust_dir.clone()));
        }
        Ok((good, bad))
    }

    /// Verifies the package file at `path`, including that its file name
    /// matches the signed group and version. The file is read in place, in
    /// small chunks: a large package costs no memory of its size.
    pub fn verify_file(&self, path: &Path) -> Result<Verified, PackageError> {
        let bytes = PackageBytes::open(path, self.policy.max_package_bytes, self.policy.strict_modes)?;
        let verified = self.verify_input(&bytes, &mut CheckOnly)?;
        check_file_name(path, &verified)?;
        Ok(verified)
    }

    /// Verifies package bytes (the file name is not checked here).
    pub fn verify_bytes(&self, bytes: &[u8]) -> Result<Verified, PackageError> {
        let cap = self.policy.max_package_bytes;
        if bytes.len() as u64 > cap {
            return Err(PackageError::TooLarge { size: bytes.len() as u64, cap });
        }
        self.verify_input(&PackageBytes::Memory(bytes), &mut CheckOnly)
    }

    /// Every check, with this machine's code streamed into `sink`. The
    /// identity hash is a pass of its own over a possibly large file; it runs
    /// beside the checks.
    pub(crate) fn verify_input<S: LibrarySink>(
        &self,
        bytes: &PackageBytes<'_>,
        sink: &mut S,
    ) -> Result<Verified, S::Error> {
        let (hash, contents) = std::thread::scope(|s| {
            let spawned = (bytes.len() >= PARALLEL_HASH_BYTES)
                .then(|| std::thread::Builder::new().name("tls-hash".into()).spawn_scoped(s, || bytes.identity_hash()))
                .and_then(Result::ok);
            let contents = package_file::with_reader(bytes, |input| self.check_contents(input, sink));
            let hash = match spawned.map(|h| h.join()) {
                Some(Ok(hash)) => hash,
                _ => bytes.identity_hash(),
            };
            (hash, contents)
        });
        let c = contents?;
        bytes.confirm_unchanged()?;
        Ok(Verified {
            manifest: c.manifest,
            hash: hash?,
            key_file: c.key_file,
            key_strength: c.key_strength,
            entries: c.entries,
            sources: c.sources,
        })
    }

    /// Everything but the identity hash: archive, signature, manifest, entries.
    fn check_contents<S: LibrarySink>(&self, input: &mut dyn ReadSeek, sink: &mut S) -> Result<Contents, S::Error> {
        let cap = self.policy.max_package_bytes;
        let mut archive = StrictArchive::open(input, |name| match name {
            MANIFEST_NAME => MAX_MANIFEST,
            SIGNATURE_NAME => MAX_SIGNATURE_FILE,
            _ => cap,
        })?;
        if !archive.contains(MANIFEST_NAME) {
            return Err(PackageError::MissingManifest.into());
        }
        if !archive.contains(SIGNATURE_NAME) {
            return Err(PackageError::MissingSignature.into());
        }
        let manifest_bytes = archive.read(MANIFEST_NAME)?;
        let signature = SignatureFile::parse(&archive.read(SIGNATURE_NAME)?)?;
        let (key_file, key_strength) = self.check_signature(&manifest_bytes, &signature)?;
        let manifest = Manifest::parse(&manifest_bytes)?;
        contents::check_entry_set(&archive, &manifest)?;
        contents::check_abi(&manifest)?;
        contents::check_target(&manifest, &self.target)?;
        let sources = contents::stream_entries(&mut archive, &manifest, &self.target, sink)?;
        Ok(Contents { manifest, key_file, key_strength, entries: archive.entries.clone(), sources })
    }

    fn check_signature(&self, manifest: &[u8], sig: &SignatureFile) -> Result<(PathBuf, KeyStrength), PackageError> {
        let (mut good, bad) = self.trusted_keys()?;
        let signature = sig.signature_bytes()?;
        let message = format::signing_input(manifest);
        // The named key first, then every other trusted key.
        good.sort_by_key(|k| k.key_id != sig.key_id);
        let mut tried: Vec<String> = bad.iter().map(ToString::to_string).collect();
        for key in &good {
            match key.key.pkcs1v15_verify::<Sha256>(&message, &signature) {
                Ok(()) => {
                    // Only keys that passed the size policy are in `good`.
                    let strength = if key.bits >= keys::MIN_BITS { KeyStrength::Strong } else { KeyStrength::Legacy };
                    if strength == KeyStrength::Legacy {
                        log::warn!("package verified with legacy {}-bit key {}", key.bits, key.path.display());
                    }
                    return Ok((key.path.clone(), strength));
                }
                Err(_) => tried.push(format!("{}: signature does not verify", key.path.display())),
            }
        }
        Err(PackageError::Untrusted { tried })
    }
}

/// What [`SourceAuthority::check_contents`] checked.
struct Contents {
    manifest: Manifest,
    key_file: PathBuf,
    key_strength: KeyStrength,
    /// Archive entry names and sizes.
    entries: Vec<(String, u64)>,
    /// The audit sources' names and checked bytes.
    sources: Vec<(String, Vec<u8>)>,
}

/// A package file's name must be the one its signed group and version give.
pub(crate) fn check_file_name(path: &Path, verified: &Verified) -> Result<(), PackageError> {
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let expected = format::file_name(&verified.manifest.group, verified.manifest.version.as_deref());
    if file == expected {
        return Ok(());
    }
    Err(PackageError::NameMismatch {
        file,
        group: verified.manifest.group.clone(),
        version: verified.manifest.version_text().to_string(),
        expected,
    })
}
