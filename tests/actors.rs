//! The actor model through real package libraries: replies, history,
//! children, wakeups, global names, dead letters, host actors, async ask.

mod common;

use std::time::Duration;

use actor_abi::prelude::*;
use actor_abi::value;
use common::{T, eventually, load, system};
use runtime::AskError;
use test_support::{block_on, plugins};

#[test]
fn ping_is_answered_with_the_package_identity() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let pong = sys.ask(&foo, value!({"ping": 7}), T).unwrap();
    assert_eq!(pong.get("pong"), Some(&Value::Int(7)));
    assert_eq!(pong.get("class").and_then(Value::as_str), Some("foo.fooactor"));
    assert_eq!(pong.get("group").and_then(Value::as_str), Some("foo"));
    assert_eq!(pong.get("version").and_then(Value::as_str), Some("1.0"));
    assert_eq!(pong.get("hash").and_then(Value::as_str), Some(pkg.hash.as_str()));
}

#[test]
fn history_lists_earlier_messages_in_order_without_history_queries() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    for i in 0..50 {
        sys.tell(&foo, value!({"n": i}));
    }
    sys.tell(&foo, "history");
    sys.tell(&foo, Value::Bytes(vec![1, 2, 3]));
    let history = sys.ask(&foo, "history", T).unwrap();
    let items = history.as_list().unwrap();
    assert_eq!(items.len(), 51);
    for (i, item) in items.iter().take(50).enumerate() {
        assert_eq!(item, &value!({"n": i}));
    }
    assert_eq!(items[50], Value::Bytes(vec![1, 2, 3]));
}

#[test]
fn a_spawned_child_answers_and_its_exit_reaches_the_parent() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let child = sys.ask(&foo, "spawn", T).unwrap();
    let child = Address::from_value(&child).expect("spawn replies with an address");
    let pong = sys.ask(&child, value!({"ping": 1}), T).unwrap();
    assert_eq!(pong.get("class").and_then(Value::as_str), Some("foo.subdir2.barn.cowactor"));
    sys.tell(&child, "exit");
    let expected = value!({"ChildActorExited": child.to_string()});
    assert!(eventually(|| sys.ask(&foo, "history", T).unwrap().as_list().unwrap().contains(&expected)));
    assert!(matches!(sys.ask(&child, "history", T), Err(AskError::NoSuchActor(a)) if a == child));
}

#[test]
fn children_are_asked_to_exit_with_their_parent() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let child = Address::from_value(&sys.ask(&foo, "spawn", T).unwrap()).unwrap();
    sys.tell_message(&foo, Message::ActorExitRequest);
    assert!(eventually(|| sys.actors().iter().all(|a| a.address != child && a.address != foo)));
}

#[test]
fn a_wakeup_arrives_with_its_payload() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    sys.tell(&foo, value!({"wakeup": 20, "payload": {"k": "v"}}));
    let expected = value!({"WakeupMessage": {"k": "v"}});
    assert!(eventually(|| sys.ask(&foo, "history", T).unwrap().as_list().unwrap().contains(&expected)));
}

#[test]
fn a_global_name_names_one_actor() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let a = sys.create_named_actor(&pkg.hash, "foo.fooactor", "Shared").unwrap();
    let b = sys.create_named_actor(&pkg.hash, "foo.subdir2.barn.cowactor", "Shared").unwrap();
    assert_eq!(a, b);
    assert_eq!(sys.lookup_name("Shared"), Some(a));
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let from_plugin = sys.ask(&foo, value!({"spawn_named": "Shared"}), T).unwrap();
    assert_eq!(Address::from_value(&from_plugin), Some(a), "a plugin create with the name returns the existing actor");
    sys.tell_message(&a, Message::ActorExitRequest);
    assert!(eventually(|| sys.lookup_name("Shared").is_none()));
    let c = sys.create_named_actor(&pkg.hash, "foo.fooactor", "Shared").unwrap();
    assert_ne!(c, a, "a stopped actor's name is free again");
}

#[test]
fn undeliverable_messages_are_counted_as_dead_letters() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let before = sys.dead_letters();
    let nobody = Address::parse("actor:0.999999").unwrap();
    sys.tell(&nobody, "lost");
    assert_eq!(sys.dead_letters(), before + 1);
    // A plugin forwarding to nobody: counted too.
    sys.tell(&foo, value!({"forward": nobody.to_string(), "msg": "also lost"}));
    assert!(eventually(|| sys.dead_letters() >= before + 2));
    // Replies to a plain tell go nowhere: also a dead letter.
    let n = sys.dead_letters();
    sys.tell(&foo, value!({"ping": 1}));
    assert!(eventually(|| sys.dead_letters() > n));
}

#[test]
fn a_second_reply_to_an_answered_ask_is_a_dead_letter() {
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    let before = sys.dead_letters();
    assert_eq!(sys.ask(&m, "reply_twice", T).unwrap(), Value::from("first"));
    // Sent in the same handler call to the same (now answered) address:
    // it must not vanish into the spent reply slot.
    assert!(eventually(|| sys.dead_letters() == before + 1), "dead letters: {before} -> {}", sys.dead_letters());
}

#[test]
fn asking_a_missing_actor_fails_at_once() {
    let sys = system();
    let nobody = Address::parse("actor:0.424242").unwrap();
    let start = std::time::Instant::now();
    assert_eq!(sys.ask(&nobody, "x", Duration::from_secs(60)), Err(AskError::NoSuchActor(nobody)));
    assert!(start.elapsed() < Duration::from_secs(30), "must not wait for the timeout");
}

#[test]
fn an_unanswered_ask_times_out() {
    let sys = system();
    let pkg = load(&sys, &plugins().other, "other", "1");
    let other = sys.create_actor(&pkg.hash, "other.mainActor").unwrap();
    let r = sys.ask(&other, "no reply to this", Duration::from_millis(50));
    assert!(matches!(r, Err(AskError::Timeout { target, .. }) if target == other));
}

#[test]
fn messages_cross_between_packages_as_plain_values() {
    let sys = system();
    let foo_pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let other_pkg = load(&sys, &plugins().other, "other", "1");
    let foo = sys.create_actor(&foo_pkg.hash, "foo.fooactor").unwrap();
    let other = sys.create_actor(&other_pkg.hash, "other.mainActor").unwrap();
    for i in 0..10 {
        sys.tell(&other, value!({"forward": foo.to_string(), "msg": {"from_other": i}}));
    }
    // Once `other` has answered, its forwards are in foo's mailbox ahead of our ask.
    assert_eq!(sys.ask(&other, "count", T).unwrap(), Value::Int(10));
    let history = sys.ask(&foo, "history", T).unwrap();
    let got: Vec<&Value> = history.as_list().unwrap().iter().collect();
    assert_eq!(got.len(), 10);
    assert_eq!(got[9], &value!({"from_other": 9}));
}

/// A host actor that replies through a package actor and counts wakeups.
#[derive(Default)]
struct Relay {
    seen: i64,
}

impl Actor for Relay {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        match msg {
            Message::Value(v) if v.as_str() == Some("seen") => cx.send(&from, self.seen),
            Message::Value(v) if v.as_str() == Some("make") => {
                let made = cx.create_actor("foo.fooactor").map(Value::from).unwrap_or_else(|e| e.to_string().into());
                cx.send(&from, made);
            }
            Message::Value(v) if v.as_str() == Some("typed") => {
                let me = cx.my_address();
                cx.send_typed(&me, 41i64);
                cx.send(&from, "sent");
            }
            Message::Typed(t) => self.seen += t.downcast_ref::<i64>().copied().unwrap_or(0),
            Message::ChildActorExited { .. } => self.seen += 100,
            _ => {}
        }
    }
}

#[test]
fn host_actors_create_package_actors_and_exchange_typed_messages() {
    let sys = system();
    let _pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let relay = sys.create_host_actor(Relay::default());
    let child = Address::from_value(&sys.ask(&relay, "make", T).unwrap()).expect("created");
    assert_eq!(sys.ask(&child, value!({"ping": 3}), T).unwrap().get("pong"), Some(&Value::Int(3)));
    assert_eq!(sys.ask(&relay, "typed", T).unwrap(), Value::from("sent"));
    assert!(eventually(|| sys.ask(&relay, "seen", T).unwrap() == Value::Int(41)));
    sys.tell(&child, "exit");
    assert!(eventually(|| sys.ask(&relay, "seen", T).unwrap() == Value::Int(141)));
}

#[test]
fn ask_async_works_without_any_async_runtime() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    let reply = block_on(sys.ask_async(&foo, value!({"ping": 5}), T)).unwrap();
    assert_eq!(reply.get("pong"), Some(&Value::Int(5)));
    let other = load(&sys, &plugins().other, "other", "1");
    let silent = sys.create_actor(&other.hash, "other.mainActor").unwrap();
    let r = block_on(sys.ask_async(&silent, "quiet", Duration::from_millis(30)));
    assert!(matches!(r, Err(AskError::Timeout { .. })));
}

/// Records that it handled a message (and any ChildActorExited), shared with the test.
struct Flag(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Actor for Flag {
    fn receive(&mut self, _cx: &mut Context<'_>, msg: &Message, _from: Address) {
        let add = if matches!(msg, Message::ChildActorExited { .. }) { 100 } else { 1 };
        self.0.fetch_add(add, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn tell_delivered_returns_after_the_handler_ran() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sys = system();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let flag = sys.create_host_actor(Flag(count.clone()));
    for i in 1..=20 {
        sys.tell_delivered(&flag, Message::Value(Value::Int(i)), T).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), i as usize, "the handler ran before tell_delivered returned");
    }
    let nobody = Address::parse("actor:0.987654").unwrap();
    assert_eq!(sys.tell_delivered(&nobody, Message::Value(Value::Null), T), Err(AskError::NoSuchActor(nobody)));
}

#[test]
fn a_package_actor_created_with_a_parent_reports_its_exit_to_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let parent = sys.create_host_actor(Flag(count.clone()));
    let options = runtime::CreateOptions { global_name: None, parent: Some(parent) };
    let child = sys.create_actor_with(&pkg.hash, "foo.fooactor", options).unwrap();
    sys.tell(&child, "exit");
    assert!(eventually(|| count.load(Ordering::SeqCst) == 100));
    let gone = runtime::CreateOptions { global_name: None, parent: Some(child) };
    assert!(matches!(
        sys.create_actor_with(&pkg.hash, "foo.fooactor", gone),
        Err(runtime::CreateActorError::NoSuchParent(_))
    ));
}

#[test]
fn a_global_name_can_be_moved_to_another_actor() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    let a = sys.create_named_actor(&pkg.hash, "foo.fooactor", "Foo Primary").unwrap();
    let b = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
    assert!(sys.assign_global_name("Foo Primary", &b));
    assert_eq!(sys.lookup_name("Foo Primary"), Some(b));
    assert!(sys.is_alive(&a), "the old holder keeps running");
    sys.tell_message(&b, Message::ActorExitRequest);
    assert!(eventually(|| sys.lookup_name("Foo Primary").is_none()));
    assert!(!sys.assign_global_name("Foo Primary", &b), "a stopped actor cannot take a name");
}

/// Regression for a lost wakeup in mailbox scheduling (a sender's push racing
/// the worker's release of the actor; fixed with SeqCst fences): many asks
/// back to back, each answered at once, must all return.
#[test]
fn many_back_to_back_asks_never_hang() {
    let sys = system();
    let pkg = load(&sys, &plugins().foo, "foo", "1.0");
    for round in 0..3 {
        let foo = sys.create_actor(&pkg.hash, "foo.fooactor").unwrap();
        for i in 0..4000 {
            let r = sys.ask(&foo, value!({"ping": i}), T);
            assert!(r.is_ok(), "round {round}, ask {i}: {r:?}");
        }
    }
}
