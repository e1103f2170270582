//! Process isolation through the real daemon (issue 13): with no
//! `thespbase.cfg` every version runs in a worker process of its own, so a
//! package that aborts, segfaults, overflows its stack, exits or runs out
//! of memory ends only its worker. The daemon notices at once, fails the
//! ask in flight, shows the crash in `list` and restarts the worker, while
//! other groups keep answering. A handler that spins is killed at unload.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Env, ask};
use serde_json::{Value, json};
use test_support::{eventually, plugins};

const MISBEHAVE_TLI: &str = "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M'}}}, 'Limits': {'MemoryMiB': 768}}";
const FOO_TLI: &str = "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo', 'GlobalName': 'Foo Primary'}}}}";

/// A daemon running foo 1.0 and misbehave 1, each in its worker.
fn two_groups() -> (Env, common::DaemonGuard) {
    let env = Env::new();
    env.tli("foo", FOO_TLI);
    env.gensrc_prebuilt(Some("1.0")).ok();
    env.tli("misbehave", MISBEHAVE_TLI);
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let daemon = env.start();
    (env, daemon)
}

/// `list --json`'s entry for `group`'s only version.
fn version_of(env: &Env, group: &str) -> Value {
    let list = env.json(&["list", "--json"]);
    let found: Vec<&Value> = list.as_array().unwrap().iter().filter(|v| v["group"] == group).collect();
    assert_eq!(found.len(), 1, "one version of {group}: {list:#}");
    found[0].clone()
}

/// The pid of the worker `runs` names (`worker pid N`).
fn worker_pid(version: &Value) -> Option<u32> {
    version["runs"].as_str()?.strip_prefix("worker pid ")?.parse().ok()
}

fn gone(pid: u32) -> bool {
    // A zombie still has a /proc entry: gone means reaped.
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// The crash reason `list` must show for each way to die.
fn reason_ok(msg: &str, reason: &str) -> bool {
    match msg {
        "exit" => reason == "exit status 3",
        "segv" => reason == "SIGSEGV",
        // Rust reports a stack overflow and aborts; a guard page hit
        // outside its handler is a plain SIGSEGV.
        "stack" => reason == "SIGABRT" || reason == "SIGSEGV",
        // abort, and a refused allocation (Rust aborts).
        _ => reason == "SIGABRT",
    }
}

fn other_group_serves(env: &Env, n: i64) {
    assert_eq!(ask(env, &["MainFoo", &format!("{{\"ping\": {n}}}")])["pong"], n, "foo answers");
    env.run(&["status"]).ok();
    env.run(&["list"]).ok();
}

#[test]
fn each_crash_ends_only_its_worker_and_the_version_is_restarted() {
    let (env, _daemon) = two_groups();
    let foo_pid = worker_pid(&version_of(&env, "foo")).expect("foo runs in a worker");
    assert!(common::children_of(env.pid()).contains(&foo_pid), "the worker is the daemon's child");
    for (n, msg) in ["abort", "segv", "stack", "exit", "oom"].into_iter().enumerate() {
        let before = version_of(&env, "misbehave");
        let pid = worker_pid(&before).unwrap_or_else(|| panic!("{msg}: misbehave runs in a worker: {before:#}"));
        assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"));
        let started = Instant::now();
        let r = env.run(&["ask", "--timeout", "600", "M", &format!("{msg:?}")]);
        let took = started.elapsed();
        assert_ne!(r.code, 0, "{msg}: the ask fails");
        assert!(r.stderr.contains("went away before it replied"), "{msg}: a clear error: {}", r.stderr);
        assert!(took < Duration::from_secs(1), "{msg}: the ask in flight failed after {took:?}, not at once");
        // During the restart's backoff and right after it.
        other_group_serves(&env, n as i64);
        let restarted = eventually(Duration::from_secs(30), || {
            worker_pid(&version_of(&env, "misbehave")).is_some_and(|p| p != pid)
        });
        assert!(restarted, "{msg}: a new worker runs: {:#}", version_of(&env, "misbehave"));
        let after = version_of(&env, "misbehave");
        assert_eq!(after["worker_restarts"], json!(n + 1), "{msg}: {after:#}");
        let reason = after["last_crash"]["reason"].as_str().unwrap_or_default();
        assert!(reason_ok(msg, reason), "{msg}: list shows the crash as {reason:?}");
        assert!(after["last_crash"]["at"].as_u64().is_some_and(|t| t > 0), "{after:#}");
        assert!(gone(pid), "{msg}: the dead worker {pid} was reaped");
        assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"), "{msg}: the restarted version answers");
        other_group_serves(&env, 100 + n as i64);
    }
    assert_eq!(worker_pid(&version_of(&env, "foo")), Some(foo_pid), "foo's worker never restarted");
    let text = env.run(&["list"]).ok().stdout;
    assert!(text.contains("worker restarts 5, last crash SIGABRT at"), "{text}");
}

#[test]
fn a_spinning_handler_times_out_and_unload_ends_its_worker_after_the_drain() {
    let (env, _daemon) = two_groups();
    let v = version_of(&env, "misbehave");
    let (pid, hash) = (worker_pid(&v).unwrap(), v["hash"].as_str().unwrap().to_string());
    let r = env.run(&["ask", "--timeout", "1", "M", "\"spin\""]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("no reply from") && r.stderr.contains("within 1s"), "{}", r.stderr);
    other_group_serves(&env, 1);
    let started = Instant::now();
    // The drain gives up after 2 s (the spinning handler never returns);
    // the worker then exits by itself, its spinning thread with it.
    let u = env.run(&["unload", &hash[..12], "--timeout", "2"]).ok();
    assert!(u.stdout.ends_with("code freed (worker exited)\n"), "{}", u.stdout);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(7), "the drain, then the exit: {took:?}");
    assert!(gone(pid), "the spinning worker ended and was reaped");
    assert!(!env.dir().join(".director-run").join(&hash).exists(), "its directory is gone");
    other_group_serves(&env, 2);
}

#[test]
fn an_onload_that_crashes_its_worker_fails_the_load_and_the_daemon_serves_on() {
    let env = Env::new();
    env.tli("foo", FOO_TLI);
    env.gensrc_prebuilt(Some("1.0")).ok();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M', 'Message': 'abort'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let _daemon = common::DaemonGuard::new(&env);
    let start = env.run(&["start"]);
    assert_eq!(start.code, 1, "not everything that should run is running: {}", start.stdout);
    assert!(start.stderr.contains("Failed \"misbehave\"") && start.stderr.contains("went away"), "{}", start.stderr);
    other_group_serves(&env, 1);
    let list = env.json(&["list", "--json"]);
    assert!(list.as_array().unwrap().iter().all(|v| v["group"] != "misbehave"), "rolled back: {list:#}");
    assert_eq!(common::children_of(env.pid()).len(), 1, "only foo's worker is left");
    assert_eq!(env.json(&["status", "--json"])["quarantined"], json!([]), "nothing to quarantine");
}

#[test]
fn a_tli_picks_its_isolation_and_list_shows_where_each_version_runs() {
    let env = Env::new();
    env.in_process();
    env.tli("foo", FOO_TLI);
    env.gensrc_prebuilt(Some("1.0")).ok();
    let tli = MISBEHAVE_TLI
        .replace("'Limits'", "'Isolation': 'process', 'Limits'")
        .replace("'MemoryMiB': 768", "'MemoryMiB': 768, 'OpenFiles': 256, 'CpuSeconds': 3600");
    env.tli("misbehave", &tli);
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let config = env.run(&["config"]).ok().stdout;
    assert!(config.contains("Isolation: in-process"), "{config}");
    let _daemon = env.start();
    assert_eq!(version_of(&env, "foo")["runs"], "in-process");
    let pid = worker_pid(&version_of(&env, "misbehave")).expect("the TLI asked for a worker");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let address_space = limits.lines().find(|l| l.starts_with("Max address space")).unwrap();
    assert!(address_space.contains(&(768u64 << 20).to_string()), "MemoryMiB applied: {address_space}");
    for (line, value) in [("Max open files", "256"), ("Max cpu time", "3600")] {
        let found = limits.lines().find(|l| l.starts_with(line)).unwrap();
        assert_eq!(found.split_whitespace().filter(|w| *w == value).count(), 2, "soft = hard = {value}: {found}");
    }
    let text = env.run(&["list"]).ok().stdout;
    assert!(text.contains(&format!("code mapped  worker pid {pid}")), "{text}");
    assert!(text.contains("code mapped  in-process"), "{text}");

    // Limits on an in-process version are refused, naming the file.
    env.tli("foo", &FOO_TLI.replace("}}}}", "}}}, 'Limits': {'OpenFiles': 64}}"));
    env.gensrc_prebuilt(Some("2.0")).ok();
    let r = env.run(&["load", "foo"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("'Limits' apply to a worker process"), "{}", r.stderr);
    assert_eq!(version_of(&env, "foo")["version"], "1.0", "nothing changed");
}

#[test]
fn shutdown_stops_every_worker_and_leaves_nothing_behind() {
    let (env, daemon) = two_groups();
    let workers = common::children_of(env.pid());
    assert_eq!(workers.len(), 2, "{workers:?}");
    drop(daemon);
    for pid in workers {
        assert!(gone(pid), "worker {pid} is gone after shutdown");
    }
    assert!(!env.dir().join(".director-run").exists());
    let log = std::fs::read_to_string(env.root.path().join("logs/thespian_system.log")).unwrap_or_default();
    assert_eq!(log.matches(": freed (worker exited)").count(), 2, "{log}");
    // Each worker's own shutdown stopped its actors (ActorExitRequest) and
    // unloaded its version before it exited; its log lines reach the daemon's.
    for group in ["foo 1.0", "misbehave 1"] {
        let line = log.lines().find(|l| l.contains(&format!("unloaded {group} ")));
        assert!(line.is_some_and(|l| l.contains("1 actor(s) stopped, code freed")), "{group}: {log}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn put_addr(out: &mut Vec<u8>, a: actor_abi::Address) {
    out.extend_from_slice(&a.id().to_le_bytes());
    out.extend_from_slice(&a.home().to_le_bytes());
    out.extend_from_slice(&a.node().to_le_bytes());
}

/// A well-formed batch frame of one value message `from` → `to` (the
/// layout `runtime::remote::frame` documents).
fn forged_frame(from: actor_abi::Address, to: actor_abi::Address) -> Vec<u8> {
    let value = actor_abi::wire::encode(&actor_abi::Value::from("forged"));
    let mut body = vec![runtime::remote::frame::PROTOCOL_VERSION, 1];
    body.extend_from_slice(&1u32.to_le_bytes());
    put_addr(&mut body, from);
    put_addr(&mut body, to);
    body.push(1);
    body.extend_from_slice(&(value.len() as u32).to_le_bytes());
    body.extend_from_slice(&value);
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// A package that scribbles on its worker's channel to the daemon is a
/// hostile peer: for garbage, an oversized frame, and a well-formed frame
/// that speaks for another group's actor, written into the shared ring
/// behind the runtime's back, and for anything but a doorbell written on
/// the socket to the daemon, the daemon drops and kills the worker, logs
/// what was wrong, shows it in `list`, and restarts it.
#[test]
fn a_worker_that_writes_hostile_frames_is_dropped_and_others_are_unaffected() {
    let (env, _daemon) = two_groups();
    let foo: actor_abi::Address = version_of(&env, "foo")["actors"][0]["address"].as_str().unwrap().parse().unwrap();
    let daemon_actor = actor_abi::Address::from_parts(0, 0, 1);
    let ring = |hex: String| format!("{{\"write_ring\": \"{hex}\"}}");
    let cases = [
        ("an oversized frame", ring(hex(&u32::MAX.to_le_bytes())), "frame length 4294967295 is outside"),
        ("garbage", ring("0500000009ffffffff".to_string()), "protocol version 9"),
        ("a forged sender", ring(hex(&forged_frame(foo, daemon_actor))), &format!("sent a message as {foo}") as &str),
        (
            "bytes on the doorbell socket",
            "{\"write_fd\": [-1, \"0500000009\"]}".to_string(),
            "wrote 0x05 on the doorbell",
        ),
    ];
    for (n, (what, msg, expected)) in cases.iter().enumerate() {
        let pid = worker_pid(&version_of(&env, "misbehave")).expect("misbehave runs");
        let r = env.run(&["ask", "--timeout", "30", "M", msg]);
        // The reply may or may not make it out before the worker is dropped.
        assert!(r.code == 0 || r.stderr.contains("went away"), "{what}: {}", r.stderr);
        assert!(!r.stdout.contains("no shared ring"), "{what}: {}", r.stdout);
        let restarted = eventually(Duration::from_secs(30), || {
            worker_pid(&version_of(&env, "misbehave")).is_some_and(|p| p != pid)
        });
        assert!(restarted, "{what}: dropped and restarted: {:#}", version_of(&env, "misbehave"));
        assert!(gone(pid), "{what}: the worker was killed and reaped");
        let crash = version_of(&env, "misbehave")["last_crash"]["reason"].as_str().unwrap_or_default().to_string();
        assert!(crash.starts_with("dropped: ") && crash.contains(expected), "{what}: {crash}");
        other_group_serves(&env, n as i64);
    }
    let log = std::fs::read_to_string(env.root.path().join("logs/thespian_system.log")).unwrap();
    for (what, _, expected) in &cases {
        assert!(log.lines().any(|l| l.contains("killing worker") && l.contains(expected)), "{what} logged: {log}");
    }
}

/// The daemon killed with SIGKILL cannot stop its workers: each notices
/// that its end of the socket closed and exits by itself (no orphan keeps
/// running a package nobody can reach).
#[test]
fn workers_exit_by_themselves_when_the_daemon_is_killed() {
    let (env, daemon) = two_groups();
    let workers = common::children_of(env.pid());
    assert_eq!(workers.len(), 2, "{workers:?}");
    // Messages have crossed both rings, so each worker's threads poll.
    other_group_serves(&env, 1);
    // SAFETY (test): kill(2) on the daemon's pid, which this test started.
    assert_eq!(unsafe { libc::kill(env.pid() as i32, libc::SIGKILL) }, 0);
    for pid in workers {
        assert!(
            eventually(Duration::from_secs(10), || common::process_exited(pid)),
            "worker {pid} outlived its daemon"
        );
    }
    drop(daemon);
}

/// A restart that cannot start the worker (its package file is gone) is
/// shown in `list` and tried again with backoff, until it succeeds.
#[test]
fn a_failed_restart_is_shown_and_tried_again_until_it_succeeds() {
    let (env, _daemon) = two_groups();
    let file = env.dir().join("misbehave-1.tls");
    let aside = env.root.path().join("misbehave-1.tls");
    std::fs::rename(&file, &aside).unwrap();
    let r = env.run(&["ask", "M", "\"segv\""]);
    assert!(r.stderr.contains("went away"), "{}", r.stderr);
    let failed = eventually(Duration::from_secs(30), || {
        version_of(&env, "misbehave")["last_crash"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("restart failed: "))
    });
    assert!(failed, "{:#}", version_of(&env, "misbehave"));
    let text = env.run(&["list"]).ok().stdout;
    assert!(text.contains("crashed: restart failed: "), "{text}");
    other_group_serves(&env, 1);
    std::fs::rename(&aside, &file).unwrap();
    let back = eventually(Duration::from_secs(60), || worker_pid(&version_of(&env, "misbehave")).is_some());
    assert!(back, "restarted once the file is back: {:#}", version_of(&env, "misbehave"));
    assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"));
}
