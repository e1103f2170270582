//! Unloading really frees the code: for every example package (misbehave
//! after it touched a TLS destructor and started a thread included) no
//! mapping of its library stays in /proc/self/maps and its directory is
//! gone. Each test fails if a DESIGN.md section 4 loader hazard comes back.

mod common;

use std::time::Duration;

use actor_abi::{Message, Value, value};
use common::{T, eventually, load, system};
use runtime::{ActorSystem, CodeState, LoadError, SystemConfig, VerifiedPackage, maps};
use test_support::plugins;

fn assert_gone(report: &runtime::UnloadReport) {
    assert_eq!(report.code, CodeState::Freed, "{report}");
    assert!(maps::mappings_of(&report.library).unwrap().is_empty(), "{} still mapped", report.library.display());
    let dir = report.library.parent().unwrap();
    assert!(report.directory_removed && !dir.exists(), "{} still exists", dir.display());
}

#[test]
fn unloading_foo_with_live_actors_and_children_frees_its_code() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    assert!(!maps::mappings_of(&pkg.library).unwrap().is_empty(), "loaded code must be mapped");
    let dir = pkg.library.parent().unwrap().to_path_buf();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "the version directory is private");
    assert!(dir.ends_with(&pkg.hash), "the directory is named by the package hash");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    for _ in 0..3 {
        sys.ask(&foo, "spawn", T).unwrap();
    }
    // Typed/opaque messages still queued at unload are dropped inside the library first.
    for i in 0..100 {
        sys.tell(&foo, value!({"wakeup": 60_000, "payload": i}));
    }
    let report = sys.unload(&pkg.hash).unwrap();
    assert_eq!(report.actors_stopped, 4);
    assert_gone(&report);
    assert!(sys.actors().is_empty());
}

#[test]
fn unloading_other_frees_its_code() {
    let sys = system();
    let pkg = load(&sys, &plugins().other, "other", "1");
    let a = sys.create_actor(&pkg.hash, "other.mainActor").unwrap();
    sys.tell(&a, 1);
    assert_eq!(sys.ask(&a, "count", T).unwrap(), Value::Int(1));
    assert_gone(&sys.unload(&pkg.hash).unwrap());
}

#[test]
fn unloading_misbehave_after_tls_thread_panic_and_log_frees_its_code() {
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    assert_eq!(sys.ask(&m, "tls", T).unwrap(), Value::from("tls touched"));
    assert_eq!(sys.ask(&m, "thread", T).unwrap(), Value::from("thread started"));
    assert_eq!(sys.ask(&m, "log", T).unwrap(), Value::from("logged"));
    assert!(sys.ask(&m, value!({"panic": 1}), T).is_err());
    let report = sys.unload(&pkg.hash).unwrap();
    assert_eq!(report.shutdown_hook_error, None);
    assert_gone(&report);
}

#[test]
fn shutdown_unloads_every_version_and_frees_all_code() {
    let sys = system();
    let a = load(&sys, &plugins().foo, "foo", "1.0");
    let b = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&b.hash, "misbehave.Actor").unwrap();
    sys.ask(&m, "tls", T).unwrap();
    sys.create_actor(&a.hash, "foo.fooactor").unwrap();
    let root = sys.extract_root().to_path_buf();
    let report = sys.shutdown();
    assert_eq!(report.unloads.len(), 2);
    report.unloads.iter().for_each(assert_gone);
    assert!(!root.exists(), "the system's private extraction root is removed");
    assert!(sys.shutdown().unloads.is_empty(), "a second shutdown does nothing");
}

#[test]
fn a_library_built_against_another_abi_is_refused_and_later_loads_work() {
    let sys = system();
    let bytes = std::fs::read(&plugins().abi_mismatch).unwrap();
    let err = sys.load(VerifiedPackage::unverified("mismatch", "1", "libabi_mismatch.so", bytes)).unwrap_err();
    let text = err.to_string();
    match &err {
        LoadError::AbiMismatch { plugin_abi, host_abi, path, .. } => {
            assert_eq!(*plugin_abi, 1001);
            assert_eq!(*host_abi, actor_abi::ffi::ABI_VERSION);
            assert!(text.contains("ABI version 1001") && text.contains(&format!("ABI version {host_abi}")), "{text}");
            assert!(maps::mappings_of(path).unwrap().is_empty(), "a refused library is closed");
            assert!(!path.parent().unwrap().exists(), "a refused library leaves no directory");
        }
        other => panic!("expected AbiMismatch, got {other}"),
    }
    assert!(sys.packages().is_empty());
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    assert!(sys.ask(&foo, value!({"ping": 1}), T).is_ok());
}

#[test]
fn bytes_that_are_not_a_library_are_refused_cleanly() {
    let sys = system();
    let err =
        sys.load(VerifiedPackage::unverified("junk", "1", "libjunk.so", b"not an ELF file".to_vec())).unwrap_err();
    assert!(matches!(err, LoadError::Open { .. }), "{err}");
    assert!(std::fs::read_dir(sys.extract_root()).unwrap().next().is_none(), "nothing left behind");
}

#[test]
fn a_version_whose_actor_will_not_stop_is_reported_resident_never_freed() {
    let config = SystemConfig::default().with_unload_grace(Duration::from_millis(100));
    let sys = ActorSystem::start(config).unwrap();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    sys.tell(&m, value!({"sleep_ms": 1500}));
    std::thread::sleep(Duration::from_millis(50));
    let report = sys.unload(&pkg.hash).unwrap();
    match &report.code {
        CodeState::Resident { reason } => assert!(reason.contains("did not stop"), "{reason}"),
        CodeState::Freed => panic!("an actor still running cannot have been unloaded"),
    }
    assert!(!maps::mappings_of(&pkg.library).unwrap().is_empty(), "resident code is still mapped");
    assert!(sys.packages().is_empty(), "it is no longer offered");
}

#[test]
fn typed_messages_never_leave_their_package() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let before = sys.dead_letters();
    sys.tell_message(&foo, Message::Typed(Box::new(5u32)));
    assert_eq!(sys.dead_letters(), before + 1, "a host typed message to a package actor is a dead letter");
    assert!(eventually(|| sys.ask(&foo, "history", T).unwrap().as_list().unwrap().is_empty()));
}

/// Issue 11, item 10: an ask whose actor is unloaded before it answers
/// fails at once with "stopped before it replied", never by its timeout and
/// never with an answer from a version that is gone.
#[test]
fn an_ask_waiting_on_an_unloaded_actor_fails_at_once() {
    let config = SystemConfig::default().with_unload_grace(Duration::from_millis(100));
    let sys = std::sync::Arc::new(ActorSystem::start(config).unwrap());
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let silent = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    let sleeper = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    let ask = |to: actor_abi::Address, msg: Value| {
        let sys = sys.clone();
        std::thread::spawn(move || sys.ask(&to, msg, Duration::from_secs(60)))
    };
    // One actor takes the ask and never answers; the other sleeps in its
    // handler past the unload's grace (so the version stays resident).
    let never = ask(silent, Value::from("no such command: no reply"));
    let late = ask(sleeper, value!({"sleep_ms": 1500}));
    assert!(eventually(|| sys.dead_letters() == 0 && sys.actors().len() >= 2));
    std::thread::sleep(Duration::from_millis(50));
    let report = sys.unload(&pkg.hash).unwrap();
    assert!(matches!(report.code, CodeState::Resident { .. }), "{report}");
    for (who, asker) in [(silent, never), (sleeper, late)] {
        let result = asker.join().unwrap();
        assert!(matches!(result, Err(runtime::AskError::TargetExited(a)) if a == who), "{who}: {result:?}");
    }
}

/// Issue 11, item 6: loading a package again while its unloaded copy is
/// still resident gives the new load its own file and code image (the
/// loader matches by path, so reusing the path ran the old image), and a
/// re-check frees the old copy once its last handler has returned.
#[test]
fn reloading_while_the_old_copy_is_resident_gets_its_own_image_and_the_old_one_is_freed_later() {
    let config = SystemConfig::default().with_unload_grace(Duration::from_millis(100));
    let sys = ActorSystem::start(config).unwrap();
    let old = load(&sys, &plugins().misbehave, "misbehave", "1");
    let sleeper = sys.create_actor(&old.hash, "misbehave.Actor").unwrap();
    sys.tell(&sleeper, value!({"sleep_ms": 1500}));
    std::thread::sleep(Duration::from_millis(50));
    assert!(!sys.unload(&old.hash).unwrap().code.is_freed(), "the sleeping handler keeps it resident");

    let new = load(&sys, &plugins().misbehave, "misbehave", "1");
    assert_eq!(new.hash, old.hash, "the same package");
    assert_ne!(new.library, old.library, "the new load has its own file");
    assert!(!maps::mappings_of(&new.library).unwrap().is_empty(), "and its own mapping");
    assert!(old.library.exists(), "the resident copy's file is left in place");
    let m = sys.create_actor(&new.hash, "misbehave.Actor").unwrap();
    assert_eq!(sys.ask(&m, "ping", T).unwrap(), Value::from("pong"));

    let states = sys.recheck_resident();
    assert!(matches!(&states[..], [s] if s.library == old.library && !s.code.is_freed()), "{states:?}");
    assert!(eventually(|| { sys.recheck_resident().iter().any(|s| s.library == old.library && s.code.is_freed()) }));
    assert!(maps::mappings_of(&old.library).unwrap().is_empty(), "the old image is gone");
    assert!(!old.library.parent().unwrap().exists(), "and its directory");
    assert!(sys.recheck_resident().is_empty(), "a freed version is reported once");
    assert_eq!(sys.ask(&m, "ping", T).unwrap(), Value::from("pong"), "the new version is untouched");
}
