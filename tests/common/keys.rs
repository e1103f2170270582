//! Keys made by the real `openssl` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A key pair on disk.
#[derive(Debug, Clone)]
pub struct Key {
    pub private: PathBuf,
    pub public: PathBuf,
    pub id: String,
}

/// Runs openssl with `args`, panicking with its stderr on failure.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().expect("run openssl (install it: apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl genrsa` (PKCS#8 by default, PKCS#1 with `traditional`) plus
/// `openssl rsa -pubout` to `dir/NAME.pem` and `dir/NAME_tls.key`.
pub fn make(dir: &Path, name: &str, bits: u32, traditional: bool) -> Key {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}_tls.key"));
    let (p, q) = (private.to_str().unwrap(), public.to_str().unwrap());
    let bits = bits.to_string();
    if traditional {
        openssl(&["genrsa", "-traditional", "-out", p, &bits]);
    } else {
        openssl(&["genrsa", "-out", p, &bits]);
    }
    openssl(&["rsa", "-in", p, "-pubout", "-out", q]);
    let id = runtime::tls::keys::read_public_key(&public).map(|k| k.key_id).unwrap_or_default();
    Key { private, public, id }
}

/// `openssl dgst -sha256 -sign KEY` over `message`.
pub fn sign(key: &Path, message: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let sig = dir.path().join("sig");
    std::fs::write(&input, message).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().unwrap(),
        "-out",
        sig.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    std::fs::read(sig).unwrap()
}

/// `openssl dgst -sha256 -verify PUB -signature SIG` over `message`: true if "Verified OK".
pub fn openssl_verifies(public: &Path, message: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (input, sig) = (dir.path().join("input"), dir.path().join("sig"));
    std::fs::write(&input, message).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", public.to_str().unwrap(), "-signature", sig.to_str().unwrap()])
        .arg(&input)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}
