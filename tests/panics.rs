//! A handler that panics: retried once, then PoisonMessage; an ask fails at
//! once; the actor keeps serving. Panics never cross into the host (if one
//! did, this test process would abort).

mod common;

use std::time::Duration;

use actor_abi::value;
use actor_abi::{Address, Value};
use common::{T, eventually, load, system};
use runtime::AskError;
use test_support::plugins;

#[test]
fn a_panicking_handler_is_retried_once_then_the_ask_fails_at_once() {
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    let start = std::time::Instant::now();
    let r = sys.ask(&m, value!({"panic": "boom"}), Duration::from_secs(60));
    assert!(start.elapsed() < Duration::from_secs(30), "an ask whose target panicked must not hang");
    match r {
        Err(AskError::Poisoned { target, message, details }) => {
            assert_eq!(target, m);
            assert_eq!(message, value!({"panic": "boom"}), "the poison carries the original message");
            assert!(details.contains("asked to panic"), "details: {details}");
        }
        other => panic!("expected PoisonMessage, got {other:?}"),
    }
    assert_eq!(sys.ask(&m, "panic_attempts", T).unwrap(), Value::Int(2), "one delivery plus one retry");
    assert_eq!(sys.ask(&m, "ping", T).unwrap(), Value::from("pong"), "the actor keeps serving");
}

#[test]
fn an_actor_sender_gets_a_poison_message_with_the_original() {
    let sys = system();
    let foo_pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let bad_pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let foo = sys.create_actor(&foo_pkg.hash, "foo.fooactor").unwrap();
    let bad = sys.create_actor(&bad_pkg.hash, "misbehave.Actor").unwrap();
    sys.tell(&foo, value!({"forward": bad.to_string(), "msg": {"panic": 1}}));
    let poisoned = |h: &Value| {
        h.as_list()
            .unwrap()
            .iter()
            .any(|e| e.get("PoisonMessage").and_then(Value::as_str).is_some_and(|s| s.contains("panic")))
    };
    assert!(eventually(|| poisoned(&sys.ask(&foo, "history", T).unwrap())));
    assert_eq!(sys.ask(&bad, "panic_attempts", T).unwrap(), Value::Int(2));
}

/// A typed message crosses the boundary as its own box (no `Message` box):
/// the receiver sees it, a panic on it returns it to its sender inside a
/// PoisonMessage that still downcasts, and it is dropped exactly once, in
/// its library.
#[test]
fn a_typed_message_that_poisons_comes_back_typed_and_is_dropped_once() {
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    let reply = sys.ask(&m, value!({"typed_poison": "fuse-7"}), T).unwrap();
    assert_eq!(reply, Value::from("poisoned by fuse-7"));
    assert!(
        eventually(|| sys.ask(&m, "bomb_drops", T).unwrap() == Value::Int(1)),
        "the Bomb is dropped once: {:?}",
        sys.ask(&m, "bomb_drops", T)
    );
}

#[test]
fn panics_in_many_actors_at_once_leave_the_host_running() {
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let actors: Vec<Address> = (0..8).map(|_| sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap()).collect();
    let futures: Vec<_> = actors.iter().map(|a| sys.ask_async(a, value!({"panic": true}), T)).collect();
    drop(futures);
    for a in &actors {
        assert!(matches!(sys.ask(a, value!({"panic": 2}), T), Err(AskError::Poisoned { .. })));
        assert_eq!(sys.ask(a, "ping", T).unwrap(), Value::from("pong"));
    }
}
