//! Other nodes as the engine sees them: the route to each (an
//! [`Outbound`] a transport attached), payloads turned into
//! [`RemoteMessage`]s on the way out, and messages a transport hands in
//! turned back into payloads and routed here.
//!
//! Only plain data crosses: values (as wire bytes, never re-encoded when
//! they already are), exit requests, child exits, wakeups and poison
//! notices about values. A typed or package-internal message stays a dead
//! letter with the reason. A message whose sender waits for its delivery
//! (`tell_delivered`) travels tracked under a ticket; the other node sends
//! `Delivered` back once the handler ran, and a node that goes away fails
//! its tickets at once.
//! The `routes` lock is taken alone, or under `names` (see `state`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use actor_abi::{Address, Message, Value, wire};

use crate::engine::payload::{Done, Envelope, Payload, PoisonOf};
use crate::engine::reply::{ReplySlot, fail_waiting};
use crate::engine::route::{DeadReason, dead_letter, route_envelope};
use crate::engine::state::EngineState;
use crate::error::AskError;
use crate::remote::budget::{LINES_PER_SECOND, LineBudget};
use crate::remote::frame::Frame;
use crate::remote::inbound::{FrameHandler, Inbound};
use crate::remote::stream::{self, Channel, Connection, Ended, Reader};
use crate::remote::{Control, Outbound, RemoteEnvelope, RemoteMessage, Violation, block_of, check_sender};

/// The transports of one engine: one per node; one for the nodes of other
/// blocks (`far`: other hosts of a convention); and one for every node
/// without its own (a worker's way back to the node that started it).
#[derive(Default)]
pub(crate) struct Routes {
    by_node: HashMap<u32, Arc<dyn Outbound>>,
    far: Option<Arc<dyn Outbound>>,
    default: Option<Arc<dyn Outbound>>,
}

impl Routes {
    /// The transport for `node` seen from node `here`, if any.
    pub(in crate::engine) fn to(&self, here: u32, node: u32) -> Option<Arc<dyn Outbound>> {
        self.without_default(here, node).or_else(|| self.default.clone())
    }

    /// As [`Routes::to`] without the default route: where a message that
    /// came in from another node may be passed on to.
    fn without_default(&self, here: u32, node: u32) -> Option<Arc<dyn Outbound>> {
        let far = || self.far.clone().filter(|_| block_of(node) != block_of(here));
        self.by_node.get(&node).cloned().or_else(far)
    }
}

/// Tracked messages sent to other nodes whose handler has not reported yet.
#[derive(Default)]
pub(crate) struct Deliveries {
    next: u64,
    waiting: HashMap<u64, Waiting>,
}

/// One tracked message in flight.
struct Waiting {
    node: u32,
    target: Address,
    slot: Arc<ReplySlot>,
}

impl Deliveries {
    fn register(&mut self, target: Address, slot: Arc<ReplySlot>) -> u64 {
        self.next += 1;
        self.waiting.insert(self.next, Waiting { node: target.node(), target, slot });
        self.next
    }
}

/// Routes messages for `node` through `link` (replacing any route it had).
pub(crate) fn attach(engine: &EngineState, node: u32, link: Arc<dyn Outbound>) {
    engine.routes.write().unwrap_or_else(|p| p.into_inner()).by_node.insert(node, link);
}

/// Routes messages for the nodes of other blocks (without a route of
/// their own) through `link`.
pub(crate) fn attach_far(engine: &EngineState, link: Arc<dyn Outbound>) {
    engine.routes.write().unwrap_or_else(|p| p.into_inner()).far = Some(link);
}

/// Fails every ask and tracked delivery waiting on an actor of block
/// `block` (another host that went away) and drops their global names;
/// returns how many asks failed. The far route stays: the host may come
/// back.
pub(crate) fn block_lost(engine: &EngineState, block: u32) -> usize {
    forget_nodes(engine, |n| block_of(n) == block)
}

/// Routes messages for every node without a route of its own through `link`.
pub(crate) fn attach_default(engine: &EngineState, link: Arc<dyn Outbound>) {
    engine.routes.write().unwrap_or_else(|p| p.into_inner()).default = Some(link);
}

/// Forgets the route to `node` and fails every ask waiting on one of its
/// actors at once; returns how many asks failed. Its actors' global names
/// are dropped too.
pub(crate) fn lost(engine: &EngineState, node: u32) -> usize {
    engine.routes.write().unwrap_or_else(|p| p.into_inner()).by_node.remove(&node);
    forget_nodes(engine, |n| n == node)
}

/// Forgets the default route: every node without a route of its own is
/// lost (see [`lost`]).
pub(crate) fn lost_default(engine: &EngineState) -> usize {
    let mut routes = engine.routes.write().unwrap_or_else(|p| p.into_inner());
    routes.default = None;
    let reachable: Vec<u32> = routes.by_node.keys().copied().collect();
    drop(routes);
    let here = engine.node;
    forget_nodes(engine, |n| n != here && !reachable.contains(&n))
}

/// Drops the names of actors on the nodes `gone` picks, and fails every
/// tracked delivery and ask waiting on one of them with `NodeLost`;
/// returns how many asks failed.
fn forget_nodes(engine: &EngineState, gone: impl Fn(u32) -> bool) -> usize {
    engine.forget_names_where(|a| gone(a.node()));
    fail_deliveries(engine, |w| gone(w.node));
    let failed = std::cell::Cell::new(0);
    fail_waiting(
        engine,
        |slot| !slot.target.is_nobody() && gone(slot.target.node()),
        |slot| {
            failed.set(failed.get() + 1);
            AskError::NodeLost(slot.target)
        },
    );
    failed.get()
}

/// Runs on the reader thread when a peer is dropped for a violation (the
/// starter of a worker kills it: a peer that broke the protocol once is
/// never trusted to exit by itself).
pub(crate) type ViolationHook = Box<dyn FnOnce(&crate::remote::Violation) + Send>;

/// Where a connection's messages are routed from this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// Messages for the peer's node only.
    Node,
    /// Messages for every node without a route of its own (a worker's
    /// connection to the node that started it).
    Default,
}

/// Connects `peer` over `stream`: messages for it (or, for a default route,
/// for every other node) are batched onto the stream, and what it sends is
/// checked and routed here. When the stream ends or the peer breaks the
/// protocol, the route goes and every ask waiting on that side fails.
pub(crate) fn connect(
    engine: &Arc<EngineState>,
    peer: u32,
    channel: Channel,
    kind: RouteKind,
    control: Option<Sender<Control>>,
    on_violation: Option<ViolationHook>,
) -> std::io::Result<Connection> {
    let (wire, input) = channel.split()?;
    let (sender, writer) = stream::start_writer(peer, wire)?;
    match kind {
        RouteKind::Node => attach(engine, peer, sender.clone()),
        RouteKind::Default => attach_default(engine, sender.clone()),
    }
    let (weak, closer) = (Arc::downgrade(engine), sender.clone());
    let violation = Arc::new(std::sync::Mutex::new(None));
    let record_violation = violation.clone();
    let handle = frame_handler(Arc::downgrade(engine), peer, kind, control, sender.clone());
    let input = match input {
        Reader::Ring(consumer, doorbell, broken) => {
            Input::Ring(Arc::new(Inbound::new(peer, consumer, doorbell, broken, handle)))
        }
        Reader::Socket(socket) => Input::Socket(socket, handle),
    };
    // A worker's actor threads poll its one ring to the starter (see
    // `remote::inbound`); then the reader thread need not spin.
    let polled = kind == RouteKind::Default && matches!(&input, Input::Ring(i) if engine.set_idle_poll(i.clone()));
    let reader = std::thread::Builder::new().name(format!("thespian-in-{peer}")).spawn(move || {
        let mut input = input;
        let ended = match &mut input {
            Input::Socket(socket, handle) => stream::read_loop(peer, socket, handle),
            Input::Ring(inbound) => inbound.run(!polled),
        };
        if let Ended::Violation(v) = &ended {
            *record_violation.lock().unwrap_or_else(|p| p.into_inner()) = Some(v.clone());
            if let Some(hook) = on_violation {
                hook(v);
            }
        }
        // Only now may the control channel close (the handler holds its
        // sending end): whoever waits on it finds the violation recorded.
        if let Input::Ring(inbound) = &input {
            inbound.retire();
        }
        drop(input);
        closer.close();
        if let Some(engine) = weak.upgrade() {
            log_end(&ended);
            match kind {
                RouteKind::Node => lost(&engine, peer),
                RouteKind::Default => lost_default(&engine),
            };
        }
        ended
    })?;
    Ok(Connection::new(peer, sender, channel, reader, writer, violation))
}

/// Where a reader thread reads.
enum Input {
    Socket(stream::SpinningReader, FrameHandler),
    Ring(Arc<Inbound>),
}

/// What a connection does with each frame `peer` sends: messages are
/// checked and delivered, control messages handled here (log records,
/// name claims) or handed to `control`.
fn frame_handler(
    weak: std::sync::Weak<EngineState>,
    peer: u32,
    kind: RouteKind,
    control: Option<Sender<Control>>,
    closer: Arc<stream::StreamSender>,
) -> FrameHandler {
    let mut budget = LineBudget::new(LINES_PER_SECOND, format!("node {peer}: log records"));
    // Refused name claims are logged once per peer, not once each.
    let mut names_refused = false;
    let deliver = move |weak: &std::sync::Weak<EngineState>, env| match weak.upgrade() {
        // The system that started this one relays its other workers'
        // messages: it speaks for every node. Any other peer speaks
        // only for its own actors.
        Some(engine) if kind == RouteKind::Default => deliver_from_hub(&engine, peer, env),
        Some(engine) => deliver_in(&engine, peer, env),
        None => Ok(()),
    };
    Box::new(move |frame| match frame {
        Frame::Batch(envs) => envs.into_iter().try_for_each(|env| deliver(&weak, env)),
        Frame::Control(ctrl) => match (ctrl, &control) {
            (Control::Log { level, target, message, actor }, _) => {
                if !budget.admit(std::time::Instant::now()) {
                    return Ok(());
                }
                relog(peer, level, &target, &message, actor)
            }
            (Control::ClaimName { id, name, addr }, _) => {
                let holder = match weak.upgrade() {
                    Some(engine) => claim_for(&engine, peer, &name, addr, &mut names_refused)?,
                    None => Address::NOBODY,
                };
                closer.send_control(Control::NameClaimed { id, holder }).or(Ok(()))
            }
            (Control::ReleaseName { name, addr }, _) => {
                if addr.node() != peer {
                    return Err(Violation::ForeignSender { peer, from: addr });
                }
                if let Some(engine) = weak.upgrade() {
                    engine.forget_name(&name, addr);
                }
                Ok(())
            }
            (ctrl, Some(tx)) => tx.send(ctrl).or(Ok(())),
            (ctrl, None) => Err(Violation::UnexpectedControl { peer, what: format!("{ctrl:?}") }),
        },
    })
}

/// The longest global name a peer may claim.
const MAX_NAME: usize = 1024;
/// The most global names the actors of one peer may hold.
const MAX_NAMES_PER_NODE: usize = 10_000;

/// Claims `name` for `peer`'s actor `addr` in this node's table of names;
/// the first refusal (too long, too many names) is logged.
fn claim_for(
    engine: &EngineState,
    peer: u32,
    name: &str,
    addr: Address,
    refused_before: &mut bool,
) -> Result<Address, Violation> {
    if addr.node() != peer {
        return Err(Violation::ForeignSender { peer, from: addr });
    }
    let holder =
        if name.len() > MAX_NAME { Address::NOBODY } else { engine.claim_name(name, addr, MAX_NAMES_PER_NODE) };
    if holder.is_nobody() && !std::mem::replace(refused_before, true) {
        log::warn!(
            "node {peer} claimed a global name it may not have ({} bytes; at most {MAX_NAME} bytes and \
             {MAX_NAMES_PER_NODE} names per node); refused, and later refusals are not logged",
            name.len()
        );
    }
    Ok(holder)
}

/// Logs a record a peer forwarded, as this node's own, with the actor that
/// logged it; the actor must be one of the peer's.
fn relog(peer: u32, level: u8, target: &str, message: &str, actor: Address) -> Result<(), Violation> {
    if !actor.is_nobody() && actor.node() != peer {
        return Err(Violation::ForeignSender { peer, from: actor });
    }
    let level = actor_abi::ffi::level_from_u32(u32::from(level));
    crate::engine::logging::log_for(actor, level, target, message);
    Ok(())
}

fn log_end(ended: &Ended) {
    match ended {
        Ended::Closed(_) => log::info!("{ended}"),
        Ended::Broken { .. } => log::warn!("{ended}"),
        Ended::Violation(_) => log::error!("dropped: {ended}"),
    }
}

/// Fails every tracked delivery `which` picks: its node went away.
fn fail_deliveries(engine: &EngineState, which: impl Fn(&Waiting) -> bool) {
    let gone: Vec<Waiting> = {
        let mut d = engine.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        let tickets: Vec<u64> = d.waiting.iter().filter(|(_, w)| which(w)).map(|(t, _)| *t).collect();
        tickets.into_iter().filter_map(|t| d.waiting.remove(&t)).collect()
    };
    for w in gone {
        w.slot.complete(Err(AskError::NodeLost(w.target)));
    }
}

/// Sends an envelope for an actor of another node through its route. A
/// message whose sender waits for its delivery travels tracked.
pub(crate) fn send_out(engine: &Arc<EngineState>, to: Address, env: Envelope) {
    let Envelope { from, mut payload } = env;
    let waiter = match payload.take_done() {
        None => None,
        Some(Done::Here(slot)) => Some(slot),
        Some(relayed @ Done::Elsewhere { .. }) => {
            let why = DeadReason::Refused("a tracked delivery is not relayed to a third node");
            relayed.complete(engine, Err(why.ask_error(to)));
            return dead_letter(engine, from, to, Some(payload), why);
        }
    };
    let msg = match to_remote(payload) {
        Ok(msg) => msg,
        Err((payload, why)) => {
            if let Some(slot) = waiter {
                slot.complete(Err(DeadReason::Refused(why).ask_error(to)));
            }
            return dead_letter(engine, from, to, Some(payload), DeadReason::Refused(why));
        }
    };
    let (msg, ticket) = match &waiter {
        Some(slot) => {
            let ticket = engine.deliveries.lock().unwrap_or_else(|p| p.into_inner()).register(to, slot.clone());
            (RemoteMessage::Tracked { ticket, msg: Box::new(msg) }, Some(ticket))
        }
        None => (msg, None),
    };
    let link = engine.routes.read().unwrap_or_else(|p| p.into_inner()).to(engine.node, to.node());
    let sent = link.is_some_and(|link| link.send(RemoteEnvelope { from, to, msg }).is_ok());
    if !sent {
        if let Some(t) = ticket {
            let w = engine.deliveries.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&t);
            w.into_iter().for_each(|w| w.slot.complete(Err(AskError::NoRoute(to))));
        }
        dead_letter(engine, from, to, None, DeadReason::NoRoute(to.node()));
    }
}

/// Tells `peer` that the handler of its tracked message `ticket` ran
/// (`error: None`) or why the message died.
pub(crate) fn delivered(engine: &EngineState, peer: u32, ticket: u64, error: Option<String>) {
    let link = engine.routes.read().unwrap_or_else(|p| p.into_inner()).to(engine.node, peer);
    if let Some(link) = link {
        let to = Address::from_parts(peer, 0, 0);
        // A peer that is gone has failed its waiter already.
        let _ =
            link.send(RemoteEnvelope { from: Address::NOBODY, to, msg: RemoteMessage::Delivered { ticket, error } });
    }
}

/// Completes the waiter of `ticket`, if `peer` is the node it was sent to.
fn settle(engine: &EngineState, peer: u32, ticket: u64, error: Option<String>) {
    let waiting = {
        let mut d = engine.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        match d.waiting.get(&ticket) {
            Some(w) if w.node == peer => d.waiting.remove(&ticket),
            _ => None,
        }
    };
    if let Some(w) = waiting {
        let result = match error {
            None => Ok(Value::Null),
            Some(reason) => Err(AskError::Remote { target: w.target, reason }),
        };
        w.slot.complete(result);
    }
}

/// Routes a message a transport received from `peer`, after checking that
/// the peer speaks for its own actors: to one of this node's actors, or on
/// to another node this one has a route to (see [`relay`]).
pub(crate) fn deliver_in(engine: &Arc<EngineState>, peer: u32, env: RemoteEnvelope) -> Result<(), Violation> {
    check_sender(peer, &env)?;
    deliver_from_hub(engine, peer, env)
}

/// [`deliver_in`] without the sender check, for a message from the node
/// that relays for all others (a worker's starter).
fn deliver_from_hub(engine: &Arc<EngineState>, peer: u32, env: RemoteEnvelope) -> Result<(), Violation> {
    if env.to.node() != engine.node {
        return relay(engine, peer, env);
    }
    let RemoteEnvelope { from, to, msg } = env;
    let payload = match msg {
        RemoteMessage::Delivered { ticket, error } => {
            settle(engine, peer, ticket, error);
            return Ok(());
        }
        RemoteMessage::Tracked { ticket, msg } => {
            let done = Done::Elsewhere { ticket, peer };
            match from_remote(*msg).and_then(|p| p.into_host_message().map_err(|_| "an undecodable value")) {
                Ok(msg) => Payload::native_tracked(msg, done),
                Err(why) => {
                    done.complete(engine, Err(DeadReason::Refused(why).ask_error(to)));
                    dead_letter(engine, from, to, None, DeadReason::Refused(why));
                    return Ok(());
                }
            }
        }
        plain => match from_remote(plain) {
            Ok(payload) => payload,
            Err(why) => {
                dead_letter(engine, from, to, None, DeadReason::Refused(why));
                return Ok(());
            }
        },
    };
    route_envelope(engine, to, Envelope { from, payload });
    Ok(())
}

/// Passes a message from `peer` on to the node it names (a worker's
/// actor writing to another worker's goes through the system that started
/// both), still encoded. Sending one back to the peer's own node is a
/// violation; a node without a route here (one that just went away) makes
/// it a dead letter. Tracked deliveries are never relayed: their tickets
/// belong to the pair of nodes that made them.
fn relay(engine: &Arc<EngineState>, peer: u32, env: RemoteEnvelope) -> Result<(), Violation> {
    let node = env.to.node();
    if node == peer {
        return Err(Violation::NotHere { peer, to: env.to, here: engine.node });
    }
    let (from, to) = (env.from, env.to);
    let payload = |msg| from_remote(msg).ok();
    if matches!(env.msg, RemoteMessage::Tracked { .. } | RemoteMessage::Delivered { .. }) {
        dead_letter(engine, from, to, None, DeadReason::Refused("a tracked delivery is not relayed"));
        return Ok(());
    }
    let link = engine.routes.read().unwrap_or_else(|p| p.into_inner()).without_default(engine.node, node);
    let returned = match link {
        Some(link) => link.send(env).err().map(|_| None),
        None => Some(Some(env.msg)),
    };
    if let Some(msg) = returned {
        dead_letter(engine, from, to, msg.and_then(payload), DeadReason::NoRoute(node));
    }
    Ok(())
}

/// The form of a payload that can cross; `Err` gives it back with the reason.
fn to_remote(payload: Payload) -> Result<RemoteMessage, (Payload, &'static str)> {
    const TYPED: &str = "a typed or package-internal message cannot leave its node";
    match payload {
        Payload::Encoded(b) => Ok(RemoteMessage::Value(b)),
        Payload::Native(n) => match n.msg {
            Message::Value(v) => Ok(RemoteMessage::Value(wire::encode(&v).into_boxed_slice())),
            Message::ActorExitRequest => Ok(RemoteMessage::ExitRequest),
            Message::ChildActorExited { child } => Ok(RemoteMessage::ChildExited { child }),
            Message::WakeupMessage { payload } => Ok(RemoteMessage::Wakeup(wire::encode(&payload).into_boxed_slice())),
            Message::PoisonMessage { original, target, details } => match *original {
                Message::Value(v) => {
                    Ok(RemoteMessage::Poison { original: wire::encode(&v).into_boxed_slice(), target, details })
                }
                other => {
                    Err((Payload::native(Message::PoisonMessage { original: Box::new(other), target, details }), TYPED))
                }
            },
            other => Err((Payload::native(other), TYPED)),
        },
        Payload::PoisonOf(p) => match *p {
            PoisonOf { original: Payload::Encoded(b), target, details } => {
                Ok(RemoteMessage::Poison { original: b, target, details })
            }
            other => Err((Payload::PoisonOf(Box::new(other)), TYPED)),
        },
        opaque @ Payload::Opaque(_) => Err((opaque, TYPED)),
    }
}

/// The payload of a message that crossed; values stay as bytes until an
/// actor reads them.
fn from_remote(msg: RemoteMessage) -> Result<Payload, &'static str> {
    Ok(match msg {
        RemoteMessage::Value(b) => Payload::Encoded(b),
        RemoteMessage::ExitRequest => Payload::native(Message::ActorExitRequest),
        RemoteMessage::ChildExited { child } => Payload::native(Message::ChildActorExited { child }),
        RemoteMessage::Wakeup(b) => {
            let payload = wire::decode(&b).map_err(|_| "a wakeup whose payload is not a value")?;
            Payload::native(Message::WakeupMessage { payload })
        }
        RemoteMessage::Poison { original, target, details } => {
            Payload::PoisonOf(Box::new(PoisonOf { original: Payload::Encoded(original), target, details }))
        }
        RemoteMessage::Tracked { .. } | RemoteMessage::Delivered { .. } => {
            return Err("a tracked message or delivery report inside another");
        }
    })
}

#[cfg(test)]
#[path = "nodes_tests.rs"]
mod tests;
