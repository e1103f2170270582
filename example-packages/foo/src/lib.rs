//! Example package `foo`: the actor names from the seed's TLI example.
//!
//! Both classes record every message they receive and answer:
//! - `"history"`: the list of earlier messages (history queries excluded);
//!   system messages are recorded as `{"ChildActorExited": addr}`,
//!   `{"WakeupMessage": payload}` and `{"PoisonMessage": text}`.
//! - `{"ping": n}`: `{"pong": n, "class", "group", "version", "hash",
//!   "constructed"}`, where `constructed` counts the actors this library
//!   image has built (two loaded versions must not share it).
//! - `{"probe": n}`: answered as `ping` but not recorded, so that a long
//!   run of asks (a load test) does not grow the actor.
//! - `{"wakeup": ms, "payload": p}`: asks for a wakeup carrying `p`.
//! - `{"forward": address, "msg": m}`: sends `m` to `address`.
//! - `"exit"`: the actor stops.
//!
//! `foo.fooactor` also answers `"spawn"` by creating a `cowactor` child and
//! replying with its address, and `{"spawn_named": name}` by creating one
//! under a global name.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actor_abi::prelude::*;

static CONSTRUCTED: AtomicU64 = AtomicU64::new(0);

const FOO: &str = "foo.fooactor";
const COW: &str = "foo.subdir2.barn.cowactor";

struct Recorder {
    class: &'static str,
    seen: Vec<Value>,
}

impl Recorder {
    fn new(class: &'static str) -> Self {
        CONSTRUCTED.fetch_add(1, Ordering::Relaxed);
        Recorder { class, seen: Vec::new() }
    }

    /// Handles what both classes share; false when the message is not one of those.
    fn common(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) -> bool {
        if msg.as_str() == Some("history") {
            cx.send(&from, Value::List(self.seen.clone()));
            return true;
        }
        if let Some(n) = msg.get("probe").and_then(Value::as_i64) {
            let reply = self.pong(cx, n);
            cx.send(&from, reply);
            return true;
        }
        self.record(msg);
        if let Some(n) = msg.get("ping").and_then(Value::as_i64) {
            let reply = self.pong(cx, n);
            cx.send(&from, reply);
        } else if let Some(ms) = msg.get("wakeup").and_then(Value::as_i64) {
            let payload = msg.get("payload").cloned().unwrap_or_default();
            cx.wakeup_after(Duration::from_millis(ms.max(0) as u64), payload);
        } else if let Some(to) = msg.get("forward").and_then(Address::from_value) {
            cx.send(&to, msg.get("msg").cloned().unwrap_or_default());
        } else if msg.as_str() == Some("exit") {
            cx.exit();
        } else {
            return false;
        }
        true
    }

    fn pong(&self, cx: &Context<'_>, n: i64) -> Value {
        let (group, version, hash) =
            cx.source().map(|s| (s.group.to_string(), s.version.to_string(), s.hash.to_string())).unwrap_or_default();
        value!({
            "pong": n, "class": self.class, "group": group, "version": version, "hash": hash,
            "constructed": CONSTRUCTED.load(Ordering::Relaxed),
        })
    }

    fn record(&mut self, msg: &Message) {
        let entry = match msg {
            Message::Value(v) => v.clone(),
            Message::ChildActorExited { child } => value!({ "ChildActorExited": child.to_string() }),
            Message::WakeupMessage { payload } => value!({ "WakeupMessage": payload.to_json() }),
            Message::PoisonMessage { original, .. } => value!({ "PoisonMessage": original.describe() }),
            _ => return,
        };
        self.seen.push(entry);
    }
}

/// `foo.fooactor`.
struct FooActor(Recorder);

impl Default for FooActor {
    fn default() -> Self {
        FooActor(Recorder::new(FOO))
    }
}

impl Actor for FooActor {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if self.0.common(cx, msg, from) {
            return;
        }
        let created = if msg.as_str() == Some("spawn") {
            Some(cx.create_actor(COW))
        } else {
            msg.get("spawn_named").and_then(Value::as_str).map(|name| cx.create_named_actor(COW, name))
        };
        match created {
            Some(Ok(child)) => cx.send(&from, child),
            Some(Err(e)) => cx.send(&from, value!({ "error": e.to_string() })),
            None => {}
        }
    }
}

/// `foo.subdir2.barn.cowactor`.
struct CowActor(Recorder);

impl Default for CowActor {
    fn default() -> Self {
        CowActor(Recorder::new(COW))
    }
}

impl Actor for CowActor {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        self.0.common(cx, msg, from);
    }
}

export_actors! {
    "foo.fooactor" => FooActor,
    "foo.subdir2.barn.cowactor" => CowActor,
}
