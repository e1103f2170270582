//! The package format: entry names, the signed manifest and the signature file.

use serde::{Deserialize, Serialize};

use crate::tls::error::PackageError;

/// Current package format number (`format` in the manifest).
pub const FORMAT: u32 = 1;
/// The manifest's entry name.
pub const MANIFEST_NAME: &str = "MANIFEST.json";
/// The signature's entry name.
pub const SIGNATURE_NAME: &str = "MANIFEST.sig";
/// The one signature algorithm accepted.
pub const ALGORITHM: &str = "rsa-pkcs1v15-sha256";
/// Prefixed to the manifest bytes before signing, so a package signature can
/// never be valid for anything else the same key signs.
pub const SIGNING_DOMAIN: &[u8] = b"thespian-tls-manifest-v1\n";

/// Largest manifest accepted.
pub const MAX_MANIFEST: u64 = 1 << 20;
/// Largest signature file accepted.
pub const MAX_SIGNATURE_FILE: u64 = 16 << 10;
/// Most entries a package may hold.
pub const MAX_ENTRIES: usize = 4096;
/// Highest uncompressed/compressed ratio accepted for entries over 1 MiB.
pub const MAX_RATIO: u64 = 200;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// The package's plugin library for one target (`lib/TRIPLE/FILE`).
    Library,
    /// An extra shared library loaded beside it (`deps/TRIPLE/FILE`).
    Dependency,
    /// An audit source file (`src/PATH`).
    Source,
}

/// One entry the manifest binds: exact name, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryInfo {
    /// The exact archive entry name.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// The target triple, for libraries and dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// SHA-256 of the uncompressed bytes, lowercase hex.
    pub sha256: String,
}

/// The ABI a package's libraries were built against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbiInfo {
    /// `actor_abi::ffi::ABI_VERSION`.
    pub version: u32,
    /// `actor_abi::ffi::LAYOUT_FINGERPRINT` as 16 lowercase hex digits.
    pub fingerprint: String,
    /// The `actor-abi` crate version.
    pub crate_version: String,
}

/// The signed description of a package. Serialised once by `gensrc`; the
/// stored bytes are exactly the bytes that were signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: u32,
    /// The group.
    pub group: String,
    /// The version; `None` for an unversioned package.
    pub version: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The ABI of its libraries.
    pub abi: AbiInfo,
    /// The exported actor class names.
    pub actors: Vec<String>,
    /// Every entry except the manifest and the signature.
    pub entries: Vec<EntryInfo>,
    /// The group's TLI text, when one was given to gensrc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tli: Option<String>,
}

/// The contents of `MANIFEST.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// SHA-256 of the signer's public key (SubjectPublicKeyInfo DER), hex.
    pub key_id: String,
    /// The RSA signature, hex.
    pub signature: String,
}

/// The bytes that are signed: [`SIGNING_DOMAIN`] then the manifest bytes.
pub fn signing_input(manifest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + manifest.len());
    out.extend_from_slice(SIGNING_DOMAIN);
    out.extend_from_slice(manifest);
    out
}

/// The file name a package of `group` and `version` must have.
pub fn file_name(group: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{group}-{v}.tls"),
        None => format!("{group}.tls"),
    }
}

/// Checks a group name: letters, digits, `_` and `.`; no `-` (it separates
/// the version in file names).
pub fn check_group(group: &str) -> Result<(), String> {
    let ok = !group.is_empty()
        && group.len() <= 128
        && !group.starts_with('.')
        && group.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok { Ok(()) } else { Err(format!("group {group:?} must be 1-128 of [A-Za-z0-9_.], not starting with '.'")) }
}

/// Checks a version: letters, digits and `._+~-`, 1-64 characters.
pub fn check_version(version: &str) -> Result<(), String> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version.chars().all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c));
    if ok { Ok(()) } else { Err(format!("version {version:?} must be 1-64 of [A-Za-z0-9._+~-]")) }
}

/// Checks a raw entry name: UTF-8, relative, `/`-separated, no empty, `.`
/// or `..` components, no backslash, NUL or control characters.
pub fn check_entry_name(raw: &[u8]) -> Result<&str, PackageError> {
    let lossy = || String::from_utf8_lossy(raw).into_owned();
    let bad = |why| PackageError::BadEntryName { name: lossy(), why };
    let name = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
    if name.is_empty() || name.len() > 1024 {
        return Err(bad("empty or longer than 1024 bytes"));
    }
    if name.starts_with('/') {
        return Err(bad("absolute path"));
    }
    if name.contains('\\') || name.contains(':') {
        return Err(bad("contains a backslash or a drive separator"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains a control character"));
    }
    for part in name.split('/') {
        match part {
            "" => return Err(bad("empty path component (trailing or doubled '/')")),
            "." | ".." => return Err(bad("'.' or '..' path component")),
            _ => {}
        }
    }
    Ok(name)
}

/// The entry name of the library of `target` named `file`.
pub fn library_entry(target: &str, file: &str) -> String {
    format!("lib/{target}/{file}")
}

/// The entry name of a dependency library of `target` named `file`.
pub fn dependency_entry(target: &str, file: &str) -> String {
    format!("deps/{target}/{file}")
}

/// The entry name of an audit source at `relative` path.
pub fn source_entry(relative: &str) -> String {
    format!("src/{relative}")
}

impl Manifest {
    /// Parses manifest bytes strictly (unknown fields and duplicate keys are
    /// refused) and checks the rules no serde attribute expresses.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, PackageError> {
        let bad = |e: String| PackageError::BadManifest(e);
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if m.format != FORMAT {
            return Err(bad(format!("format {} is not supported (this host reads format {FORMAT})", m.format)));
        }
        check_group(&m.group).map_err(bad)?;
        if let Some(v) = &m.version {
            check_version(v).map_err(bad)?;
        }
        m.check_entries()?;
        if m.actors.is_empty() {
            return Err(bad("no exported actors".into()));
        }
        Ok(m)
    }

    fn check_entries(&self) -> Result<(), PackageError> {
        let bad = |e: String| PackageError::BadManifest(e);
        let mut seen = std::collections::HashSet::new();
        for e in &self.entries {
            check_entry_name(e.name.as_bytes())?;
            if !seen.insert(e.name.as_str()) || e.name == MANIFEST_NAME || e.name == SIGNATURE_NAME {
                return Err(bad(format!("entry {:?} is listed twice or reserved", e.name)));
            }
            if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(bad(format!("entry {:?} has a malformed sha256 {:?}", e.name, e.sha256)));
            }
            let prefix = match e.kind {
                EntryKind::Library => "lib/",
                EntryKind::Dependency => "deps/",
                EntryKind::Source => "src/",
            };
            let needs_target = e.kind != EntryKind::Source;
            if !e.name.starts_with(prefix) || needs_target != e.target.is_some() {
                return Err(bad(format!("entry {:?} does not fit its kind {:?}", e.name, e.kind)));
            }
        }
        let libs: Vec<&str> = self.libraries().filter_map(|e| e.target.as_deref()).collect();
        let unique: std::collections::HashSet<&&str> = libs.iter().collect();
        if unique.len() != libs.len() {
            return Err(bad("two libraries for one target".into()));
        }
        Ok(())
    }

    /// The plugin libraries, one per target.
    pub fn libraries(&self) -> impl Iterator<Item = &EntryInfo> {
        self.entries.iter().filter(|e| e.kind == EntryKind::Library)
    }

    /// The targets the package has libraries for.
    pub fn targets(&self) -> Vec<String> {
        self.libraries().filter_map(|e| e.target.clone()).collect()
    }

    /// The version text, empty for unversioned.
    pub fn version_text(&self) -> &str {
        self.version.as_deref().unwrap_or("")
    }
}

impl SignatureFile {
    /// Parses `MANIFEST.sig` strictly.
    pub fn parse(bytes: &[u8]) -> Result<SignatureFile, PackageError> {
        let bad = |e: String| PackageError::BadSignatureFile(e);
        let s: SignatureFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if s.algorithm != ALGORITHM {
            return Err(bad(format!("algorithm {:?} is not accepted (only {ALGORITHM})", s.algorithm)));
        }
        Ok(s)
    }

    /// The raw signature bytes.
    pub fn signature_bytes(&self) -> Result<Vec<u8>, PackageError> {
        from_hex(&self.signature).ok_or_else(|| PackageError::BadSignatureFile("signature is not hex".into()))
    }
}

/// Decodes lowercase or uppercase hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_plain_relative_paths() {
        for good in ["MANIFEST.json", "lib/x86_64-unknown-linux-gnu/libfoo.so", "src/a/b.rs"] {
            assert!(check_entry_name(good.as_bytes()).is_ok(), "{good}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../x", "a//b", "a/", "./x", "C:\\x", "C:/x", "a\0b", "\\\\srv\\x"] {
            assert!(check_entry_name(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(check_entry_name(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn groups_and_versions_follow_the_file_name_rules() {
        assert!(check_group("foo").is_ok() && check_group("foo.bar_2").is_ok());
        assert!(check_group("foo-bar").is_err() && check_group("").is_err() && check_group(".x").is_err());
        assert!(check_version("1.0").is_ok() && check_version("202611271830").is_ok());
        assert!(check_version("1/0").is_err() && check_version("").is_err());
        assert_eq!(file_name("foo", Some("1.0")), "foo-1.0.tls");
        assert_eq!(file_name("foo", None), "foo.tls");
    }

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
