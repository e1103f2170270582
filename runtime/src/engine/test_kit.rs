//! What the engine's unit tests share: a running engine that shuts down
//! when the test ends (also when it fails), host actors that record what
//! they receive, and an ask through the engine's own reply slots.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use actor_abi::{Actor, Address, Context, Message, Value};

use crate::config::SystemConfig;
use crate::engine::payload::Payload;
use crate::engine::route::route;
use crate::engine::state::EngineState;
use crate::engine::{reply, shutdown, spawn};
use crate::error::AskError;

/// A started engine, shut down on drop.
pub(crate) struct TestEngine(Arc<EngineState>);

impl TestEngine {
    pub(crate) fn start() -> TestEngine {
        TestEngine::start_node(actor_abi::Address::MAIN_NODE)
    }

    /// An engine whose addresses are on `node`.
    pub(crate) fn start_node(node: u32) -> TestEngine {
        TestEngine(EngineState::start(SystemConfig::default().with_node(node)).expect("an engine starts"))
    }

    /// Creates a host actor.
    pub(crate) fn host(&self, actor: impl Actor) -> Address {
        spawn::create_host_actor(&self.0, "test".into(), None, || Box::new(actor))
    }

    /// Asks `to` through a reply slot, as `ActorSystem::ask` does.
    pub(crate) fn ask(&self, to: Address, msg: impl Into<Value>) -> Result<Value, AskError> {
        let (addr, slot) = reply::open_slot(&self.0, to);
        route(&self.0, addr, to, Payload::native(Message::Value(msg.into())));
        let out = slot.wait_until(Instant::now() + Duration::from_secs(30));
        out.unwrap_or_else(|| panic!("no outcome for an ask of {to} within 30 s"))
    }

    /// Tells `to` a value from nobody.
    pub(crate) fn tell(&self, to: Address, msg: impl Into<Value>) {
        route(&self.0, Address::NOBODY, to, Payload::native(Message::Value(msg.into())));
    }
}

impl Deref for TestEngine {
    type Target = Arc<EngineState>;
    fn deref(&self) -> &Arc<EngineState> {
        &self.0
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        shutdown::shutdown(&self.0);
    }
}

/// What a [`Recorder`] saw, in a form that can be compared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Value(Value, Address),
    Wakeup(Value),
    Poison { details: String },
    Exit,
    Other(String),
}

/// A host actor that reports every message to a channel; it answers the
/// value `"ping"` with `"pong"`.
pub(crate) struct Recorder(Sender<Seen>);

impl Recorder {
    pub(crate) fn new() -> (Recorder, Receiver<Seen>) {
        let (tx, rx) = channel();
        (Recorder(tx), rx)
    }
}

impl Actor for Recorder {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        let seen = match msg {
            Message::Value(v) => {
                if v.as_str() == Some("ping") {
                    cx.send(&from, "pong");
                }
                Seen::Value(v.clone(), from)
            }
            Message::WakeupMessage { payload } => Seen::Wakeup(payload.clone()),
            Message::PoisonMessage { details, .. } => Seen::Poison { details: details.clone() },
            Message::ActorExitRequest => Seen::Exit,
            other => Seen::Other(other.describe()),
        };
        let _ = self.0.send(seen);
    }
}

/// The next thing a recorder saw, waiting up to 30 s.
pub(crate) fn next(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(30)).expect("the recorder saw a message within 30 s")
}

/// Waits until `f` holds (up to 30 s): for effects that land on another thread.
pub(crate) fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}
