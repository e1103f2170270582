//! The Source Authority: the only way from package bytes to loadable code.
//!
//! It re-reads every `*_tls.key` on each verification (deleting a key file
//! revokes it for the next load), accepts a package if one trusted key
//! validates its signature, checks the archive strictly and every entry's
//! size and SHA-256 against the signed manifest, and picks this machine's
//! library. Every refusal is returned to the caller with its reason.

use std::io::Read;
use std::path::{Path, PathBuf};

use rsa::sha2::Sha256;

use crate::package::{VerifiedPackage, sha256_hex};
use crate::tls::error::{KeyError, PackageError};
use crate::tls::format::{
    self, EntryKind, MANIFEST_NAME, MAX_MANIFEST, MAX_SIGNATURE_FILE, Manifest, SIGNATURE_NAME, SignatureFile,
};
use crate::tls::keys::{self, KeyStrength, PublicKeyFile};
use crate::tls::ziparchive::StrictArchive;

/// From this package size on, the identity hash runs on its own thread.
const PARALLEL_HASH_BYTES: usize = 1 << 20;

/// Settings of a [`SourceAuthority`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Accept 1024-bit keys (with a warning). Off by default.
    pub allow_legacy_keys: bool,
    /// The largest package file accepted, in bytes.
    pub max_package_bytes: u64,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        TrustPolicy { allow_legacy_keys: false, max_package_bytes: 256 << 20 }
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
    /// The library for this machine: its entry name and bytes.
    library: (String, Vec<u8>),
    /// The dependency libraries for this machine.
    dependencies: Vec<(String, Vec<u8>)>,
    /// The audit sources, by entry name.
    sources: Vec<(String, Vec<u8>)>,
}

impl Verified {
    /// The bytes of an audit source (`name` with or without its `src/` prefix).
    pub fn source(&self, name: &str) -> Option<&[u8]> {
        let full = format::source_entry(name);
        self.sources.iter().find(|(n, _)| n == name || *n == full).map(|(_, b)| b.as_slice())
    }

    /// Converts into what [`ActorSystem::load`](crate::ActorSystem::load) takes.
    pub fn into_package(self) -> VerifiedPackage {
        let file_of = |entry: &str| entry.rsplit('/').next().unwrap_or(entry).to_string();
        VerifiedPackage {
            group: self.manifest.group.clone(),
            version: self.manifest.version_text().to_string(),
            hash: self.hash,
            library_name: file_of(&self.library.0),
            library: self.library.1,
            dependencies: self.dependencies.into_iter().map(|(n, b)| (file_of(&n), b)).collect(),
            actors: self.manifest.actors.clone(),
        }
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
            match keys::read_public_key(&file) {
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
    /// matches the signed group and version.
    pub fn verify_file(&self, path: &Path) -> Result<Verified, PackageError> {
        let bytes = self.read_package(path)?;
        let verified = self.verify_bytes(&bytes)?;
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let expected = format::file_name(&verified.manifest.group, verified.manifest.version.as_deref());
        if file != expected {
            return Err(PackageError::NameMismatch {
                file,
                group: verified.manifest.group.clone(),
                version: verified.manifest.version_text().to_string(),
                expected,
            });
        }
        Ok(verified)
    }

    fn read_package(&self, path: &Path) -> Result<Vec<u8>, PackageError> {
        let unreadable =
            |e: std::io::Error| PackageError::Unreadable { path: path.to_path_buf(), reason: e.to_string() };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PackageError::Missing(path.to_path_buf()));
            }
            Err(e) => return Err(unreadable(e)),
        };
        if !meta.is_file() {
            return Err(PackageError::NotAFile(path.to_path_buf()));
        }
        let cap = self.policy.max_package_bytes;
        if meta.len() > cap {
            return Err(PackageError::TooLarge { size: meta.len(), cap });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(path).map_err(unreadable)?.take(cap + 1).read_to_end(&mut bytes).map_err(unreadable)?;
        if bytes.len() as u64 > cap {
            return Err(PackageError::TooLarge { size: bytes.len() as u64, cap });
        }
        Ok(bytes)
    }

    /// Verifies package bytes (the file name is not checked here).
    pub fn verify_bytes(&self, bytes: &[u8]) -> Result<Verified, PackageError> {
        let cap = self.policy.max_package_bytes;
        if bytes.len() as u64 > cap {
            return Err(PackageError::TooLarge { size: bytes.len() as u64, cap });
        }
        // The file's identity hash is a whole pass over a possibly large
        // file; it runs beside the checks, which make their own pass.
        let (hash, verified) = std::thread::scope(|s| {
            let spawned = (bytes.len() >= PARALLEL_HASH_BYTES)
                .then(|| std::thread::Builder::new().name("tls-hash".into()).spawn_scoped(s, || sha256_hex(bytes)).ok())
                .flatten();
            let verified = self.verify_contents(bytes);
            let hash = spawned.and_then(|h| h.join().ok()).unwrap_or_else(|| sha256_hex(bytes));
            (hash, verified)
        });
        let c = verified?;
        let (library, dependencies, sources) = self.select(&c.manifest, c.files)?;
        Ok(Verified {
            manifest: c.manifest,
            hash,
            key_file: c.key_file,
            key_strength: c.key_strength,
            entries: c.entries,
            library,
            dependencies,
            sources,
        })
    }

    /// Everything but the identity hash: archive, signature, manifest, entries.
    fn verify_contents(&self, bytes: &[u8]) -> Result<Contents, PackageError> {
        let cap = self.policy.max_package_bytes;
        let mut archive = StrictArchive::open(bytes, |name| match name {
            MANIFEST_NAME => MAX_MANIFEST,
            SIGNATURE_NAME => MAX_SIGNATURE_FILE,
            _ => cap,
        })?;
        if !archive.contains(MANIFEST_NAME) {
            return Err(PackageError::MissingManifest);
        }
        if !archive.contains(SIGNATURE_NAME) {
            return Err(PackageError::MissingSignature);
        }
        let manifest_bytes = archive.read(MANIFEST_NAME)?;
        let signature = SignatureFile::parse(&archive.read(SIGNATURE_NAME)?)?;
        let (key_file, key_strength) = self.check_signature(&manifest_bytes, &signature)?;
        let manifest = Manifest::parse(&manifest_bytes)?;
        check_entry_set(&archive, &manifest)?;
        let contents = read_and_check_entries(&mut archive, &manifest)?;
        check_abi(&manifest)?;
        Ok(Contents { manifest, key_file, key_strength, entries: archive.entries.clone(), files: contents })
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

    /// Picks this machine's library and dependencies out of the checked contents.
    #[allow(clippy::type_complexity)]
    fn select(
        &self,
        manifest: &Manifest,
        contents: Vec<(String, Vec<u8>)>,
    ) -> Result<((String, Vec<u8>), Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>), PackageError> {
        let kind_of = |name: &str| manifest.entries.iter().find(|e| e.name == name).map(|e| (e.kind, e.target.clone()));
        let (mut library, mut deps, mut sources) = (None, Vec::new(), Vec::new());
        for (name, bytes) in contents {
            match kind_of(&name) {
                Some((EntryKind::Library, Some(t))) if t == self.target => library = Some((name, bytes)),
                Some((EntryKind::Dependency, Some(t))) if t == self.target => deps.push((name, bytes)),
                Some((EntryKind::Source, _)) => sources.push((name, bytes)),
                _ => {}
            }
        }
        let library = library.ok_or_else(|| PackageError::NoLibraryForTarget {
            target: self.target.clone(),
            available: manifest.targets(),
        })?;
        Ok((library, deps, sources))
    }
}

/// What [`SourceAuthority::verify_contents`] checked.
struct Contents {
    manifest: Manifest,
    key_file: PathBuf,
    key_strength: KeyStrength,
    /// Archive entry names and sizes.
    entries: Vec<(String, u64)>,
    /// Every listed entry's name and checked bytes.
    files: Vec<(String, Vec<u8>)>,
}

/// The archive must hold exactly the manifest, the signature and the listed entries.
fn check_entry_set(archive: &StrictArchive<'_>, manifest: &Manifest) -> Result<(), PackageError> {
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

/// Reads every listed entry and checks its size and SHA-256.
fn read_and_check_entries(
    archive: &mut StrictArchive<'_>,
    manifest: &Manifest,
) -> Result<Vec<(String, Vec<u8>)>, PackageError> {
    let mut out = Vec::with_capacity(manifest.entries.len());
    for e in &manifest.entries {
        let declared = archive.entries.iter().find(|(n, _)| *n == e.name).map_or(0, |(_, s)| *s);
        if declared != e.size {
            return Err(PackageError::EntrySizeMismatch { name: e.name.clone(), listed: e.size, actual: declared });
        }
        let bytes = archive.read(&e.name)?;
        if sha256_hex(&bytes) != e.sha256 {
            return Err(PackageError::EntryHashMismatch(e.name.clone()));
        }
        out.push((e.name.clone(), bytes));
    }
    Ok(out)
}

fn check_abi(manifest: &Manifest) -> Result<(), PackageError> {
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
