//! Unit tests of dispatch: order across batches, poisoned handlers, and
//! what happens to messages an actor still holds when it stops.

use std::sync::mpsc::{Receiver, Sender, channel};

use actor_abi::{Actor, Address, Context, Message, Value};

use crate::engine::test_kit::{Recorder, Seen, TestEngine, eventually, next};
use crate::error::AskError;

#[test]
fn messages_from_one_sender_arrive_in_order_across_many_batches() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    let n = 20 * super::BATCH as i64;
    for i in 0..n {
        engine.tell(a, i);
    }
    for i in 0..n {
        assert_eq!(next(&seen), Seen::Value(Value::from(i), Address::NOBODY));
    }
}

/// Panics on "boom", answers anything else with itself.
struct Fragile;

impl Actor for Fragile {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if msg.as_str() == Some("boom") {
            panic!("fragile went boom");
        }
        if let Some(v) = msg.value() {
            cx.send(&from, v.clone());
        }
    }
}

#[test]
fn a_handler_that_panics_poisons_that_ask_and_keeps_serving() {
    let engine = TestEngine::start();
    let a = engine.host(Fragile);
    match engine.ask(a, "boom") {
        Err(AskError::Poisoned { target, message, details }) => {
            assert_eq!((target, message), (a, Value::from("boom")));
            assert!(details.contains("fragile went boom"), "{details}");
        }
        other => panic!("expected a poisoned ask, got {other:?}"),
    }
    assert_eq!(engine.ask(a, 7), Ok(Value::from(7)), "the actor survives its panic");
}

/// Blocks on its first message until the gate opens; exits on "stop".
struct Gated {
    gate: Receiver<()>,
    seen: Sender<Value>,
    waited: bool,
}

impl Actor for Gated {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, _from: Address) {
        if !self.waited {
            self.waited = true;
            let _ = self.gate.recv();
        }
        if let Some(v) = msg.value() {
            let _ = self.seen.send(v.clone());
        }
        if msg.as_str() == Some("stop") {
            cx.exit();
        }
    }
}

#[test]
fn what_an_actor_still_holds_when_it_exits_becomes_dead_letters() {
    let engine = TestEngine::start();
    let (open, gate) = channel();
    let (seen_tx, seen) = channel();
    let a = engine.host(Gated { gate, seen: seen_tx, waited: false });
    engine.tell(a, "first");
    engine.tell(a, "stop");
    for i in 0..3 {
        engine.tell(a, i);
    }
    open.send(()).expect("the actor waits at the gate");
    let handled: Vec<Value> = (0..2).map(|_| seen.recv().expect("handled")).collect();
    assert_eq!(handled, vec![Value::from("first"), Value::from("stop")]);
    eventually("the three held messages are dead letters", || engine.dead_letters() == 3);
    assert!(engine.live_cell(a).is_none(), "the actor left the table");
    assert!(seen.try_recv().is_err(), "nothing after stop was handled");
}

#[test]
fn an_exit_request_queues_behind_what_the_actor_already_holds() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    for i in 0..100 {
        engine.tell(a, i);
    }
    crate::engine::route::route(
        &engine,
        Address::NOBODY,
        a,
        crate::engine::payload::Payload::native(Message::ActorExitRequest),
    );
    for i in 0..100 {
        assert_eq!(next(&seen), Seen::Value(Value::from(i), Address::NOBODY));
    }
    assert_eq!(next(&seen), Seen::Exit);
    assert_eq!(engine.dead_letters(), 0);
}
