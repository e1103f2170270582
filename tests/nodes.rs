//! Two actor systems joined by a real Unix socketpair, as the daemon and a
//! worker process will be (issue 13): asks and tells cross and keep their
//! order, a peer that goes away fails the asks waiting on it at once, and a
//! peer that writes garbage, forges a sender or announces a huge frame is
//! dropped while everything else keeps serving.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Sender, channel};
use std::time::Duration;

use actor_abi::{Actor, Address, Context, Message, Value, wire};
use runtime::remote::frame;
use runtime::remote::stream::Ended;
use runtime::remote::{RemoteEnvelope, RemoteMessage, Violation};
use runtime::{ActorSystem, AskError, RouteKind, SystemConfig};

const T: Duration = Duration::from_secs(30);

/// Answers a value with itself; counts the values it got in order.
struct Echo(Option<Sender<i64>>);

impl Actor for Echo {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        let Some(v) = msg.value() else { return };
        match (&self.0, v.as_i64()) {
            (Some(seen), Some(n)) => {
                let _ = seen.send(n);
            }
            _ => cx.send(&from, v.clone()),
        }
    }
}

fn system(node: u32) -> ActorSystem {
    ActorSystem::start(SystemConfig::default().with_node(node)).expect("a system starts")
}

#[test]
fn asks_and_ordered_tells_cross_a_socketpair() {
    let (main, worker) = (system(0), system(1));
    let (a, b) = UnixStream::pair().unwrap();
    let _to_worker = main.connect(1, a, RouteKind::Node).unwrap();
    let _to_main = worker.connect(0, b, RouteKind::Default).unwrap();
    let echo = worker.create_host_actor(Echo(None));
    assert_eq!(echo.node(), 1);
    assert_eq!(main.ask(&echo, "hello", T), Ok(Value::from("hello")));

    let (seen_tx, seen) = channel();
    let counter = worker.create_host_actor(Echo(Some(seen_tx)));
    for i in 0..10_000i64 {
        main.tell(&counter, i);
    }
    for i in 0..10_000i64 {
        assert_eq!(seen.recv_timeout(T), Ok(i), "tells arrive once each, in order");
    }
    assert_eq!((main.dead_letters(), worker.dead_letters()), (0, 0));
}

/// Never answers; says when it got the question.
struct Silent(Sender<()>);

impl Actor for Silent {
    fn receive(&mut self, _cx: &mut Context<'_>, _msg: &Message, _from: Address) {
        let _ = self.0.send(());
    }
}

#[test]
fn a_peer_that_goes_away_fails_the_waiting_ask_at_once() {
    let (main, worker) = (system(0), system(1));
    let (a, b) = UnixStream::pair().unwrap();
    let mut to_worker = main.connect(1, a, RouteKind::Node).unwrap();
    let to_main = worker.connect(0, b, RouteKind::Default).unwrap();
    let (got, question) = channel();
    let silent = worker.create_host_actor(Silent(got));
    std::thread::scope(|s| {
        let asker = s.spawn(|| main.ask(&silent, "anyone?", Duration::from_secs(600)));
        question.recv_timeout(T).expect("the question crossed");
        to_main.close();
        assert_eq!(asker.join().unwrap(), Err(AskError::NodeLost(silent)), "not a 600 s timeout");
    });
    assert!(matches!(to_worker.join(), Some(Ended::Closed(1))));
    assert_eq!(main.ask(&silent, "again", T), Err(AskError::NoRoute(silent)));
}

/// The main system with a raw socket standing in for a hostile peer (node 1).
fn hostile() -> (ActorSystem, runtime::remote::stream::Connection, UnixStream, Address) {
    let main = system(0);
    let (a, raw) = UnixStream::pair().unwrap();
    let conn = main.connect(1, a, RouteKind::Node).unwrap();
    let local = main.create_host_actor(Echo(None));
    (main, conn, raw, local)
}

fn frame_of(env: RemoteEnvelope) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_batch(&[env], &mut out);
    out
}

#[test]
fn garbage_from_a_peer_drops_it_and_nothing_else() {
    let (main, mut conn, mut raw, local) = hostile();
    raw.write_all(&[6, 0, 0, 0, 42, 1, 0, 0, 0, 0]).unwrap();
    let ended = conn.join();
    assert!(
        matches!(
            ended,
            Some(Ended::Violation(Violation::BadFrame { peer: 1, error: frame::FrameError::Version { got: 42 } }))
        ),
        "{ended:?}"
    );
    assert_eq!(main.ask(&local, "still here", T), Ok(Value::from("still here")));
    let far = Address::from_parts(1, 0, 5);
    assert_eq!(main.ask(&far, "x", T), Err(AskError::NoRoute(far)), "the dropped peer has no route");
}

#[test]
fn a_huge_length_prefix_is_refused_without_reading_it() {
    let (main, mut conn, mut raw, local) = hostile();
    raw.write_all(&u32::MAX.to_le_bytes()).unwrap();
    let ended = conn.join();
    assert!(matches!(
        ended,
        Some(Ended::Violation(Violation::BadFrame { error: frame::FrameError::Length { .. }, .. }))
    ));
    assert_eq!(main.ask(&local, 1, T), Ok(Value::from(1)));
}

#[test]
fn a_peer_that_forges_a_sender_is_dropped_before_delivery() {
    let (main, mut conn, mut raw, local) = hostile();
    let value = wire::encode(&Value::from("forged")).into_boxed_slice();
    // It claims to come from node 0 (ours), actor 999, which does not exist:
    // delivered, the echo's answer to it would be a dead letter.
    let forged = RemoteEnvelope { from: Address::from_parts(0, 0, 999), to: local, msg: RemoteMessage::Value(value) };
    raw.write_all(&frame_of(forged)).unwrap();
    let ended = conn.join();
    assert!(matches!(ended, Some(Ended::Violation(Violation::ForeignSender { peer: 1, .. }))), "{ended:?}");
    // An ask queues behind anything delivered before it: once it is answered,
    // a delivered forgery would have been answered (and dead-lettered) too.
    assert_eq!(main.ask(&local, "after", T), Ok(Value::from("after")));
    assert_eq!(main.dead_letters(), 0, "the forged message was never delivered");
}
