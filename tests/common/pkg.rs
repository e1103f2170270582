//! Assembling packages part by part, signed with the openssl CLI, so tests
//! can change any part (and re-sign it) before writing the archive.

use runtime::tls::format::{SIGNING_DOMAIN, signing_input};
use runtime::tls::{LibraryInfo, PackageBuilder};
use serde_json::Value as Json;

use super::keys::{self, Key};

/// A package as parts: the manifest (as JSON, editable) and the payload.
#[derive(Clone)]
pub struct Pkg {
    pub manifest: Json,
    pub payload: Vec<(String, Vec<u8>)>,
}

/// The foo library's header info (classes, ABI), read the way gensrc does.
pub fn foo_info() -> LibraryInfo {
    runtime::tls::inspect_library(&test_support::plugins().foo).expect("inspect foo")
}

impl Pkg {
    /// foo at `version` with its real library for this machine and one audit source.
    pub fn foo(version: &str) -> Pkg {
        let lib = std::fs::read(&test_support::plugins().foo).unwrap();
        let mut b = PackageBuilder::new("foo", Some(version), 1_700_000_000, &foo_info()).unwrap();
        b.library(runtime::TARGET_TRIPLE, "libfoo.so", lib.clone()).unwrap();
        b.source("lib.rs", b"// the audit copy\n".to_vec()).unwrap();
        let payload = vec![
            (format!("lib/{}/libfoo.so", runtime::TARGET_TRIPLE), lib),
            ("src/lib.rs".to_string(), b"// the audit copy\n".to_vec()),
        ];
        Pkg { manifest: serde_json::to_value(b.manifest()).unwrap(), payload }
    }

    pub fn manifest_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.manifest).unwrap()
    }

    /// The signature file for `manifest` bytes, signed by `key` via openssl.
    pub fn signature_file(manifest: &[u8], key: &Key) -> Vec<u8> {
        assert!(signing_input(manifest).starts_with(SIGNING_DOMAIN));
        let sig = keys::sign(&key.private, &signing_input(manifest));
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        serde_json::to_vec(&serde_json::json!({"algorithm": "rsa-pkcs1v15-sha256", "key_id": key.id, "signature": hex}))
            .unwrap()
    }

    /// Every entry, manifest and signature first.
    pub fn entries(&self, key: &Key) -> Vec<(String, Vec<u8>)> {
        self.entries_with_manifest(self.manifest_bytes(), key)
    }

    /// Every entry, with these exact manifest bytes (signed as they are).
    pub fn entries_with_manifest(&self, manifest: Vec<u8>, key: &Key) -> Vec<(String, Vec<u8>)> {
        let sig = Pkg::signature_file(&manifest, key);
        let mut out = vec![("MANIFEST.json".to_string(), manifest), ("MANIFEST.sig".to_string(), sig)];
        out.extend(self.payload.iter().cloned());
        out
    }

    /// The archive (Deflate, as gensrc writes it).
    pub fn zip(&self, key: &Key) -> Vec<u8> {
        zip_entries(&self.entries(key))
    }
}

pub fn zip_entries(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    runtime::tls::write_zip(&refs).unwrap()
}

/// A fresh trust directory holding one new openssl key (its private half
/// kept elsewhere and dropped) and `pkg` signed by it as `dir/file_name`.
pub fn signed_in_trust_dir(pkg: &Pkg, file_name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, keys_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = keys::make(keys_dir.path(), "main", 2048, false);
    std::fs::copy(&key.public, dir.path().join("main_tls.key")).unwrap();
    let file = dir.path().join(file_name);
    std::fs::write(&file, pkg.zip(&key)).unwrap();
    (dir, file)
}
