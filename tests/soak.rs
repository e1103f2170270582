//! 200 load/unload cycles: mapped files, open fds and RSS return to their
//! baseline (RSS within 8 MiB). One test in its own binary, so nothing runs
//! beside it and disturbs the measurements.

mod common;

use actor_abi::{Address, Value, value};
use common::{T, load, open_fds, rss_bytes, system};
use runtime::{ActorSystem, maps};
use test_support::plugins;

fn cycle(sys: &ActorSystem, i: usize) {
    let (lib, group, class) = if i.is_multiple_of(2) {
        (&plugins().foo, "foo", "foo.fooactor")
    } else {
        (&plugins().misbehave, "misbehave", "misbehave.Actor")
    };
    let pkg = load(sys, lib, group, &format!("{i}"));
    let a = sys.create_actor(&pkg.hash, class).unwrap();
    if group == "foo" {
        let pong = sys.ask(&a, value!({"ping": i}), T).unwrap();
        assert_eq!(pong.get("pong"), Some(&Value::Int(i as i64)));
        let child = Address::from_value(&sys.ask(&a, "spawn", T).unwrap()).unwrap();
        sys.tell(&child, "hello");
    } else {
        sys.ask(&a, "tls", T).unwrap();
        sys.ask(&a, "thread", T).unwrap();
        assert!(sys.ask(&a, value!({"panic": i}), T).is_err());
    }
    let report = sys.unload(&pkg.hash).unwrap();
    assert!(report.code.is_freed(), "cycle {i}: {report}");
    assert!(maps::mappings_of(&pkg.library).unwrap().is_empty());
}

#[test]
fn two_hundred_load_unload_cycles_return_to_baseline() {
    let sys = system();
    for i in 0..10 {
        cycle(&sys, i);
    }
    let (files, fds, rss) = (maps::mapped_file_count().unwrap(), open_fds(), rss_bytes());
    for i in 10..210 {
        cycle(&sys, i);
    }
    let (files2, fds2, rss2) = (maps::mapped_file_count().unwrap(), open_fds(), rss_bytes());
    eprintln!("mapped files {files} -> {files2}, fds {fds} -> {fds2}, rss {rss} -> {rss2}");
    assert_eq!(files2, files, "mapped files back to baseline");
    assert_eq!(fds2, fds, "open fds back to baseline");
    assert!(rss2 <= rss + 8 * 1024 * 1024, "RSS grew from {rss} to {rss2} bytes");
}
