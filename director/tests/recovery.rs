//! Start-up and recovery through the real binary (issue 11, item 9): a
//! group whose load crashes the daemon is quarantined at the next start,
//! `start` reports what failed, and a start after `kill -9` restores the
//! versions that were loaded and the one that was active.

mod common;

use common::{DaemonGuard, Env, ask};
use serde_json::json;
use test_support::plugins;

/// (hash, active) of every loaded version.
fn loaded(env: &Env) -> Vec<(String, bool)> {
    let list = env.json(&["list", "--json"]);
    let mut out: Vec<(String, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["hash"].as_str().unwrap().to_string(), v["active"].as_bool().unwrap()))
        .collect();
    out.sort();
    out
}

fn kill_9(env: &Env) {
    let pid = env.pid();
    // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(test_support::eventually(std::time::Duration::from_secs(10), || !director::client::process_alive(pid)));
}

/// In-process mode (`simpleSystemBase`): a crash in a package's code is a
/// crash of the daemon. (With workers, the default, only the worker dies:
/// see `tests/isolation.rs`.)
#[test]
fn an_onload_that_crashes_the_daemon_quarantines_its_group_at_the_next_start() {
    let env = Env::new();
    env.in_process();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M', 'Message': 'abort'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let _guard = DaemonGuard::new(&env);

    let first = env.run(&["start"]);
    assert_ne!(first.code, 0, "{}", first.stdout);
    assert!(
        first.stderr.contains("exited during start-up") && first.stderr.contains("SIGABRT"),
        "start says the daemon died, and how: {}",
        first.stderr
    );
    assert!(first.stderr.contains(".director.log") && !first.stderr.contains("reset by peer"), "{}", first.stderr);

    // The next start skips the group that crashed it, and says so.
    let second = env.run(&["start"]);
    assert!(second.stdout.starts_with("Started"), "the daemon runs: {}{}", second.stdout, second.stderr);
    assert_eq!(second.code, 1, "not everything that should run is running");
    assert!(second.stderr.contains("Quarantined \"misbehave\""), "{}", second.stderr);
    assert_eq!(ask(&env, &["MainFoo", "{\"ping\": 1}"])["pong"], 1, "the other group serves");
    let status = env.json(&["status", "--json"]);
    assert_eq!(status["quarantined"], json!(["misbehave"]));
    let list = env.run(&["list"]).ok();
    assert!(list.stdout.contains("Group misbehave: QUARANTINED"), "{}", list.stdout);
    let refresh = env.run(&["refresh"]);
    assert_ne!(refresh.code, 0);
    assert!(refresh.stderr.contains("quarantined"), "refresh leaves it alone: {}", refresh.stderr);

    // Fixed, and loaded explicitly, it leaves quarantine.
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M', 'Message': 'ping'}}}}");
    env.run(&["load", "misbehave"]).ok();
    assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"));
    assert_eq!(env.json(&["status", "--json"])["quarantined"], json!([]));
}

#[test]
fn start_reports_each_group_that_failed_and_exits_non_zero() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    env.tli("nopkg", "{'Actors': {}}");
    let _guard = DaemonGuard::new(&env);
    let r = env.run(&["start"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("Started"), "{}", r.stdout);
    assert!(r.stderr.contains("Failed \"nopkg\"") && r.stderr.contains("no valid package"), "{}", r.stderr);
    assert_eq!(ask(&env, &["MainFoo", "{\"ping\": 2}"])["pong"], 2);
}

#[test]
fn after_kill_9_start_restores_the_loaded_versions_and_the_active_one() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    for v in ["1", "3", "4"] {
        env.gensrc_prebuilt(Some(v)).ok();
    }
    let h = |v: &str| env.hash_of(&format!("foo-{v}.tls"));
    let _daemon = env.start();
    assert_eq!(loaded(&env), vec![(h("4"), true)], "the first start refreshes: the newest");
    // The operator's choice: 3 and 1 loaded, 1 (not the highest) active.
    env.run(&["unload", &h("4")[..12]]).ok();
    env.run(&["load", "foo-3.tls"]).ok();
    env.run(&["load", "foo-1.tls"]).ok();
    let chosen = {
        let mut v = vec![(h("1"), true), (h("3"), false)];
        v.sort();
        v
    };
    assert_eq!(loaded(&env), chosen);

    kill_9(&env);
    env.run(&["start"]).ok();
    assert_eq!(loaded(&env), chosen, "a start after a crash restores what was loaded, and what was active");
    assert_eq!(ask(&env, &["MainFoo", "{\"ping\": 3}"])["version"], "1");

    // After a clean shutdown, start refreshes as the seed says.
    env.run(&["shutdown"]).ok();
    env.run(&["start"]).ok();
    assert_eq!(loaded(&env), vec![(h("4"), true)]);
}
