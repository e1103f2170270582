//! 1,000 worker start/stop cycles (issue 13): every worker is reaped, no
//! descriptor or version directory stays, and the starter's RSS stays flat. In a test binary of its own,
//! so that no other test's descriptors or children are counted.

mod common;

use std::time::Duration;

use actor_abi::value;
use common::{Env, start, system, worker_program};
use runtime::worker::WorkerExit;
use test_support::plugins;

const T: Duration = Duration::from_secs(30);

#[test]
fn a_thousand_worker_cycles_leave_no_process_descriptor_or_directory() {
    let env = Env::new();
    let root = tempfile::tempdir().unwrap();
    let system = system(root.path());
    env.gensrc_with("foo", &plugins().foo, &["version:1"]).ok();
    let warm = start(&env, &system, "foo", &worker_program());
    assert!(matches!(warm.stop(T), WorkerExit::Exited(_)));
    let fds = test_support::open_fds().expect("/proc/self/fd");
    let rss = test_support::rss_of("self").expect("/proc/self/status");
    for i in 0..1000 {
        let worker = start(&env, &system, "foo", &worker_program());
        let foo = worker.create_actor("foo.fooactor").expect("created");
        let pong = system.ask(&foo, value!({"ping": i}), T).expect("answered");
        assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(i));
        assert!(matches!(worker.stop(T), WorkerExit::Exited(_)), "cycle {i}");
    }
    assert_eq!(common::zombies_of(std::process::id()), 0, "every worker was reaped");
    // A worker's output pipe closes on its reader thread once it reads the
    // end, a moment after the worker is reaped: the warm-up worker's may
    // still have been open when `fds` was counted, so "back" is "no more".
    let back = test_support::eventually(Duration::from_secs(10), || test_support::open_fds().is_some_and(|n| n <= fds));
    assert!(back, "descriptors back to {fds}, not {:?}", test_support::open_fds());
    let grew = test_support::rss_of("self").expect("/proc/self/status").saturating_sub(rss);
    assert!(grew < 4 << 20, "RSS grew by {} KiB over 1,000 workers", grew >> 10);
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "no version directory left: {left:?}");
}
