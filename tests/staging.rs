//! `SourceAuthority::stage_file`: verify a package and write its library out
//! in one pass. What it leaves on disk, and what a load then gets.

mod common;

use std::path::{Path, PathBuf};

use common::pkg::{Pkg, signed_in_trust_dir};
use runtime::LoadError;
use runtime::tls::SourceAuthority;

/// A trust dir holding one key and `foo-1.0.tls` signed by it.
fn signed_foo() -> (tempfile::TempDir, PathBuf) {
    signed_in_trust_dir(&Pkg::foo("1.0"), "foo-1.0.tls")
}

/// Every file under `root`, relative to it, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path).into_iter().map(|f| format!("{}/{f}", name_of(&path))));
        } else {
            out.push(name_of(&path));
        }
    }
    out.sort();
    out
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_staged_package_holds_only_its_library_until_dropped() {
    let (dir, file) = signed_foo();
    let sys = common::system();
    let (verified, package) = SourceAuthority::new(dir.path()).stage_file(&file, &sys).unwrap();
    assert_eq!(verified.hash, runtime::sha256_hex(&std::fs::read(&file).unwrap()));
    assert_eq!(package.hash(), verified.hash);
    let staged = files_under(sys.extract_root());
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert!(staged[0].starts_with(".staging-") && staged[0].ends_with("/libfoo.so"), "{staged:?}");
    drop(package);
    assert_eq!(files_under(sys.extract_root()), Vec::<String>::new(), "a dropped package removes its files");
}

#[test]
fn a_second_staged_copy_of_a_loaded_package_is_refused_and_leaves_nothing() {
    let (dir, file) = signed_foo();
    let sys = common::system();
    let sa = SourceAuthority::new(dir.path());
    let (_, first) = sa.stage_file(&file, &sys).unwrap();
    let (_, second) = sa.stage_file(&file, &sys).unwrap();
    let info = sys.load(first).unwrap();
    assert!(matches!(sys.load(second), Err(LoadError::AlreadyLoaded { hash }) if hash == info.hash));
    assert_eq!(files_under(sys.extract_root()), vec![format!("{}/libfoo.so", info.hash)]);
}

#[test]
fn what_loads_is_what_was_verified_even_if_the_file_changes_afterwards() {
    let (dir, file) = signed_foo();
    let sys = common::system();
    let (verified, package) = SourceAuthority::new(dir.path()).stage_file(&file, &sys).unwrap();
    std::fs::write(&file, b"replaced after staging").unwrap();
    let info = sys.load(package).unwrap();
    assert_eq!(info.hash, verified.hash);
    let lib = std::fs::read(&test_support::plugins().foo).unwrap();
    assert_eq!(std::fs::read(&info.library).unwrap(), lib, "the checked library bytes were loaded");
    let a = sys.create_actor(&info.hash, "foo.fooactor").unwrap();
    let pong = sys.ask(&a, actor_abi::value!({"ping": 1}), common::T).unwrap();
    assert_eq!(pong.get("hash").and_then(actor_abi::Value::as_str), Some(info.hash.as_str()));
}

#[test]
fn a_refused_package_is_a_refusal_and_a_stopped_system_an_error() {
    let (dir, file) = signed_foo();
    let sys = common::system();
    let sa = SourceAuthority::new(dir.path());
    let renamed = dir.path().join("foo-2.0.tls");
    std::fs::copy(&file, &renamed).unwrap();
    let err = sa.stage_file(&renamed, &sys).unwrap_err();
    assert!(matches!(err, LoadError::Refused(runtime::tls::PackageError::NameMismatch { .. })), "{err}");
    assert_eq!(files_under(sys.extract_root()), Vec::<String>::new());
    let (_, package) = sa.stage_file(&file, &sys).unwrap();
    sys.shutdown();
    assert!(matches!(sys.load(package), Err(LoadError::ShuttingDown)));
}
