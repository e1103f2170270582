//! Shared helpers for the integration tests (each test binary includes this).
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use runtime::{ActorSystem, PackageInfo, SystemConfig, VerifiedPackage};

/// Generous reply timeout: tests assert behaviour, never speed.
pub const T: Duration = Duration::from_secs(10);

/// A fresh actor system with its own private extraction directory.
pub fn system() -> ActorSystem {
    ActorSystem::start(SystemConfig::default().with_unload_grace(Duration::from_secs(10))).expect("start actor system")
}

/// Loads the library at `lib` as `group` `version` (unverified: the signed
/// path is tested separately).
pub fn load(sys: &ActorSystem, lib: &Path, group: &str, version: &str) -> PackageInfo {
    let bytes = std::fs::read(lib).expect("read example library");
    let name = lib.file_name().and_then(|n| n.to_str()).unwrap_or("lib.so");
    sys.load(VerifiedPackage::unverified(group, version, name, bytes)).expect("load package")
}

/// Polls `f` until it is true or ten seconds pass.
pub fn eventually(f: impl FnMut() -> bool) -> bool {
    test_support::eventually(T, f)
}

/// This process's resident set size in bytes (VmRSS).
pub fn rss_bytes() -> u64 {
    test_support::rss_of("self").expect("VmRSS in /proc/self/status")
}

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    test_support::open_fds().expect("read /proc/self/fd")
}

pub mod keys;
pub mod pkg;
pub mod rawzip;
