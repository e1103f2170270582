//! A hostile-input corpus, generated here: every case is refused by the
//! Source Authority with its own specific error, and nothing of it is ever
//! extracted or loaded (each goes through verify-then-load against a live
//! actor system, whose package list and extraction directory stay empty).

mod common;

use std::path::Path;

use common::keys::{self, Key};
use common::pkg::{Pkg, zip_entries};
use common::rawzip::{self, Raw};
use runtime::tls::format::signing_input;
use runtime::tls::{PackageError, SourceAuthority, TrustPolicy};
use runtime::{ActorSystem, LoadError, SystemConfig};
use serde_json::json;

struct Keys {
    _dir: tempfile::TempDir,
    main: Key,
    other: Key,
    legacy: Key,
    tiny: Key,
}

fn make_keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    Keys {
        main: keys::make(dir.path(), "main", 2048, false),
        other: keys::make(dir.path(), "other", 2048, true),
        legacy: keys::make(dir.path(), "legacy", 1024, false),
        tiny: keys::make(dir.path(), "tiny", 512, false),
        _dir: dir,
    }
}

type Expect = Box<dyn Fn(&PackageError) -> bool>;

struct Case {
    name: &'static str,
    file: String,
    bytes: Vec<u8>,
    trust: Vec<(String, Vec<u8>)>,
    cap: Option<u64>,
    expect: Expect,
}

fn case(
    name: &'static str,
    bytes: Vec<u8>,
    trust: &[(String, Vec<u8>)],
    expect: impl Fn(&PackageError) -> bool + 'static,
) -> Case {
    Case { name, file: "foo-1.0.tls".into(), bytes, trust: trust.to_vec(), cap: None, expect: Box::new(expect) }
}

fn trust_of(key: &Key) -> Vec<(String, Vec<u8>)> {
    vec![("trusted_tls.key".to_string(), std::fs::read(&key.public).unwrap())]
}

fn flip(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    bytes[at] ^= 0x20;
    bytes
}

/// Re-signs `pkg` after `edit` changes its manifest.
fn resigned(pkg: &Pkg, key: &Key, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut p = pkg.clone();
    edit(&mut p.manifest);
    p.zip(key)
}

/// Replaces one entry's bytes in an entry list.
fn with_entry(mut entries: Vec<(String, Vec<u8>)>, name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    entries.iter_mut().filter(|(n, _)| n == name).for_each(|(_, b)| *b = bytes.clone());
    entries
}

fn raw_entries(entries: &[(String, Vec<u8>)]) -> Vec<Raw> {
    entries.iter().map(|(n, b)| Raw::file(n, b)).collect()
}

fn lib_name() -> String {
    format!("lib/{}/libfoo.so", runtime::TARGET_TRIPLE)
}

/// A signature whose PKCS#1 v1.5 padding bytes are 0xAB instead of 0xFF
/// (the original Director's verifier accepted such signatures).
fn forged_padding_signature(key: &Key, manifest: &[u8]) -> Vec<u8> {
    use runtime::sha256_hex;
    let hash = sha256_hex(&signing_input(manifest));
    let digest: Vec<u8> = (0..64).step_by(2).map(|i| u8::from_str_radix(&hash[i..i + 2], 16).unwrap()).collect();
    let mut t = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ];
    t.extend(digest);
    let mut em = vec![0x00, 0x01];
    em.extend(std::iter::repeat_n(0xAB, 256 - 3 - t.len()));
    em.push(0x00);
    em.extend(t);
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("em"), dir.path().join("sig"));
    std::fs::write(&input, &em).unwrap();
    // Raw RSA (no padding added): the forged block is signed exactly as built.
    keys::openssl(&[
        "rsautl",
        "-sign",
        "-raw",
        "-inkey",
        key.private.to_str().unwrap(),
        "-in",
        input.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
    ]);
    let sig = std::fs::read(out).unwrap();
    assert!(!keys::openssl_verifies(&key.public, &signing_input(manifest), &sig), "openssl must reject it too");
    sig
}

fn signature_json(key: &Key, sig: &[u8]) -> Vec<u8> {
    let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::to_vec(&json!({"algorithm": "rsa-pkcs1v15-sha256", "key_id": key.id, "signature": hex})).unwrap()
}

#[allow(clippy::too_many_lines)]
fn corpus(k: &Keys) -> Vec<Case> {
    use PackageError as E;
    let base = Pkg::foo("1.0");
    let good = base.zip(&k.main);
    let trust = trust_of(&k.main);
    let entries = base.entries(&k.main);
    let manifest = base.manifest_bytes();
    let lib = lib_name();
    let mut cases = vec![
        // The container.
        case("empty file", Vec::new(), &trust, |e| matches!(e, E::NotAnArchive(_))),
        case("not an archive", b"hello, not a zip file\n".repeat(50), &trust, |e| matches!(e, E::NotAnArchive(_))),
        case("truncated to half", good[..good.len() / 2].to_vec(), &trust, |e| matches!(e, E::NotAnArchive(_))),
        case("last 5 bytes cut", good[..good.len() - 5].to_vec(), &trust, |e| matches!(e, E::NotAnArchive(_))),
        case("junk prepended", [b"#!/bin/sh\n".as_slice(), &good].concat(), &trust, |e| {
            matches!(e, E::PrefixedData(10))
        }),
        case(
            "flipped byte in the manifest's data",
            flip(good.clone(), rawzip::data_range(&good, "MANIFEST.json").start + 5),
            &trust,
            |e| matches!(e, E::DamagedEntry { name, .. } if name == "MANIFEST.json"),
        ),
        case(
            "flipped byte in the signature's data",
            flip(good.clone(), rawzip::data_range(&good, "MANIFEST.sig").start + 5),
            &trust,
            |e| matches!(e, E::DamagedEntry { name, .. } if name == "MANIFEST.sig"),
        ),
        case(
            "flipped byte in the library's data",
            flip(good.clone(), rawzip::data_range(&good, &lib).start + 100),
            &trust,
            |e| matches!(e, E::DamagedEntry { name, .. } if name.ends_with("libfoo.so")),
        ),
        case(
            "flipped byte in the central directory",
            flip(good.clone(), rawzip::central_directory(&good) + 47),
            &trust,
            |e| matches!(e, E::InconsistentHeaders(_)),
        ),
        case(
            "duplicate entries",
            rawzip::write(&raw_entries(&[entries.clone(), vec![entries[0].clone()]].concat())),
            &trust,
            |e| matches!(e, E::DuplicateEntry(n) if n == "MANIFEST.json"),
        ),
        case(
            "local name differs from the central directory",
            rawzip::write(
                &[
                    raw_entries(&entries),
                    vec![Raw { local_name: Some(b"src/other.rs".to_vec()), ..Raw::file("src/x.rs", b"x") }],
                ]
                .concat(),
            ),
            &trust,
            |e| matches!(e, E::InconsistentHeaders(_)),
        ),
        case(
            "manifest over its 1 MiB cap",
            rawzip::write(&[Raw::file("MANIFEST.json", &vec![b' '; 2 << 20])]),
            &trust,
            |e| matches!(e, E::EntryTooLarge { name, .. } if name == "MANIFEST.json"),
        ),
        case(
            "compression bomb",
            zip_entries(&[entries.clone(), vec![("src/zeros".to_string(), vec![0u8; 8 << 20])]].concat()),
            &trust,
            |e| matches!(e, E::CompressionBomb { name, .. } if name == "src/zeros"),
        ),
        case("no manifest", zip_entries(&entries[1..]), &trust, |e| matches!(e, E::MissingManifest)),
        case("no signature", zip_entries(&[vec![entries[0].clone()], entries[2..].to_vec()].concat()), &trust, |e| {
            matches!(e, E::MissingSignature)
        }),
        case(
            "unlisted extra entry",
            zip_entries(&[entries.clone(), vec![("src/extra.rs".to_string(), b"x".to_vec())]].concat()),
            &trust,
            |e| matches!(e, E::UnlistedEntry(n) if n == "src/extra.rs"),
        ),
        case(
            "listed entry missing",
            zip_entries(&entries[..3]),
            &trust,
            |e| matches!(e, E::MissingEntry(n) if n == "src/lib.rs"),
        ),
        // Entry names and kinds.
        case(
            "../ in a name",
            rawzip::write(&[raw_entries(&entries), vec![Raw::file("src/../../evil.so", b"x")]].concat()),
            &trust,
            |e| matches!(e, E::BadEntryName { name, .. } if name.contains("..")),
        ),
        case(
            "absolute name",
            rawzip::write(&[raw_entries(&entries), vec![Raw::file("/etc/evil", b"x")]].concat()),
            &trust,
            |e| matches!(e, E::BadEntryName { name, .. } if name == "/etc/evil"),
        ),
        case(
            "backslash name",
            rawzip::write(&[raw_entries(&entries), vec![Raw::file("src\\evil.so", b"x")]].concat()),
            &trust,
            |e| matches!(e, E::BadEntryName { .. }),
        ),
        case(
            "drive-letter name",
            rawzip::write(&[raw_entries(&entries), vec![Raw::file("C:/evil.so", b"x")]].concat()),
            &trust,
            |e| matches!(e, E::BadEntryName { .. }),
        ),
        case(
            "symlink entry",
            rawzip::write(
                &[raw_entries(&entries), vec![Raw { unix_mode: 0o120777, ..Raw::file("src/link", b"/etc/passwd") }]]
                    .concat(),
            ),
            &trust,
            |e| matches!(e, E::SymlinkEntry(n) if n == "src/link"),
        ),
        case(
            "directory entry",
            rawzip::write(
                &[raw_entries(&entries), vec![Raw { unix_mode: 0o40755, ..Raw::file("src/dir/", b"") }]].concat(),
            ),
            &trust,
            |e| matches!(e, E::DirectoryEntry(n) if n == "src/dir/"),
        ),
        case(
            "encrypted entry",
            rawzip::write(&[raw_entries(&entries), vec![Raw { flags: 1, ..Raw::file("src/secret", b"x") }]].concat()),
            &trust,
            |e| matches!(e, E::EncryptedEntry(n) if n == "src/secret"),
        ),
        case(
            "bzip2 compression",
            rawzip::write(&[raw_entries(&entries), vec![Raw { method: 12, ..Raw::file("src/b", b"x") }]].concat()),
            &trust,
            |e| matches!(e, E::UnsupportedCompression { name, .. } if name == "src/b"),
        ),
        // Signature and manifest.
        case(
            "manifest changed, signature kept",
            zip_entries(&with_entry(
                entries.clone(),
                "MANIFEST.json",
                String::from_utf8(manifest.clone()).unwrap().replace("\"1.0\"", "\"9.0\"").into_bytes(),
            )),
            &trust,
            |e| matches!(e, E::Untrusted { .. }),
        ),
        case(
            "signature bytes changed",
            zip_entries(&with_entry(entries.clone(), "MANIFEST.sig", {
                let mut s: serde_json::Value = serde_json::from_slice(&entries[1].1).unwrap();
                let hex = s["signature"].as_str().unwrap().to_string();
                let c = if hex.starts_with('0') { "1" } else { "0" };
                s["signature"] = json!(format!("{c}{}", &hex[1..]));
                serde_json::to_vec(&s).unwrap()
            })),
            &trust,
            |e| matches!(e, E::Untrusted { .. }),
        ),
        case(
            "signature not hex",
            zip_entries(&with_entry(
                entries.clone(),
                "MANIFEST.sig",
                serde_json::to_vec(
                    &json!({"algorithm": "rsa-pkcs1v15-sha256", "key_id": k.main.id, "signature": "zz"}),
                )
                .unwrap(),
            )),
            &trust,
            |e| matches!(e, E::BadSignatureFile(m) if m.contains("hex")),
        ),
        case(
            "unknown signature algorithm",
            zip_entries(&with_entry(
                entries.clone(),
                "MANIFEST.sig",
                serde_json::to_vec(&json!({"algorithm": "rsa-pss-sha1", "key_id": k.main.id, "signature": "00"}))
                    .unwrap(),
            )),
            &trust,
            |e| matches!(e, E::BadSignatureFile(m) if m.contains("rsa-pss-sha1")),
        ),
        case(
            "signature file not JSON",
            zip_entries(&with_entry(entries.clone(), "MANIFEST.sig", b"\x00garbage".to_vec())),
            &trust,
            |e| matches!(e, E::BadSignatureFile(_)),
        ),
        case(
            "PKCS#1 signature with non-0xFF padding",
            zip_entries(&with_entry(
                entries.clone(),
                "MANIFEST.sig",
                signature_json(&k.main, &forged_padding_signature(&k.main, &manifest)),
            )),
            &trust,
            |e| matches!(e, E::Untrusted { .. }),
        ),
        case(
            "signed by a key that is not trusted",
            base.zip(&k.other),
            &trust,
            |e| matches!(e, E::Untrusted { tried } if tried.len() == 1),
        ),
        case(
            "library bytes changed",
            zip_entries(&with_entry(entries.clone(), &lib, flip(entries[2].1.clone(), 1000))),
            &trust,
            |e| matches!(e, E::EntryHashMismatch(n) if n.ends_with("libfoo.so")),
        ),
        case(
            "audit source changed",
            zip_entries(&with_entry(entries.clone(), "src/lib.rs", b"// changed\n".to_vec())),
            &trust,
            |e| matches!(e, E::EntrySizeMismatch { name, .. } | E::EntryHashMismatch(name) if name == "src/lib.rs"),
        ),
        case("listed size wrong", resigned(&base, &k.main, |m| m["entries"][1]["size"] = json!(999)), &trust, |e| {
            matches!(e, E::EntrySizeMismatch { listed: 999, .. })
        }),
        case(
            "malformed sha256 in the manifest",
            resigned(&base, &k.main, |m| m["entries"][1]["sha256"] = json!("ABC")),
            &trust,
            |e| matches!(e, E::BadManifest(m) if m.contains("sha256")),
        ),
        case(
            "manifest with an unknown field",
            resigned(&base, &k.main, |m| m["trust_me"] = json!(true)),
            &trust,
            |e| matches!(e, E::BadManifest(m) if m.contains("unknown field")),
        ),
        case(
            "manifest with a duplicate key",
            zip_entries(&base.entries_with_manifest(
                String::from_utf8(manifest.clone()).unwrap().replacen('{', "{\n  \"group\": \"evil\",", 1).into_bytes(),
                &k.main,
            )),
            &trust,
            |e| matches!(e, E::BadManifest(m) if m.contains("duplicate field")),
        ),
        case(
            "unsupported manifest format",
            resigned(&base, &k.main, |m| m["format"] = json!(2)),
            &trust,
            |e| matches!(e, E::BadManifest(m) if m.contains("format 2")),
        ),
        case("wrong ABI version", resigned(&base, &k.main, |m| m["abi"]["version"] = json!(999)), &trust, |e| {
            matches!(e, E::AbiMismatch { package: 999, .. })
        }),
        case(
            "wrong ABI layout fingerprint",
            resigned(&base, &k.main, |m| m["abi"]["fingerprint"] = json!("0123456789abcdef")),
            &trust,
            |e| matches!(e, E::FingerprintMismatch { .. }),
        ),
        case(
            "two libraries for one target",
            {
                let mut p = base.clone();
                let mut dup = p.manifest["entries"][0].clone();
                dup["name"] = json!(format!("lib/{}/libfoo2.so", runtime::TARGET_TRIPLE));
                p.manifest["entries"].as_array_mut().unwrap().push(dup);
                p.payload.push((format!("lib/{}/libfoo2.so", runtime::TARGET_TRIPLE), p.payload[0].1.clone()));
                p.zip(&k.main)
            },
            &trust,
            |e| matches!(e, E::BadManifest(m) if m.contains("two libraries")),
        ),
        case(
            "no library for this target",
            {
                let mut p = base.clone();
                let other = "aarch64-unknown-linux-gnu";
                p.manifest["entries"][0]["target"] = json!(other);
                p.manifest["entries"][0]["name"] = json!(format!("lib/{other}/libfoo.so"));
                p.payload[0].0 = format!("lib/{other}/libfoo.so");
                p.zip(&k.main)
            },
            &trust,
            |e| matches!(e, E::NoLibraryForTarget { available, .. } if available == &["aarch64-unknown-linux-gnu".to_string()]),
        ),
        // Trusted keys.
        case("no trusted keys at all", good.clone(), &[], |e| matches!(e, E::NoTrustedKeys(_))),
        case(
            "512-bit key",
            base.zip(&k.tiny),
            &trust_of(&k.tiny),
            |e| matches!(e, E::Untrusted { tried } if tried.iter().any(|t| t.contains("512-bit"))),
        ),
        case(
            "1024-bit key without the legacy setting",
            base.zip(&k.legacy),
            &trust_of(&k.legacy),
            |e| matches!(e, E::Untrusted { tried } if tried.iter().any(|t| t.contains("1024 bits") && t.contains("allow-legacy-key"))),
        ),
        case(
            "empty key file",
            good.clone(),
            &[("empty_tls.key".into(), Vec::new())],
            |e| matches!(e, E::Untrusted { tried } if tried.iter().any(|t| t.contains("empty"))),
        ),
        case(
            "two PEM blocks in a key file",
            good.clone(),
            &[("two_tls.key".into(), [trust[0].1.clone(), trust[0].1.clone()].concat())],
            |e| matches!(e, E::Untrusted { tried } if tried.iter().any(|t| t.contains("not a single PEM key"))),
        ),
        case(
            "text after END in a key file",
            good.clone(),
            &[("tail_tls.key".into(), [trust[0].1.clone(), b"trailing text\n".to_vec()].concat())],
            |e| matches!(e, E::Untrusted { tried } if tried.iter().any(|t| t.contains("not a single PEM key"))),
        ),
        case(
            "a private key among the trusted keys",
            good.clone(),
            &[trust.clone(), vec![("leaked_tls.key".into(), std::fs::read(&k.main.private).unwrap())]].concat(),
            |e| matches!(e, E::TrustDir(runtime::tls::KeyError::PrivateKeyInTrustDir { file }) if file.ends_with("leaked_tls.key")),
        ),
        case(
            "a certificate instead of a key",
            good.clone(),
            &[("cert_tls.key".into(), b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n".to_vec())],
            |e| matches!(e, E::Untrusted { tried } if tried.iter().any(|t| t.contains("CERTIFICATE"))),
        ),
    ];
    // File names that disagree with the signed manifest.
    for (name, file) in [
        ("renamed: group changed", "bar-1.0.tls"),
        ("renamed: version changed", "foo-2.0.tls"),
        ("renamed: version dropped", "foo.tls"),
    ] {
        let mut c = case(
            name,
            good.clone(),
            &trust,
            |e| matches!(e, E::NameMismatch { expected, .. } if expected == "foo-1.0.tls"),
        );
        c.file = file.into();
        cases.push(c);
    }
    let mut over_cap =
        case("package over the size cap", good.clone(), &trust, |e| matches!(e, E::TooLarge { cap: 4096, .. }));
    over_cap.cap = Some(4096);
    cases.push(over_cap);
    cases
}

fn authority(dir: &Path, cap: Option<u64>) -> SourceAuthority {
    let mut policy = TrustPolicy::default();
    if let Some(cap) = cap {
        policy.max_package_bytes = cap;
    }
    SourceAuthority::new(dir).with_policy(policy)
}

/// Verify, then load only what verified: the one public way code gets in.
fn verify_and_load(sys: &ActorSystem, sa: &SourceAuthority, file: &Path) -> Result<runtime::PackageInfo, String> {
    let (_, package) = sa.stage_file(file, sys.extract_root()).map_err(|e| e.to_string())?;
    sys.load(package).map_err(|e| e.to_string())
}

#[test]
fn every_hostile_package_is_refused_with_its_own_error_and_nothing_is_loaded() {
    let k = make_keys();
    let sys = ActorSystem::start(SystemConfig::default()).unwrap();
    let cases = corpus(&k);
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut seen = std::collections::HashSet::new();
    for c in &cases {
        assert!(seen.insert(c.name), "case {} listed twice", c.name);
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in &c.trust {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let file = dir.path().join(&c.file);
        std::fs::write(&file, &c.bytes).unwrap();
        let sa = authority(dir.path(), c.cap);
        match sa.verify_file(&file) {
            Ok(_) => panic!("case {:?} was accepted", c.name),
            Err(e) => assert!((c.expect)(&e), "case {:?} refused with the wrong error: {e}", c.name),
        }
        // Staging streams the library out while it checks it: a refusal
        // found late (a library whose hash is wrong) must still leave nothing.
        match sa.stage_file(&file, sys.extract_root()) {
            Ok(_) => panic!("case {:?} was staged", c.name),
            Err(LoadError::Refused(e)) => assert!((c.expect)(&e), "case {:?} staging refused it with: {e}", c.name),
            Err(other) => panic!("case {:?} failed to stage for another reason: {other}", c.name),
        }
    }
    assert!(sys.packages().is_empty());
    assert!(std::fs::read_dir(sys.extract_root()).unwrap().next().is_none(), "something was extracted");
}

#[test]
fn the_unmodified_package_verifies_and_loads_so_the_corpus_tests_something() {
    let k = make_keys();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main_tls.key"), std::fs::read(&k.main.public).unwrap()).unwrap();
    let file = dir.path().join("foo-1.0.tls");
    std::fs::write(&file, Pkg::foo("1.0").zip(&k.main)).unwrap();
    let sys = ActorSystem::start(SystemConfig::default()).unwrap();
    let info = verify_and_load(&sys, &SourceAuthority::new(dir.path()), &file).unwrap();
    assert_eq!((info.group.as_str(), info.version.as_str()), ("foo", "1.0"));
    assert_eq!(info.hash, runtime::sha256_hex(&std::fs::read(&file).unwrap()), "identity is the file's SHA-256");
    let a = sys.create_actor(&info.hash, "foo.fooactor").unwrap();
    let pong = sys.ask(&a, actor_abi::value!({"ping": 1}), common::T).unwrap();
    assert_eq!(pong.get("hash").and_then(actor_abi::Value::as_str), Some(info.hash.as_str()));
}

#[test]
fn a_key_removed_between_two_loads_is_no_longer_trusted() {
    let k = make_keys();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("main_tls.key");
    std::fs::write(&key_file, std::fs::read(&k.main.public).unwrap()).unwrap();
    let file = dir.path().join("foo-1.0.tls");
    std::fs::write(&file, Pkg::foo("1.0").zip(&k.main)).unwrap();
    let sa = SourceAuthority::new(dir.path());
    assert!(sa.verify_file(&file).is_ok());
    std::fs::remove_file(&key_file).unwrap();
    assert!(matches!(sa.verify_file(&file), Err(PackageError::NoTrustedKeys(_))));
    std::fs::write(dir.path().join("other_tls.key"), std::fs::read(&k.other.public).unwrap()).unwrap();
    assert!(matches!(sa.verify_file(&file), Err(PackageError::Untrusted { .. })));
}

#[test]
fn a_1024_bit_key_is_accepted_only_with_the_legacy_setting() {
    let k = make_keys();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("legacy_tls.key"), std::fs::read(&k.legacy.public).unwrap()).unwrap();
    let file = dir.path().join("foo-1.0.tls");
    std::fs::write(&file, Pkg::foo("1.0").zip(&k.legacy)).unwrap();
    assert!(matches!(SourceAuthority::new(dir.path()).verify_file(&file), Err(PackageError::Untrusted { .. })));
    let legacy =
        SourceAuthority::new(dir.path()).with_policy(TrustPolicy { allow_legacy_keys: true, ..TrustPolicy::default() });
    let v = legacy.verify_file(&file).unwrap();
    assert_eq!(v.key_strength, runtime::tls::KeyStrength::Legacy);
}

/// Packages from 1 MiB on compute their identity hash on a second thread,
/// beside the checks: the result must be the same, and a changed entry
/// must still be refused.
#[test]
fn a_large_package_gets_the_same_identity_and_the_same_refusals() {
    let k = make_keys();
    let lib = std::fs::read(&test_support::plugins().foo).unwrap();
    let mut x: u32 = 0x1234_5678;
    let big: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let mut b = runtime::tls::PackageBuilder::new("foo", Some("1.0"), 1_700_000_000, &common::pkg::foo_info()).unwrap();
    b.library(runtime::TARGET_TRIPLE, "libfoo.so", lib.clone()).unwrap();
    b.source("big.bin", big.clone()).unwrap();
    let pkg = Pkg {
        manifest: serde_json::to_value(b.manifest()).unwrap(),
        payload: vec![(lib_name(), lib), ("src/big.bin".to_string(), big.clone())],
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main_tls.key"), std::fs::read(&k.main.public).unwrap()).unwrap();
    let sa = SourceAuthority::new(dir.path());
    let good = pkg.zip(&k.main);
    assert!(good.len() > 1 << 20, "large enough for the second thread: {} bytes", good.len());
    let v = sa.verify_bytes(&good).unwrap();
    assert_eq!(v.hash, runtime::sha256_hex(&good));
    let changed = zip_entries(&with_entry(pkg.entries(&k.main), "src/big.bin", flip(big, 2 << 20)));
    assert!(matches!(sa.verify_bytes(&changed), Err(PackageError::EntryHashMismatch(n)) if n == "src/big.bin"));
}
