//! Verifying and loading a large package reads it in place: the process
//! never holds the package, or its library, in memory whole. Its own
//! binary, so the peak RSS it reads is not disturbed by other tests.

mod common;

use common::pkg::{Pkg, signed_in_trust_dir};
use runtime::tls::SourceAuthority;

const MIB: u64 = 1 << 20;

/// foo's library padded to `mib` MiB with incompressible bytes (the loader
/// maps only its segments, so it still loads).
fn padded_foo(mib: u64) -> Vec<u8> {
    let mut lib = std::fs::read(&test_support::plugins().foo).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while (lib.len() as u64) < mib * MIB {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lib.extend_from_slice(&x.to_le_bytes());
    }
    lib
}

/// How much the peak RSS rises above the current RSS while `f` runs.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    test_support::reset_peak_rss().expect("reset the peak RSS via /proc/self/clear_refs");
    let before = test_support::rss_of("self").unwrap();
    let out = f();
    (out, test_support::peak_rss().unwrap().saturating_sub(before))
}

#[test]
fn a_48_mib_package_is_verified_and_loaded_without_holding_it_in_memory() {
    let (dir, file, lib_len) = {
        let mut pkg = Pkg::foo("1.0");
        let lib = padded_foo(48);
        let entries = pkg.manifest["entries"].as_array_mut().unwrap();
        let entry = entries.iter_mut().find(|e| e["kind"] == "library").unwrap();
        entry["size"] = (lib.len() as u64).into();
        entry["sha256"] = runtime::sha256_hex(&lib).into();
        let len = lib.len() as u64;
        pkg.payload[0].1 = lib;
        let (dir, file) = signed_in_trust_dir(&pkg, "foo-1.0.tls");
        (dir, file, len)
    };
    assert!(std::fs::metadata(&file).unwrap().len() > 47 * MIB, "the padding is incompressible");
    let sa = SourceAuthority::new(dir.path());
    let sys = common::system();

    let (verified, grew) = peak_growth(|| sa.verify_file(&file).unwrap());
    assert!(grew < 16 * MIB, "verify_file of a 48 MiB package raised the peak RSS by {} MiB", grew / MIB);

    let ((_, package), grew) = peak_growth(|| sa.stage_file(&file, sys.extract_root()).unwrap());
    assert!(grew < 16 * MIB, "stage_file of a 48 MiB package raised the peak RSS by {} MiB", grew / MIB);
    let info = sys.load(package).unwrap();
    assert_eq!(info.hash, verified.hash);
    assert_eq!(std::fs::metadata(&info.library).unwrap().len(), lib_len, "the whole library was written");
    let a = sys.create_actor(&info.hash, "foo.fooactor").unwrap();
    assert!(sys.ask(&a, actor_abi::value!({"ping": 1}), common::T).is_ok(), "the padded library runs");
}
