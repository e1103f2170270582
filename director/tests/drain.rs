//! Unload under traffic (issue 16): an unload (and a shutdown) drains,
//! then stops. An actor answers every message it holds before its exit
//! request; a drain that runs out of time drops what is left and counts
//! exactly the messages that were never handled. In the runtime, and
//! through the real daemon with the version in its process and in a
//! worker.

mod common;

use std::sync::Arc;
use std::time::Duration;

use actor_abi::{Address, Value, value};
use common::Env;
use director::protocol::Unloaded;
use director::{DirectorControl, SendOptions};
use runtime::{ActorSystem, AskError, PendingAsk};
use serde_json::json;
use test_support::plugins;

const LONG: Duration = Duration::from_secs(60);

/// An actor system with version 1 of `misbehave` loaded in it, and one of
/// its actors. Fields drop in order: the system before its directories.
struct Loaded {
    system: Arc<ActorSystem>,
    hash: String,
    actor: Address,
    _root: tempfile::TempDir,
    _env: Env,
}

fn load_misbehave() -> Loaded {
    let env = Env::new();
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let root = tempfile::tempdir().unwrap();
    let system = Arc::new(common::system(root.path()));
    let authority = runtime::tls::SourceAuthority::new(env.dir());
    let (_, pkg) = authority.stage_file(&env.dir().join("misbehave-1.tls"), system.extract_root()).expect("verified");
    let hash = system.load(pkg).expect("loaded").hash;
    let actor = system.create_actor(&hash, "misbehave.Actor").expect("created");
    Loaded { system, hash, actor, _root: root, _env: env }
}

/// Keeps the actor busy for `ms`, then queues `n` pings behind that.
fn hold(l: &Loaded, ms: i64, n: usize) -> Vec<PendingAsk> {
    l.system.tell(&l.actor, value!({"sleep_ms": ms}));
    (0..n).map(|_| l.system.send_ask(&l.actor, "ping")).collect()
}

#[test]
fn an_actor_holding_a_thousand_messages_answers_them_all_before_its_exit_request() {
    let l = load_misbehave();
    let pending = hold(&l, 300, 1000);
    let report = l.system.unload_within(&l.hash, LONG).expect("unloaded");
    assert_eq!(report.undelivered, 0, "{report}");
    assert!(report.code.is_freed(), "{report}");
    let answers: Vec<Result<Value, AskError>> = pending.into_iter().map(|p| p.wait(LONG)).collect();
    let pongs = answers.iter().filter(|a| a.as_ref().ok().and_then(Value::as_str) == Some("pong")).count();
    assert_eq!(
        pongs,
        1000,
        "every queued ask answered; first other outcome: {:?}",
        answers.iter().find(|a| a.is_err())
    );
}

/// A shutdown drains as an unload does (no OnDeactivate): every message
/// an actor holds is answered before its exit request.
#[test]
fn a_shutdown_answers_every_held_message_before_the_actors_stop() {
    let l = load_misbehave();
    let pending = hold(&l, 300, 1000);
    let report = l.system.shutdown();
    assert_eq!(report.unloads.len(), 1, "{report:?}");
    assert_eq!(report.unloads[0].undelivered, 0, "{}", report.unloads[0]);
    assert!(report.unloads[0].code.is_freed(), "{}", report.unloads[0]);
    let answers: Vec<Result<Value, AskError>> = pending.into_iter().map(|p| p.wait(LONG)).collect();
    let pongs = answers.iter().filter(|a| a.as_ref().ok().and_then(Value::as_str) == Some("pong")).count();
    assert_eq!(pongs, 1000, "first other outcome: {:?}", answers.iter().find(|a| a.is_err()));
}

#[test]
fn a_drain_that_runs_out_reports_exactly_the_messages_never_handled() {
    let l = load_misbehave();
    // The handler sleeps through the whole drain: none of the pings starts,
    // and some of them are already in the runner's batch, out of the queue.
    let pending = hold(&l, 1500, 1000);
    std::thread::sleep(Duration::from_millis(50));
    let report = l.system.unload_within(&l.hash, Duration::from_millis(300)).expect("unloaded");
    assert_eq!(report.undelivered, 1000, "{report}");
    assert!(report.to_string().contains("1000 message(s) left undelivered"), "{report}");
    assert!(!report.code.is_freed(), "the sleeping handler keeps the code: {report}");
    for (i, p) in pending.into_iter().enumerate() {
        assert!(matches!(p.wait(LONG), Err(AskError::TargetExited(_))), "ask {i} fails, never answered");
    }
    // Once the handler returns, the actor stops without running a ping,
    // and the code goes.
    let freed = test_support::eventually(Duration::from_secs(20), || {
        l.system.recheck_resident().iter().all(|r| r.code.is_freed()) && l.system.recheck_resident().is_empty()
    });
    assert!(freed, "the version is freed after its last handler returned");
}

#[test]
fn a_partial_drain_counts_every_message_as_answered_or_undelivered() {
    let l = load_misbehave();
    l.system.tell(&l.actor, value!({"sleep_ms": 50}));
    let pending: Vec<PendingAsk> = (0..1000).map(|_| l.system.send_ask(&l.actor, value!({"sleep_ms": 2}))).collect();
    let report = l.system.unload_within(&l.hash, Duration::from_millis(400)).expect("unloaded");
    let answered = pending.into_iter().map(|p| p.wait(LONG)).filter(Result::is_ok).count() as u64;
    // The message whose handler was running when the drain ran out was
    // started, so it is not undelivered; its answer may still be lost.
    let started_unanswered = 1000 - answered - report.undelivered;
    assert!(report.undelivered > 0 && answered > 0, "answered {answered}, {report}");
    assert!(started_unanswered <= 1, "answered {answered} + undelivered {} of 1000", report.undelivered);
}

/// Through the real daemon: `Slow` (misbehave) sleeps `sleep_ms` while
/// `MainFoo` (foo) forwards it 1,000 pings, so that Slow holds them all
/// when `unload` unloads Slow's version (given its hash). Returns the
/// unload's report and a handle to count the pongs foo received.
fn held_in_the_daemon<R>(isolation: &str, sleep_ms: u64, unload: impl FnOnce(&Env, &str) -> R) -> (R, HeldDaemon) {
    let env = Env::new();
    env.tli(
        "foo",
        &format!("{{'Isolation': '{isolation}', 'Actors': {{'foo.fooactor': {{'OnLoad': {{'Role': 'MainFoo'}}}}}}}}"),
    );
    let slow = "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'Slow'}}}}";
    env.tli("misbehave", &format!("{{'Isolation': '{isolation}', {}", &slow[1..]));
    env.gensrc_prebuilt(Some("1")).ok();
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let daemon = env.start();
    let control = DirectorControl::new(&env.dir()).with_binary(common::BIN);
    control.load("foo").expect("foo loaded");
    let hash = control.load("misbehave").expect("misbehave loaded").hash;
    let slow = control.get_role_address("Slow", None).expect("asked").expect("Slow runs");
    let none = SendOptions::default();
    control.tell("Slow", json!({"sleep_ms": sleep_ms}), &none).expect("told");
    for _ in 0..1000 {
        control.tell("MainFoo", json!({"forward": slow, "msg": "ping"}), &none).expect("told");
    }
    // foo handles in order: once it answers this, all 1,000 are forwarded.
    control.ask("MainFoo", json!({"probe": 0}), &none).expect("foo answers");
    let unloaded = unload(&env, &hash);
    (unloaded, HeldDaemon { control, _daemon: daemon, _env: env })
}

struct HeldDaemon {
    control: DirectorControl,
    _daemon: common::DaemonGuard,
    _env: Env,
}

impl HeldDaemon {
    /// The pongs foo has received so far.
    fn pongs(&self) -> usize {
        let history = self.control.ask("MainFoo", json!("history"), &SendOptions::default()).expect("history");
        history.as_array().expect("a list").iter().filter(|m| m.as_str() == Some("pong")).count()
    }
}

fn answers_all_held(isolation: &str) {
    let (unloaded, held) = held_in_the_daemon(isolation, 500, |env, hash| {
        let control = DirectorControl::new(&env.dir()).with_binary(common::BIN);
        control.unload_within(hash, Some(Duration::from_secs(30))).expect("unloaded")
    });
    assert_eq!(unloaded.undelivered, 0, "{unloaded:?}");
    assert!(unloaded.freed, "{unloaded:?}");
    let all = test_support::eventually(Duration::from_secs(10), || held.pongs() == 1000);
    assert!(all, "foo got {} of 1000 pongs", held.pongs());
}

fn counts_what_the_drain_dropped(isolation: &str) {
    // As an operator would: `unload HASH --timeout 0.5`.
    let (unloaded, held): (Unloaded, _) = held_in_the_daemon(isolation, 3000, |env, hash| {
        let report = env.json(&["unload", hash, "--timeout", "0.5", "--json"]);
        serde_json::from_value(report).expect("an unload report")
    });
    assert_eq!(unloaded.undelivered, 1000, "{unloaded:?}");
    // Past the sleep, nothing more may come: the actor stopped unanswering.
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(held.pongs(), 0, "no dropped message was handled");
}

#[test]
fn the_daemon_answers_every_held_message_before_unloading_in_process() {
    answers_all_held("inprocess");
}

#[test]
fn the_daemon_answers_every_held_message_before_unloading_in_a_worker() {
    answers_all_held("process");
}

#[test]
fn the_daemon_counts_what_a_drain_that_ran_out_dropped_in_process() {
    counts_what_the_drain_dropped("inprocess");
}

#[test]
fn the_daemon_counts_what_a_drain_that_ran_out_dropped_in_a_worker() {
    counts_what_the_drain_dropped("process");
}

#[test]
fn unload_timeouts_outside_the_range_are_refused_and_the_dropped_count_is_printed() {
    let env = Env::new();
    for bad in ["0", "-1", "3601", "soon"] {
        let run = env.run(&["unload", "abcd", &format!("--timeout={bad}")]);
        assert_ne!(run.code, 0, "--timeout {bad} accepted");
        assert!(run.stderr.contains("--timeout"), "{bad}: {}", run.stderr);
    }
    let (out, _held) =
        held_in_the_daemon("inprocess", 2000, |env, hash| env.run(&["unload", hash, "--timeout", "0.3"]).ok().stdout);
    assert!(out.contains("; 1000 message(s) left undelivered (the drain ran out; they were dropped)"), "{out}");
}

/// Asks in flight when the operator runs `shutdown` (the actor still
/// holds them) are answered before the daemon exits.
fn shutdown_answers_asks_in_flight(isolation: &str) {
    let env = Env::new();
    env.tli(
        "misbehave",
        &format!("{{'Isolation': '{isolation}', 'Actors': {{'misbehave.Actor': {{'OnLoad': {{'Role': 'Slow'}}}}}}}}"),
    );
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let _daemon = env.start();
    let control = Arc::new(DirectorControl::new(&env.dir()).with_binary(common::BIN));
    control.load("misbehave").expect("misbehave loaded");
    control.tell("Slow", json!({"sleep_ms": 1000}), &SendOptions::default()).expect("told");
    let asks: Vec<_> = (0..20)
        .map(|_| {
            let control = control.clone();
            std::thread::spawn(move || control.ask("Slow", json!("ping"), &SendOptions::default()))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(control.shutdown().expect("shut down"), "the daemon was running");
    let answers: Vec<_> = asks.into_iter().map(|a| a.join().expect("asker")).collect();
    let pongs = answers.iter().filter(|a| a.as_ref().is_ok_and(|v| v == "pong")).count();
    assert_eq!(pongs, 20, "first other outcome: {:?}", answers.iter().find(|a| a.is_err()));
}

#[test]
fn shutdown_answers_the_asks_in_flight_in_process() {
    shutdown_answers_asks_in_flight("inprocess");
}

#[test]
fn shutdown_answers_the_asks_in_flight_in_a_worker() {
    shutdown_answers_asks_in_flight("process");
}

/// A worker that dies while it drains (its actor aborts on a message it
/// held) reports the asks it lost as failed, never as answered, and the
/// unload says how the worker ended.
#[test]
fn a_worker_that_dies_while_draining_fails_the_asks_it_lost() {
    let env = Env::new();
    env.tli("misbehave", "{'Isolation': 'process', 'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'Slow'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let _daemon = env.start();
    let control = Arc::new(DirectorControl::new(&env.dir()).with_binary(common::BIN));
    let hash = control.load("misbehave").expect("misbehave loaded").hash;
    // By role in this very version: it still reaches it while it drains.
    let this = SendOptions { source: Some(hash.clone()), ..SendOptions::default() };
    control.tell("Slow", json!({"sleep_ms": 1500}), &this).expect("told");
    let ask_pings = |n: usize| -> Vec<_> {
        (0..n)
            .map(|_| {
                let (control, this) = (control.clone(), this.clone());
                std::thread::spawn(move || control.ask("Slow", json!("ping"), &this))
            })
            .collect()
    };
    let before = ask_pings(20);
    control.tell("Slow", json!("abort"), &this).expect("told");
    // Sent after the abort on the same stream: queued behind it.
    let after = ask_pings(20);
    std::thread::sleep(Duration::from_millis(300));
    let unloaded = control.unload_within(&hash, Some(Duration::from_secs(30))).expect("unloaded");
    assert!(unloaded.code.contains("worker died while draining: SIGABRT"), "{unloaded:?}");
    let lost = |e: &director::ControlError| {
        let text = e.to_string();
        ["went away", "no actor at", "stopped before it replied", "no route", "no running actor"]
            .iter()
            .any(|w| text.contains(w))
    };
    for ask in before {
        match ask.join().expect("asker") {
            Ok(answer) => assert_eq!(answer, json!("pong")),
            Err(e) => assert!(lost(&e), "{e}"),
        }
    }
    for ask in after {
        match ask.join().expect("asker") {
            Ok(answer) => panic!("an ask queued behind the abort was answered: {answer}"),
            Err(e) => assert!(lost(&e), "{e}"),
        }
    }
    let listed = control.list().expect("listed");
    assert!(listed.iter().all(|g| g.group != "misbehave" || g.versions.is_empty()), "{listed:?}");
}
