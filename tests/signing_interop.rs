//! Interop with the openssl CLI: keys from `openssl genrsa` (PKCS#8) and
//! `genrsa -traditional` (PKCS#1), public keys from `openssl rsa -pubout`
//! (and `-RSAPublicKey_out`); a manifest signed by `openssl dgst -sha256
//! -sign` verifies here, and our signatures verify under `openssl dgst -verify`.

mod common;

use common::keys::{self, openssl_verifies};
use common::pkg::{Pkg, foo_info};
use runtime::tls::format::signing_input;
use runtime::tls::keys::{read_private_key, read_public_key};
use runtime::tls::{KeyStrength, PackageBuilder, SourceAuthority};

fn trust_only(dir: &std::path::Path, key: &keys::Key) {
    std::fs::copy(&key.public, dir.join("trusted_tls.key")).unwrap();
}

#[test]
fn a_package_signed_by_openssl_dgst_verifies() {
    let keystore = tempfile::tempdir().unwrap();
    let trust = tempfile::tempdir().unwrap();
    for (name, traditional) in [("pkcs8", false), ("pkcs1", true)] {
        let key = keys::make(keystore.path(), name, 2048, traditional);
        std::fs::remove_dir_all(trust.path()).unwrap();
        std::fs::create_dir(trust.path()).unwrap();
        trust_only(trust.path(), &key);
        let bytes = Pkg::foo("1.0").zip(&key);
        let file = trust.path().join("foo-1.0.tls");
        std::fs::write(&file, &bytes).unwrap();
        let v = SourceAuthority::new(trust.path()).verify_file(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.manifest.group, "foo");
        assert_eq!(v.key_file, trust.path().join("trusted_tls.key"));
        assert_eq!(v.key_strength, KeyStrength::Strong);
    }
}

#[test]
fn our_signatures_verify_under_openssl_dgst_verify() {
    let keystore = tempfile::tempdir().unwrap();
    for (name, traditional) in [("pkcs8", false), ("pkcs1", true)] {
        let key = keys::make(keystore.path(), name, 2048, traditional);
        let private = read_private_key(&key.private).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(private.bits, 2048);
        let mut b = PackageBuilder::new("foo", Some("1.0"), 1_700_000_000, &foo_info()).unwrap();
        b.library(runtime::TARGET_TRIPLE, "libfoo.so", std::fs::read(&test_support::plugins().foo).unwrap()).unwrap();
        let (bytes, _) = b.build(&private, false).unwrap();
        // Pull the stored manifest and signature back out and hand them to openssl.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k_tls.key"), std::fs::read(&key.public).unwrap()).unwrap();
        let v = SourceAuthority::new(dir.path()).verify_bytes(&bytes).unwrap();
        let manifest = b.manifest_bytes().unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&manifest).unwrap()["group"], "foo");
        let sig_hex = extract_signature(&bytes);
        assert!(
            openssl_verifies(&key.public, &signing_input(&manifest), &sig_hex),
            "{name}: openssl rejected our signature"
        );
        assert_eq!(v.manifest.actors, foo_info().classes);
    }
}

/// The raw signature bytes stored in a package's MANIFEST.sig.
fn extract_signature(package: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(package)).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("MANIFEST.sig").unwrap(), &mut text).unwrap();
    let sig: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hex = sig["signature"].as_str().unwrap();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn public_keys_in_every_openssl_form_are_read() {
    let keystore = tempfile::tempdir().unwrap();
    let key = keys::make(keystore.path(), "k", 2048, false);
    let spki = read_public_key(&key.public).unwrap();
    let pkcs1 = keystore.path().join("pkcs1_tls.key");
    keys::openssl(&["rsa", "-in", key.private.to_str().unwrap(), "-RSAPublicKey_out", "-out", pkcs1.to_str().unwrap()]);
    let from_pkcs1 = read_public_key(&pkcs1).unwrap();
    assert_eq!(spki.key_id, from_pkcs1.key_id, "both forms name the same key");
    assert_eq!(spki.bits, 2048);
    // The key id is the SHA-256 of the SPKI DER, as openssl computes it.
    let der = keys::openssl(&["pkey", "-pubin", "-in", key.public.to_str().unwrap(), "-outform", "DER"]);
    assert_eq!(spki.key_id, runtime::sha256_hex(&der));
}
