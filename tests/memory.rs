//! Memory a package actor holds is returned when its version is unloaded.
//! Its own binary, so the RSS it reads is not disturbed by other tests.

mod common;

use actor_abi::Value;
use common::{T, load, rss_bytes, system};
use test_support::plugins;

#[test]
fn sixty_four_mib_held_by_an_actor_is_returned_at_unload() {
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    let before = rss_bytes();
    assert_eq!(sys.ask(&m, "alloc", T).unwrap(), Value::from("allocated"));
    let held = rss_bytes();
    assert!(held >= before + 60 * 1024 * 1024, "alloc should hold 64 MiB: {before} -> {held}");
    let report = sys.unload(&pkg.hash).unwrap();
    assert!(report.code.is_freed(), "{report}");
    let after = rss_bytes();
    assert!(after + 56 * 1024 * 1024 <= held, "memory not returned: {held} -> {after}");
}
