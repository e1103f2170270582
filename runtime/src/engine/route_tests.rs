//! Unit tests of routing: local delivery, the one seam for other nodes, the
//! sender's cache, and dead letters.

use std::time::Duration;

use actor_abi::{Address, Message, Value};

use super::*;
use crate::engine::reply;
use crate::engine::test_kit::{Recorder, Seen, TestEngine, eventually, next};

#[test]
fn a_local_address_reaches_its_actor_and_the_answer_comes_back() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    assert_eq!(engine.ask(a, "ping"), Ok(Value::from("pong")));
    assert!(matches!(next(&seen), Seen::Value(v, from) if v == Value::from("ping") && !from.is_nobody()));
    assert_eq!(engine.dead_letters(), 0);
}

#[test]
fn an_address_on_another_node_is_one_dead_letter_and_an_ask_fails_at_once() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let here = engine.host(rec);
    let there = Address::from_parts(7, here.home(), here.id());
    engine.tell(there, 1);
    assert_eq!(engine.dead_letters(), 1, "the tell to node 7 is counted");
    assert_eq!(engine.ask(there, "ping"), Err(AskError::NoRoute(there)), "the seam answers, not the table");
    assert_eq!(AskError::NoRoute(there).to_string(), format!("no route to {there}: node 7 is not connected"));
    assert_eq!(engine.dead_letters(), 2, "and so is the ask's question");
    engine.tell(here, 2);
    assert_eq!(next(&seen), Seen::Value(Value::from(2), Address::NOBODY), "nothing for node 7 reached node 0's actor");
    assert_eq!(DeadReason::NoRoute(7).to_string(), "no route to node 7");
}

#[test]
fn the_right_id_under_another_home_names_no_actor() {
    let engine = TestEngine::start();
    let (rec, _seen) = Recorder::new();
    let a = engine.host(rec);
    let forged = Address::from_parts(a.node(), a.home() + 5, a.id());
    assert_eq!(engine.ask(forged, "ping"), Err(AskError::NoSuchActor(forged)));
}

#[test]
fn the_sender_cache_keeps_actors_but_never_a_spent_reply_slot() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    let mut cache = None;
    route_cached(&engine, &mut cache, Address::NOBODY, a, Payload::native(Message::Value(1.into())));
    assert_eq!(cache.as_ref().map(|c| c.addr), Some(a), "an actor is cached");
    route_cached(
        &engine,
        &mut cache,
        Address::NOBODY,
        Address::from_parts(3, a.home(), a.id()),
        Payload::native(Message::Value(2.into())),
    );
    assert_eq!(engine.dead_letters(), 1, "a cached cell never answers for another node's address");
    assert_eq!(next(&seen), Seen::Value(Value::from(1), Address::NOBODY));

    let (slot_addr, slot) = reply::open_slot(&engine, a);
    route_cached(&engine, &mut cache, a, slot_addr, Payload::native(Message::Value("first".into())));
    assert!(cache.is_none(), "a reply slot is never cached");
    route_cached(&engine, &mut cache, a, slot_addr, Payload::native(Message::Value("second".into())));
    let answer = slot.wait_until(std::time::Instant::now() + Duration::from_secs(30));
    assert_eq!(answer, Some(Ok(Value::from("first"))));
    assert_eq!(engine.dead_letters(), 2, "the second answer to a spent slot is a dead letter");
}

#[test]
fn a_message_to_an_actor_that_stopped_is_a_dead_letter() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    route(&engine, Address::NOBODY, a, Payload::native(Message::ActorExitRequest));
    assert_eq!(next(&seen), Seen::Exit);
    eventually("the stopped actor leaves the table", || engine.live_cell(a).is_none());
    assert_eq!(engine.ask(a, "ping"), Err(AskError::NoSuchActor(a)));
}
