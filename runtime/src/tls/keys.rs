//! Reading RSA keys as `openssl` writes them, and the key-size policy.
//!
//! The PEM label picks the parser: `PUBLIC KEY` (SPKI, `openssl rsa
//! -pubout`), `RSA PUBLIC KEY` (PKCS#1), `PRIVATE KEY` (PKCS#8, OpenSSL 3
//! `genrsa`) and `RSA PRIVATE KEY` (PKCS#1, `genrsa -traditional`). A file
//! must hold exactly one PEM block and nothing after it.

use std::path::{Path, PathBuf};

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};

use crate::package::hex;
use crate::tls::error::KeyError;
use crate::tls::trusted_file::{self, ReadError};

/// Keys of this many bits or more are accepted without question.
pub const MIN_BITS: usize = 2048;
/// The smallest key accepted at all, and only with the legacy setting.
pub const LEGACY_MIN_BITS: usize = 1024;
/// Largest key file read.
const MAX_KEY_FILE: u64 = 64 << 10;

/// How a key fared against the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStrength {
    /// At least [`MIN_BITS`].
    Strong,
    /// Between [`LEGACY_MIN_BITS`] and [`MIN_BITS`], accepted only because
    /// the legacy setting is on.
    Legacy,
}

/// Applies the size policy to a key of `bits` from `file`.
pub fn check_size(file: &Path, bits: usize, allow_legacy: bool) -> Result<KeyStrength, KeyError> {
    if bits >= MIN_BITS {
        return Ok(KeyStrength::Strong);
    }
    if allow_legacy && bits >= LEGACY_MIN_BITS {
        return Ok(KeyStrength::Legacy);
    }
    let (min, hint) = if bits >= LEGACY_MIN_BITS {
        (MIN_BITS, " (a 1024-bit legacy key needs --allow-legacy-key)")
    } else {
        (if allow_legacy { LEGACY_MIN_BITS } else { MIN_BITS }, "")
    };
    Err(KeyError::TooSmall { file: file.to_path_buf(), bits, min, hint })
}

/// A trusted public key (`*_tls.key`).
#[derive(Debug, Clone)]
pub struct PublicKeyFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The key.
    pub key: PublicKey,
    /// Modulus size in bits.
    pub bits: usize,
    /// SHA-256 of its SubjectPublicKeyInfo DER, hex: the key id in signatures.
    pub key_id: String,
}

/// A signing key.
#[derive(Debug, Clone)]
pub struct PrivateKeyFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The key.
    pub key: PrivateKey,
    /// Modulus size in bits.
    pub bits: usize,
}

impl PrivateKeyFile {
    /// The matching public key's id.
    pub fn key_id(&self) -> Result<String, KeyError> {
        key_id(&self.key.to_public_key(), &self.path)
    }
}

/// Reads a key file (capped); when `strict`, only one no other user can change.
fn read_capped(path: &Path, strict: bool) -> Result<Vec<u8>, KeyError> {
    trusted_file::read(path, MAX_KEY_FILE, strict).map_err(|e| match e {
        ReadError::Untrusted(u) => KeyError::Untrusted(u),
        ReadError::TooLarge { size, cap, .. } => {
            KeyError::Unreadable { file: path.to_path_buf(), reason: format!("{size} bytes, over the {cap}-byte cap") }
        }
        ReadError::NotAFile(_) => {
            KeyError::Unreadable { file: path.to_path_buf(), reason: "not a regular file".into() }
        }
        other => KeyError::Unreadable { file: path.to_path_buf(), reason: other.to_string() },
    })
}

/// Decodes the single PEM block of a key file.
fn decode_pem(path: &Path, bytes: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    let not_pem = |reason: String| KeyError::NotPem { file: path.to_path_buf(), reason };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(not_pem("the file is empty".into()));
    }
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(bytes).map_err(|e| not_pem(e.to_string()))?;
    Ok((label.to_string(), der))
}

fn key_id(key: &PublicKey, path: &Path) -> Result<String, KeyError> {
    let der =
        key.to_public_key_der().map_err(|e| KeyError::Malformed { file: path.to_path_buf(), reason: e.to_string() })?;
    Ok(hex(&Sha256::digest(der.as_bytes())))
}

fn bits_of(n_bits: u32) -> usize {
    n_bits as usize
}

/// Reads a trusted public key. A private key here is an error of its own.
pub fn read_public_key(path: &Path) -> Result<PublicKeyFile, KeyError> {
    read_trusted_public_key(path, false)
}

/// Reads a trusted public key; when `strict`, the file must be one no other
/// user can change (see [`crate::tls::trusted_file`]).
pub fn read_trusted_public_key(path: &Path, strict: bool) -> Result<PublicKeyFile, KeyError> {
    let bytes = read_capped(path, strict)?;
    let (label, der) = decode_pem(path, &bytes)?;
    let malformed = |reason: String| KeyError::Malformed { file: path.to_path_buf(), reason };
    let key = match label.as_str() {
        "PUBLIC KEY" => PublicKey::from_public_key_der(&der).map_err(|e| malformed(size_hint(&der, true, e)))?,
        "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(&der).map_err(|e| malformed(size_hint(&der, false, e)))?,
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
            return Err(KeyError::PrivateKeyInTrustDir { file: path.to_path_buf() });
        }
        _ => {
            let expected = "PUBLIC KEY or RSA PUBLIC KEY";
            return Err(KeyError::WrongKind { file: path.to_path_buf(), label, expected });
        }
    };
    let bits = bits_of(key.n().as_ref().bit_width());
    let key_id = key_id(&key, path)?;
    Ok(PublicKeyFile { path: path.to_path_buf(), key, bits, key_id })
}

/// Reads a private signing key (PKCS#8 or PKCS#1 PEM, unencrypted).
pub fn read_private_key(path: &Path) -> Result<PrivateKeyFile, KeyError> {
    let bytes = read_capped(path, false)?;
    let (label, der) = decode_pem(path, &bytes)?;
    let malformed = |reason: String| KeyError::Malformed { file: path.to_path_buf(), reason };
    let key = match label.as_str() {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der).map_err(|e| malformed(e.to_string()))?,
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&der).map_err(|e| malformed(e.to_string()))?,
        _ => {
            let expected = "PRIVATE KEY or RSA PRIVATE KEY (unencrypted)";
            return Err(KeyError::WrongKind { file: path.to_path_buf(), label, expected });
        }
    };
    let bits = bits_of(key.n().as_ref().bit_width());
    Ok(PrivateKeyFile { path: path.to_path_buf(), key, bits })
}

/// The crate refuses keys under 1024 bits with a generic error; read the
/// modulus size ourselves so the message can say how big the key is.
fn size_hint(der: &[u8], spki: bool, err: impl std::fmt::Display) -> String {
    let rsa_der = if spki {
        rsa::pkcs8::SubjectPublicKeyInfoRef::from_der(der)
            .ok()
            .and_then(|info| info.subject_public_key.as_bytes().map(<[u8]>::to_vec))
    } else {
        Some(der.to_vec())
    };
    let bits = rsa_der.and_then(|d| {
        rsa::pkcs1::RsaPublicKey::<rsa::pkcs8::der::asn1::UintRef<'_>>::from_der(&d)
            .ok()
            .map(|k| k.modulus.as_bytes().len() * 8)
    });
    match bits {
        Some(b) if b < LEGACY_MIN_BITS => format!("{b}-bit modulus: keys under {LEGACY_MIN_BITS} bits are refused"),
        _ => err.to_string(),
    }
}

/// Generates a new RSA key of `bits` from the operating system's RNG.
pub fn generate(bits: usize) -> Result<PrivateKey, String> {
    let mut rng = getrandom::SysRng;
    PrivateKey::new(&mut rng, bits).map_err(|e| e.to_string())
}

/// The PEM texts of a key pair: the private key as PKCS#8 (`PRIVATE KEY`,
/// as OpenSSL 3 `genrsa` writes it) and the public key as SPKI (`PUBLIC
/// KEY`, as `openssl rsa -pubout` writes it).
pub fn pem_pair(key: &PrivateKey) -> Result<(String, String), String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?.to_string();
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_policy() {
        let p = Path::new("k");
        assert_eq!(check_size(p, 3072, false), Ok(KeyStrength::Strong));
        assert_eq!(check_size(p, 2048, false), Ok(KeyStrength::Strong));
        assert!(matches!(check_size(p, 1024, false), Err(KeyError::TooSmall { min: 2048, .. })));
        assert_eq!(check_size(p, 1024, true), Ok(KeyStrength::Legacy));
        assert!(matches!(check_size(p, 512, true), Err(KeyError::TooSmall { min: 1024, .. })));
    }
}
