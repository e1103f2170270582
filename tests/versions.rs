//! Several versions of one package loaded at once, each with its own code
//! image, actors and state.

mod common;

use actor_abi::{Value, value};
use common::{T, load, system};
use test_support::plugins;

#[test]
fn two_versions_of_foo_answer_independently() {
    let sys = system();
    let v1 = load(&sys, &plugins().foo, "foo", "1.0");
    let v2 = load(&sys, &plugins().foo, "foo", "2.0");
    assert_ne!(v1.hash, v2.hash);
    assert_ne!(v1.library, v2.library, "each version needs its own file, or dlopen returns the first image");
    let a1 = sys.create_actor(&v1.hash, "foo.fooactor").unwrap();
    let a2 = sys.create_actor(&v2.hash, "foo.fooactor").unwrap();
    sys.tell(&a1, "only in one");
    sys.tell(&a2, "only in two");
    let p1 = sys.ask(&a1, value!({"ping": 1}), T).unwrap();
    let p2 = sys.ask(&a2, value!({"ping": 2}), T).unwrap();
    assert_eq!(p1.get("version").and_then(Value::as_str), Some("1.0"));
    assert_eq!(p2.get("version").and_then(Value::as_str), Some("2.0"));
    assert_eq!(p1.get("hash").and_then(Value::as_str), Some(v1.hash.as_str()));
    assert_eq!(p2.get("hash").and_then(Value::as_str), Some(v2.hash.as_str()));
    // One actor was built in each image: a shared image would count two.
    assert_eq!(p1.get("constructed"), Some(&Value::Int(1)));
    assert_eq!(p2.get("constructed"), Some(&Value::Int(1)));
    let h1 = sys.ask(&a1, "history", T).unwrap();
    let h2 = sys.ask(&a2, "history", T).unwrap();
    assert_eq!(h1.as_list().unwrap()[0], Value::from("only in one"));
    assert_eq!(h2.as_list().unwrap()[0], Value::from("only in two"));
    // Unloading one leaves the other serving.
    let report = sys.unload(&v1.hash).unwrap();
    assert!(report.code.is_freed(), "{report}");
    assert_eq!(sys.ask(&a2, value!({"ping": 3}), T).unwrap().get("version").and_then(Value::as_str), Some("2.0"));
    assert!(sys.ask(&a1, "history", T).is_err());
}

#[test]
fn loading_the_same_package_twice_is_refused() {
    let sys = system();
    let v1 = load(&sys, &plugins().foo, "foo", "1.0");
    let bytes = std::fs::read(&plugins().foo).unwrap();
    let again = runtime::VerifiedPackage::unverified("foo", "1.0", "libfoo.so", bytes);
    let err = sys.load(again).unwrap_err();
    assert!(matches!(&err, runtime::LoadError::AlreadyLoaded { hash } if *hash == v1.hash), "{err}");
    assert_eq!(sys.packages().len(), 1);
}

#[test]
fn unload_accepts_a_unique_prefix_and_refuses_an_ambiguous_one() {
    let sys = system();
    let v1 = load(&sys, &plugins().foo, "foo", "1.0");
    let err = sys.unload("").unwrap_err();
    assert!(matches!(err, runtime::UnloadError::NotLoaded(_)));
    assert!(matches!(sys.unload("zz"), Err(runtime::UnloadError::NotLoaded(_))));
    let report = sys.unload(&v1.hash[..8]).unwrap();
    assert_eq!(report.hash, v1.hash);
    // 17 hashes: two must share their first hex digit.
    let loaded: Vec<_> = (0..17).map(|i| load(&sys, &plugins().other, "other", &i.to_string())).collect();
    let first = |h: &str| h[..1].to_string();
    let clash =
        loaded.iter().map(|p| first(&p.hash)).find(|c| loaded.iter().filter(|p| first(&p.hash) == *c).count() > 1);
    let clash = clash.expect("pigeonhole");
    match sys.unload(&clash) {
        Err(runtime::UnloadError::Ambiguous { matches, .. }) => assert!(matches.len() >= 2),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(sys.packages().len(), 17, "an ambiguous unload changes nothing");
}
