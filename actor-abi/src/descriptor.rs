//! The package descriptor: what a library exports (ABI version, layout
//! fingerprint, `actor-abi` version and actor class names), written by
//! [`export_actors!`](crate::export_actors) into a section of its own so that
//! packaging tools read it from the file without loading the library or
//! running any of its code (constructors included), for any target.
//!
//! Layout, every integer little-endian whatever the target:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | [`DESCRIPTOR_MAGIC`] |
//! | 8 | 4 | format ([`DESCRIPTOR_FORMAT`]) |
//! | 12 | 4 | ABI version |
//! | 16 | 8 | layout fingerprint |
//! | 24 | 4 | number of classes |
//! | 28 | 4 | length of the strings that follow |
//! | 32 | .. | crate version, then each class name, each ending in NUL |
//!
//! ```
//! use actor_abi::descriptor::{Descriptor, descriptor, descriptor_len};
//! const NAMES: &str = "greeter.Greeter\0greeter.Other\0";
//! static BYTES: [u8; descriptor_len(NAMES)] = descriptor(NAMES);
//! let d = Descriptor::parse(&BYTES).unwrap();
//! assert_eq!(d.classes, ["greeter.Greeter", "greeter.Other"]);
//! assert_eq!(d.abi_version, actor_abi::ffi::ABI_VERSION);
//! ```

use crate::ffi::{ABI_VERSION, CRATE_VERSION, LAYOUT_FINGERPRINT};

/// The first bytes of a descriptor.
pub const DESCRIPTOR_MAGIC: [u8; 8] = *b"THSPDESC";
/// The descriptor layout written.
pub const DESCRIPTOR_FORMAT: u32 = 1;
/// The fixed part's size.
pub const DESCRIPTOR_HEADER: usize = 32;
/// The section name in ELF libraries.
pub const SECTION_ELF: &str = ".thespian_actors";
/// The section name in Mach-O libraries (segment `__DATA`).
pub const SECTION_MACHO: &str = "__thspactors";
/// The section name in PE libraries (at most 8 bytes).
pub const SECTION_PE: &str = ".thspact";

/// The size of the descriptor of the class names `names` (each followed by NUL).
pub const fn descriptor_len(names: &str) -> usize {
    DESCRIPTOR_HEADER + CRATE_VERSION.len() + 1 + names.len()
}

/// The descriptor of the class names `names` (each followed by NUL), for
/// this crate's ABI. `N` must be [`descriptor_len`]`(names)`.
pub const fn descriptor<const N: usize>(names: &str) -> [u8; N] {
    assert!(N == descriptor_len(names), "descriptor length mismatch");
    let mut out = [0u8; N];
    let names = names.as_bytes();
    let mut count = 0u32;
    let mut i = 0;
    while i < names.len() {
        if names[i] == 0 {
            count += 1;
        }
        i += 1;
    }
    let strings = (CRATE_VERSION.len() + 1 + names.len()) as u32;
    let mut at = put(&mut out, 0, &DESCRIPTOR_MAGIC);
    at = put(&mut out, at, &DESCRIPTOR_FORMAT.to_le_bytes());
    at = put(&mut out, at, &ABI_VERSION.to_le_bytes());
    at = put(&mut out, at, &LAYOUT_FINGERPRINT.to_le_bytes());
    at = put(&mut out, at, &count.to_le_bytes());
    at = put(&mut out, at, &strings.to_le_bytes());
    at = put(&mut out, at, CRATE_VERSION.as_bytes());
    at = put(&mut out, at, &[0]);
    put(&mut out, at, names);
    out
}

const fn put<const N: usize>(out: &mut [u8; N], at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at + i] = bytes[i];
        i += 1;
    }
    at + bytes.len()
}

/// A descriptor read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The library's ABI version.
    pub abi_version: u32,
    /// Its layout fingerprint.
    pub fingerprint: u64,
    /// Its `actor-abi` crate version.
    pub crate_version: String,
    /// Its exported actor classes, in export order.
    pub classes: Vec<String>,
}

/// Why bytes are not a descriptor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Thespian actor descriptor: {0}")]
pub struct DescriptorError(pub String);

impl Descriptor {
    /// Parses a descriptor (trailing padding after it is ignored).
    pub fn parse(bytes: &[u8]) -> Result<Descriptor, DescriptorError> {
        let bad = |why: &str| DescriptorError(why.to_string());
        if bytes.len() < DESCRIPTOR_HEADER || bytes[..8] != DESCRIPTOR_MAGIC {
            return Err(bad("no magic"));
        }
        let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        if u32_at(8) != DESCRIPTOR_FORMAT {
            return Err(DescriptorError(format!("format {} (this reader knows {DESCRIPTOR_FORMAT})", u32_at(8))));
        }
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&bytes[16..24]);
        let count = u32_at(24) as usize;
        let len = u32_at(28) as usize;
        let strings =
            bytes.get(DESCRIPTOR_HEADER..DESCRIPTOR_HEADER.saturating_add(len)).ok_or_else(|| bad("truncated"))?;
        let text = std::str::from_utf8(strings).map_err(|_| bad("names are not UTF-8"))?;
        let mut parts: Vec<&str> = text.split('\0').collect();
        if parts.pop() != Some("") {
            return Err(bad("the strings do not end in NUL"));
        }
        if parts.len() != count + 1 || parts.iter().skip(1).any(|c| c.is_empty()) {
            return Err(bad("the class count does not match the names"));
        }
        Ok(Descriptor {
            abi_version: u32_at(12),
            fingerprint: u64::from_le_bytes(fp),
            crate_version: parts[0].to_string(),
            classes: parts[1..].iter().map(|c| c.to_string()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_round_trips_and_damage_is_refused() {
        const NAMES: &str = "a.One\0b.Two\0";
        static BYTES: [u8; descriptor_len(NAMES)] = descriptor(NAMES);
        let d = Descriptor::parse(&BYTES).unwrap();
        assert_eq!((d.abi_version, d.fingerprint), (ABI_VERSION, LAYOUT_FINGERPRINT));
        assert_eq!(d.crate_version, CRATE_VERSION);
        assert_eq!(d.classes, ["a.One", "b.Two"]);
        let mut padded = BYTES.to_vec();
        padded.extend_from_slice(&[0; 16]);
        assert_eq!(Descriptor::parse(&padded).unwrap(), d, "section padding is ignored");
        let mut wrong_count = BYTES.to_vec();
        wrong_count[24] = 3;
        assert!(Descriptor::parse(&wrong_count).is_err());
        assert!(Descriptor::parse(&BYTES[..40]).is_err(), "truncated");
        assert!(Descriptor::parse(b"THSPDESX").is_err());
    }
}
