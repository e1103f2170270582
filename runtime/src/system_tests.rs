//! Unit tests of the system's ask bookkeeping.

use std::time::Duration;

use actor_abi::{Actor, Address, Context, Message, Value};

use super::*;

/// Answers every value with itself.
struct Echo;

impl Actor for Echo {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if let Some(v) = msg.value() {
            cx.send(&from, v.clone());
        }
    }
}

/// Never answers.
struct Silent;

impl Actor for Silent {
    fn receive(&mut self, _: &mut Context<'_>, _: &Message, _: Address) {}
}

fn reply_cells(sys: &ActorSystem) -> usize {
    sys.engine.open_reply_slots()
}

#[test]
fn every_way_an_ask_ends_takes_its_reply_address_out_of_the_table() {
    let sys = ActorSystem::start(SystemConfig::default()).unwrap();
    let echo = sys.create_host_actor(Echo);
    for i in 0..100 {
        assert_eq!(sys.ask(&echo, i, Duration::from_secs(10)), Ok(Value::from(i)));
    }
    let silent = sys.create_host_actor(Silent);
    assert!(matches!(sys.ask(&silent, 1, Duration::from_millis(20)), Err(AskError::Timeout { .. })));
    let nobody = Address::parse("actor:0.987654").unwrap();
    assert_eq!(sys.ask(&nobody, 1, Duration::from_secs(10)), Err(AskError::NoSuchActor(nobody)));
    assert_eq!(reply_cells(&sys), 0, "answered, timed-out and dead-lettered asks left reply addresses behind");
}
