//! Unit tests of creating actors: addresses, and one actor per global name.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use actor_abi::{Address, Message};

use super::*;
use crate::engine::payload::Payload;
use crate::engine::route::route;
use crate::engine::test_kit::{Recorder, TestEngine, eventually};

#[test]
fn host_actors_get_distinct_addresses_at_home_zero_of_this_node() {
    let engine = TestEngine::start();
    let addrs: Vec<Address> = (0..200).map(|_| engine.host(Recorder::new().0)).collect();
    let ids: HashSet<u64> = addrs.iter().map(Address::id).collect();
    assert_eq!(ids.len(), 200);
    assert!(addrs.iter().all(|a| a.home() == 0 && a.node() == Address::MAIN_NODE && !a.is_nobody()));
}

#[test]
fn one_global_name_gets_one_actor_when_many_threads_create_it_at_once() {
    let engine = TestEngine::start();
    // Many rounds: the race this guards against (a name visible before its
    // actor is) shows up in a few percent of single rounds.
    for round in 0..200 {
        let name = format!("solo-{round}");
        let made = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        let addrs: Vec<Address> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (engine, made, start, name) = (&*engine, made.clone(), start.clone(), name.as_str());
                    s.spawn(move || {
                        start.wait();
                        create_host_actor(engine, "solo".into(), Some(name), || {
                            made.fetch_add(1, Ordering::SeqCst);
                            Box::new(Recorder::new().0)
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("creator")).collect()
        });
        assert_eq!(made.load(Ordering::SeqCst), 1, "round {round}: make ran once");
        assert!(addrs.iter().all(|a| *a == addrs[0]), "round {round}: {addrs:?}");
        assert_eq!(engine.live_name(&name), Some(addrs[0]));
    }
}

#[test]
fn a_name_whose_actor_stopped_is_free_for_a_new_actor() {
    let engine = TestEngine::start();
    let first = create_host_actor(&engine, "n".into(), Some("n"), || Box::new(Recorder::new().0));
    route(&engine, Address::NOBODY, first, Payload::native(Message::ActorExitRequest));
    eventually("the name is released", || engine.live_name("n").is_none());
    let second = create_host_actor(&engine, "n".into(), Some("n"), || Box::new(Recorder::new().0));
    assert_ne!(first, second);
    assert_eq!(engine.live_name("n"), Some(second));
}
