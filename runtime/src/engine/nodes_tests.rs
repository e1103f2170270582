//! Unit tests of the way out of a node and back in: two engines in one
//! process, linked by a transport that really encodes and decodes frames.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, Weak};

use actor_abi::{Actor, Address, Context, Message, Value};

use super::*;
use crate::engine::payload::Payload;
use crate::engine::route::route;
use crate::engine::test_kit::{Recorder, Seen, TestEngine, eventually, next};
use crate::remote::{PeerGone, frame};

/// Frames for one peer, decoded and delivered on a thread of their own.
struct FrameLink {
    node: u32,
    frames: Mutex<Sender<Vec<u8>>>,
}

impl Outbound for FrameLink {
    fn send(&self, env: RemoteEnvelope) -> Result<(), PeerGone> {
        let mut bytes = Vec::new();
        frame::encode_batch(std::slice::from_ref(&env), &mut bytes);
        let frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        frames.send(bytes).map_err(|_| PeerGone(self.node))
    }
}

/// A link from `from` (node `from_node`) to `to`: what `from` sends arrives
/// in `to` as frames from peer `from_node`.
fn link(from_node: u32, to: &Arc<EngineState>) -> Arc<FrameLink> {
    let (tx, rx) = channel::<Vec<u8>>();
    let node = to.node;
    let to: Weak<EngineState> = Arc::downgrade(to);
    std::thread::spawn(move || {
        for bytes in rx {
            let Some(to) = to.upgrade() else { return };
            let Ok(frame::Frame::Batch(envs)) = frame::decode(&bytes[4..]) else {
                panic!("a batch we encoded decodes")
            };
            for env in envs {
                deliver_in(&to, from_node, env).expect("a well-behaved peer");
            }
        }
    });
    Arc::new(FrameLink { node, frames: Mutex::new(tx) })
}

/// Node 0 and node 1, each with a route to the other.
fn pair() -> (TestEngine, TestEngine) {
    let (main, worker) = (TestEngine::start(), TestEngine::start_node(1));
    attach(&main, 1, link(0, &worker));
    attach_default(&worker, link(1, &main));
    (main, worker)
}

#[test]
fn an_ask_crosses_to_another_node_and_its_answer_comes_back() {
    let (main, worker) = pair();
    let (rec, seen) = Recorder::new();
    let far = worker.host(rec);
    assert_eq!(far.node(), 1, "the worker's addresses carry its node");
    assert_eq!(main.ask(far, "ping"), Ok(Value::from("pong")));
    assert!(matches!(next(&seen), Seen::Value(v, from) if v == Value::from("ping") && from.node() == 0));
    assert_eq!((main.dead_letters(), worker.dead_letters()), (0, 0));
}

#[test]
fn system_messages_cross_and_typed_ones_stay_as_dead_letters() {
    let (main, worker) = pair();
    let (rec, seen) = Recorder::new();
    let far = worker.host(rec);
    let wake = Message::WakeupMessage { payload: Value::from(3) };
    route(&main, Address::NOBODY, far, Payload::native(wake));
    assert_eq!(next(&seen), Seen::Wakeup(Value::from(3)));
    route(&main, Address::NOBODY, far, Payload::native(Message::Typed(Box::new(5u8))));
    assert_eq!(main.dead_letters(), 1, "a typed message never leaves its node");
    route(&main, Address::NOBODY, far, Payload::native(Message::ActorExitRequest));
    assert_eq!(next(&seen), Seen::Exit, "nothing typed arrived before the exit request");
}

/// Panics on "boom".
struct Fragile;

impl Actor for Fragile {
    fn receive(&mut self, _cx: &mut Context<'_>, msg: &Message, _from: Address) {
        assert_ne!(msg.as_str(), Some("boom"), "fragile went boom");
    }
}

#[test]
fn a_poisoned_ask_across_nodes_is_reported_as_poisoned() {
    let (main, worker) = pair();
    let far = worker.host(Fragile);
    match main.ask(far, "boom") {
        Err(AskError::Poisoned { target, message, .. }) => assert_eq!((target, message), (far, Value::from("boom"))),
        other => panic!("expected a poisoned ask, got {other:?}"),
    }
}

#[test]
fn a_peer_may_speak_only_for_its_own_actors_and_only_to_this_node() {
    let (main, worker) = pair();
    let (rec, seen) = Recorder::new();
    let mine = main.host(rec);
    let forged = RemoteEnvelope {
        from: Address::from_parts(5, 0, 1),
        to: mine,
        msg: RemoteMessage::Value(actor_abi::wire::encode(&Value::from(1)).into_boxed_slice()),
    };
    assert!(matches!(deliver_in(&main, 1, forged.clone()), Err(Violation::ForeignSender { peer: 1, .. })));
    let back = RemoteEnvelope { from: Address::from_parts(1, 0, 1), to: Address::from_parts(1, 0, 2), ..forged };
    assert!(matches!(deliver_in(&main, 1, back.clone()), Err(Violation::NotHere { peer: 1, here: 0, .. })));
    // For a node with no route here (one that just went away): a dead
    // letter, not a violation; a worker may hold a stale address.
    let dead = main.dead_letters();
    let elsewhere = RemoteEnvelope { to: Address::from_parts(7, 0, 1), ..back };
    assert_eq!(deliver_in(&main, 1, elsewhere), Ok(()));
    assert_eq!(main.dead_letters(), dead + 1);
    // Only its own actors can have exited there: a parent here must never
    // hear that one of this node's children (or another node's) exited.
    for child in [mine, Address::from_parts(3, 0, 1)] {
        let exit = RemoteEnvelope { from: Address::NOBODY, to: mine, msg: RemoteMessage::ChildExited { child } };
        assert!(
            matches!(deliver_in(&main, 1, exit), Err(Violation::ForeignSender { peer: 1, .. })),
            "a forged exit of {child}"
        );
    }
    main.tell(mine, "after");
    assert_eq!(next(&seen), Seen::Value(Value::from("after"), Address::NOBODY), "nothing forged was delivered");
    drop(worker);
}

/// Never answers; tells the test it got the question.
struct Silent(Sender<()>);

impl Actor for Silent {
    fn receive(&mut self, _cx: &mut Context<'_>, _msg: &Message, _from: Address) {
        let _ = self.0.send(());
    }
}

/// An ask from `from`, on a thread of its own, to a [`Silent`] actor of
/// `host`, once the question has reached it: the asker and the target.
fn ask_left_waiting(
    from: &Arc<TestEngine>,
    host: &TestEngine,
) -> (std::thread::JoinHandle<Result<Value, AskError>>, Address) {
    let (got, question) = channel();
    let target = host.host(Silent(got));
    let from = from.clone();
    let asker = std::thread::spawn(move || from.ask(target, "anyone?"));
    question.recv().expect("the question reached the other node");
    (asker, target)
}

#[test]
fn losing_a_node_fails_the_asks_waiting_on_it_at_once() {
    let (main, worker) = pair();
    let main = Arc::new(main);
    let (asker, far) = ask_left_waiting(&main, &worker);
    assert_eq!(lost(&main, 1), 1, "one ask was waiting on node 1");
    assert_eq!(asker.join().expect("asker"), Err(AskError::NodeLost(far)));
    main.tell(far, "late");
    eventually("a message for a lost node is a dead letter", || main.dead_letters() == 1);
    assert_eq!(main.ask(far, "again"), Err(AskError::NoRoute(far)));
}

/// Sends `msg` to `to` tracked, as `ActorSystem::tell_delivered` does, and
/// waits for the outcome.
fn tell_delivered(engine: &Arc<EngineState>, to: Address, msg: Message) -> Result<Value, AskError> {
    let slot = Arc::new(crate::engine::reply::ReplySlot::default());
    let payload = Payload::native_tracked(msg, Done::Here(slot.clone()));
    crate::engine::route::route_envelope(engine, to, Envelope { from: Address::NOBODY, payload });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    slot.wait_until(deadline).expect("an outcome within 30 s")
}

#[test]
fn a_tracked_tell_completes_after_the_handler_on_the_other_node_ran() {
    let (main, worker) = pair();
    let (rec, seen) = Recorder::new();
    let far = worker.host(rec);
    assert_eq!(tell_delivered(&main, far, Message::Value(Value::from("hi"))), Ok(Value::Null));
    assert!(matches!(seen.try_recv(), Ok(Seen::Value(v, _)) if v == Value::from("hi")), "handled before the report");
    let missing = Address::from_parts(1, 0, 9999);
    match tell_delivered(&main, missing, Message::Value(Value::from(1))) {
        Err(AskError::Remote { target, reason }) => {
            assert_eq!(target, missing);
            assert!(reason.contains("no actor"), "{reason}");
        }
        other => panic!("expected the worker's refusal, got {other:?}"),
    }
}

/// Blocks in its handler until the gate opens.
struct Gate(Mutex<std::sync::mpsc::Receiver<()>>, Sender<()>);

impl Actor for Gate {
    fn receive(&mut self, _cx: &mut Context<'_>, _msg: &Message, _from: Address) {
        let _ = self.1.send(());
        let _ = self.0.lock().unwrap().recv();
    }
}

#[test]
fn a_tracked_tell_fails_at_once_when_its_node_goes_away() {
    let (main, worker) = pair();
    let (open, gate) = channel();
    let (entered, inside) = channel();
    let far = worker.host(Gate(Mutex::new(gate), entered));
    let main = Arc::new(main);
    let waiter = {
        let main = main.clone();
        std::thread::spawn(move || tell_delivered(&main, far, Message::Value(Value::from("hold"))))
    };
    inside.recv().expect("the handler runs");
    lost(&main, 1);
    assert_eq!(waiter.join().unwrap(), Err(AskError::NodeLost(far)));
    drop(open);
}

#[test]
fn a_peer_claims_names_in_this_nodes_table_up_to_its_share() {
    let (main, worker) = pair();
    let (a, b, c) = (Address::from_parts(1, 1, 1), Address::from_parts(1, 1, 2), Address::from_parts(1, 1, 3));
    assert_eq!(main.claim_name("first", a, 2), a);
    assert_eq!(main.claim_name("first", b, 2), a, "a live holder keeps its name");
    assert_eq!(main.claim_name("second", b, 2), b);
    assert_eq!(main.claim_name("third", c, 2), Address::NOBODY, "the node's share is used up");
    assert_eq!(main.claim_name("first", c, 2), a, "a taken name still answers with its holder");
    assert_eq!(main.claim_name("far", Address::from_parts(9, 1, 1), 2), Address::NOBODY, "no route to node 9");
    drop(worker);
}

/// A link that delivers with `deliver(engine, peer_of(envelope), envelope)`.
fn link_with(
    to: &Arc<EngineState>,
    peer_of: impl Fn(&RemoteEnvelope) -> u32 + Send + 'static,
    deliver: fn(&Arc<EngineState>, u32, RemoteEnvelope) -> Result<(), Violation>,
) -> Arc<FrameLink> {
    let (tx, rx) = channel::<Vec<u8>>();
    let node = to.node;
    let to: Weak<EngineState> = Arc::downgrade(to);
    std::thread::spawn(move || {
        for bytes in rx {
            let Some(to) = to.upgrade() else { return };
            let Ok(frame::Frame::Batch(envs)) = frame::decode(&bytes[4..]) else { panic!("a batch decodes") };
            for env in envs {
                deliver(&to, peer_of(&env), env).expect("a well-behaved peer");
            }
        }
    });
    Arc::new(FrameLink { node, frames: Mutex::new(tx) })
}

/// A link between two hosts (different node blocks): each message arrives
/// from the node of its sender, or the sending host's own node for a
/// report without one, as a convention transport delivers it.
fn far_link(from_host: u32, to: &Arc<EngineState>) -> Arc<FrameLink> {
    let peer_of = move |env: &RemoteEnvelope| {
        let peer = if env.from.is_nobody() { from_host } else { env.from.node() };
        assert_eq!(crate::remote::block_of(peer), crate::remote::block_of(from_host), "a host speaks for its block");
        peer
    };
    link_with(to, peer_of, deliver_in)
}

#[test]
fn a_worker_of_one_host_asks_an_actor_of_another_through_its_starters_far_route() {
    use crate::remote::{block_of, block_start};
    let (a, b) = (TestEngine::start_node(block_start(1)), TestEngine::start_node(block_start(2)));
    let w = TestEngine::start_node(a.new_node());
    assert_eq!((block_of(w.node), w.node == a.node), (1, false), "a worker's node is in its starter's block");
    let (a_node, w_node) = (a.node, w.node);
    attach(&a, w.node, link_with(&w, move |_| a_node, deliver_from_hub));
    attach_default(&w, link_with(&a, move |_| w_node, deliver_in));
    attach_far(&a, far_link(a.node, &b));
    attach_far(&b, far_link(b.node, &a));
    let (rec, seen) = Recorder::new();
    let there = b.host(rec);
    assert_eq!(w.ask(there, "ping"), Ok(Value::from("pong")), "worker -> starter -> other host, and back");
    assert!(matches!(next(&seen), Seen::Value(_, from) if from.node() == w.node));
    assert_eq!(a.ask(there, "ping"), Ok(Value::from("pong")));
    let (rec, seen) = Recorder::new();
    let in_worker = w.host(rec);
    assert_eq!(b.ask(in_worker, "ping"), Ok(Value::from("pong")), "other host -> starter -> worker, and back");
    assert!(matches!(next(&seen), Seen::Value(_, from) if block_of(from.node()) == 2));
    assert_eq!((a.dead_letters(), b.dead_letters(), w.dead_letters()), (0, 0, 0));
}

#[test]
fn a_host_that_goes_away_fails_the_asks_waiting_on_its_block_at_once() {
    use crate::remote::block_start;
    let (a, b) = (TestEngine::start_node(block_start(1)), TestEngine::start_node(block_start(2)));
    attach_far(&a, far_link(a.node, &b));
    attach_far(&b, far_link(b.node, &a));
    let a = Arc::new(a);
    let (asker, there) = ask_left_waiting(&a, &b);
    assert_eq!(block_lost(&a, 3), 0, "another block: nothing waits on it");
    assert_eq!(block_lost(&a, 2), 1);
    assert_eq!(asker.join().expect("asker"), Err(AskError::NodeLost(there)));
}
