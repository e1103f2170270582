//! The Director actor's messages, used from an embedding host: RetrieveAll,
//! RetrieveRole, SendToRole and the one-shot RequestNotification; the
//! Source Authority actor's ValidateSource.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actor_abi::prelude::*;
use common::Env;
use director::daemon::{self, actors};
use runtime::{ActorSystem, SystemConfig};

const T: Duration = Duration::from_secs(10);

/// Asks the Director for a notification on "subscribe"; counts the notices it gets.
struct Watcher {
    director: Address,
    notices: Arc<AtomicUsize>,
}

impl Actor for Watcher {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, _from: Address) {
        if msg.get("DirectorResponse").and_then(Value::as_str) == Some("NotificationOfUpdate") {
            self.notices.fetch_add(1, Ordering::SeqCst);
        } else if msg.as_str() == Some("subscribe") {
            cx.send(&self.director, value!({"DirectorOp": "RequestNotification"}));
        }
    }
}

#[test]
fn the_director_protocol_from_an_embedding_host() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    env.gensrc_prebuilt(Some("2")).ok();
    let system = Arc::new(ActorSystem::start(SystemConfig::default()).unwrap());
    let embedded = daemon::embed(&system, &env.dir());
    assert_eq!(system.lookup_name(actors::DIRECTOR_NAME), Some(embedded.director));
    assert_eq!(system.lookup_name(actors::SOURCE_AUTHORITY_NAME), Some(embedded.source_authority));
    let core = &embedded.core;
    let h1 = core.load("foo-1.tls").unwrap().hash;

    let all = system.ask(&embedded.director, value!({"DirectorOp": "RetrieveAll"}), T).unwrap();
    assert_eq!(all.get("DirectorResponse").and_then(Value::as_str), Some("AllAddresses"));
    let foo = all.get("Groups").and_then(|g| g.get("foo")).unwrap();
    assert_eq!(foo.get("ActiveHash").and_then(Value::as_str), Some(h1.as_str()));
    assert_eq!(foo.get("Loaded"), Some(&Value::List(vec![Value::from(h1.clone())])));
    let running = foo.get("Running").and_then(|r| r.get(&h1)).and_then(Value::as_list).unwrap();
    assert_eq!(running[0].get("Role").and_then(Value::as_str), Some("MainFoo"));
    let unknown = system.ask(&embedded.director, value!({"DirectorOp": "RetrieveAll", "Group": "nope"}), T).unwrap();
    assert_eq!(unknown.get("Groups").and_then(|g| g.get("nope")).and_then(|g| g.get("ActiveHash")), Some(&Value::Null));

    let role = system.ask(&embedded.director, value!({"DirectorOp": "RetrieveRole", "Role": "MainFoo"}), T).unwrap();
    let addr = Address::from_value(role.get("Address").unwrap()).unwrap();
    assert_eq!(system.ask(&addr, value!({"ping": 1}), T).unwrap().get("version").and_then(Value::as_str), Some("1"));
    let none = system.ask(&embedded.director, value!({"DirectorOp": "RetrieveRole", "Role": "Nobody"}), T).unwrap();
    assert_eq!(none.get("Success"), Some(&Value::Bool(false)));

    // SendToRole: the role's actor answers the asker directly.
    let sent = value!({"DirectorOp": "SendToRole", "Role": "MainFoo", "Message": {"ping": 7}});
    let pong = system.ask(&embedded.director, sent, T).unwrap();
    assert_eq!((pong.get("pong"), pong.get("version").and_then(Value::as_str)), (Some(&Value::from(7)), Some("1")));
    let unknown = value!({"DirectorOp": "SendToRole", "Role": "Nobody", "Message": 1});
    let refused = system.ask(&embedded.director, unknown, T).unwrap();
    assert_eq!(refused.get("Success"), Some(&Value::Bool(false)));
    let reason = refused.get("Reason").and_then(Value::as_str).unwrap_or_default();
    assert!(reason.contains("\"Nobody\""), "{reason}");

    // One-shot notification: one notice for the next load, none for the one after.
    let count = Arc::new(AtomicUsize::new(0));
    let watcher = system.create_host_actor(Watcher { director: embedded.director, notices: count.clone() });
    // Once the watcher has run, its request is queued at the Director ahead of this ask.
    system.tell_delivered(&watcher, Message::Value(Value::from("subscribe")), T).unwrap();
    system.ask(&embedded.director, value!({"DirectorOp": "RetrieveAll"}), T).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 0, "nothing happened yet");
    core.load("foo-2.tls").unwrap();
    assert!(test_support::eventually(T, || count.load(Ordering::SeqCst) == 1));
    core.unload(&h1).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(count.load(Ordering::SeqCst), 1, "the notice is one-shot");

    let valid = env.dir().join("foo-2.tls").display().to_string();
    let ok = system.ask(&embedded.source_authority, value!({"ValidateSource": valid}), T).unwrap();
    assert_eq!(ok.get("Validated"), Some(&Value::Bool(true)));
    assert_eq!(ok.get("Version").and_then(Value::as_str), Some("2"));
    let bad = system.ask(&embedded.source_authority, value!({"ValidateSource": "/nonexistent.tls"}), T).unwrap();
    assert_eq!(bad.get("Validated"), Some(&Value::Bool(false)));
    system.shutdown();
}
