//! Getting a message to its actor, or counting it as a dead letter.
//!
//! [`resolve`] is the one place where an address is resolved. An address
//! of this node finds its cell in the table; any other goes to
//! [`leave_node`] and on to the transport attached for its node (see
//! `nodes`), or becomes a dead letter that names the node it could not
//! reach. The local path pays one compare of the node part.

use std::sync::Arc;

use actor_abi::{Address, Message, Value};

use crate::engine::cell::{ActorCell, CellKind};
use crate::engine::payload::{Envelope, Payload};
use crate::engine::reply::ReplySlot;
use crate::engine::state::EngineState;
use crate::error::AskError;

/// Why a message became a dead letter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeadReason {
    /// No actor has that address.
    NoSuchActor,
    /// The actor stopped with the message unhandled.
    Stopped,
    /// The message cannot go there.
    Refused(&'static str),
    /// The address is on a node this system has no route to.
    NoRoute(u32),
}

impl DeadReason {
    /// What an ask (or a delivery waiter) whose message died this way learns.
    pub(crate) fn ask_error(self, to: Address) -> AskError {
        match self {
            DeadReason::NoSuchActor => AskError::NoSuchActor(to),
            DeadReason::NoRoute(_) => AskError::NoRoute(to),
            _ => AskError::TargetExited(to),
        }
    }
}

impl std::fmt::Display for DeadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadReason::NoSuchActor => f.write_str("no such actor"),
            DeadReason::Stopped => f.write_str("the actor stopped"),
            DeadReason::Refused(why) => f.write_str(why),
            DeadReason::NoRoute(node) => write!(f, "no route to node {node}"),
        }
    }
}

/// Sends `payload` from `from` to `to`.
pub(crate) fn route(engine: &Arc<EngineState>, from: Address, to: Address, payload: Payload) {
    route_envelope(engine, to, Envelope { from, payload });
}

/// The cell at `addr`: found by its id, and only if the whole address
/// matches (the right id with another home names no actor).
fn cell_at(engine: &EngineState, addr: Address) -> Option<Arc<ActorCell>> {
    engine.table.get(addr.id()).filter(|c| c.addr == addr)
}

/// Sends an envelope to `to`.
pub(crate) fn route_envelope(engine: &Arc<EngineState>, to: Address, env: Envelope) {
    match resolve(engine, to) {
        Target::Cell(cell) => route_to_cell(engine, &cell, to, env),
        Target::OtherNode => leave_node(engine, to, env),
        Target::Missing => dead_envelope(engine, to, env, DeadReason::NoSuchActor),
    }
}

/// Where an address leads.
enum Target {
    /// A cell of this node.
    Cell(Arc<ActorCell>),
    /// Another node: see [`leave_node`].
    OtherNode,
    /// No actor of this node has that address.
    Missing,
}

/// The one place an address is resolved: an address of this node finds its
/// cell (one compare of the node part first), any other leads to another node.
#[inline(always)]
fn resolve(engine: &EngineState, to: Address) -> Target {
    if to.node() != engine.node {
        return Target::OtherNode;
    }
    match cell_at(engine, to) {
        Some(cell) => Target::Cell(cell),
        None => Target::Missing,
    }
}

/// Where a message for another node goes: to the transport of its node; a
/// dead letter if there is none (an ask waiting on it fails at once).
#[cold]
fn leave_node(engine: &Arc<EngineState>, to: Address, env: Envelope) {
    crate::engine::nodes::send_out(engine, to, env);
}

/// Sends `payload` to `to` through `cache`, the cell of the last target of
/// the running handler: a handler that sends many messages to one actor
/// looks it up once. A cached cell that has stopped is looked up again, and
/// a reply slot is never cached: answered once, its address is gone, so a
/// second message to it is a dead letter ("no such actor") exactly as
/// without the cache, instead of vanishing into the spent slot.
pub(crate) fn route_cached(
    engine: &Arc<EngineState>,
    cache: &mut Option<Arc<ActorCell>>,
    from: Address,
    to: Address,
    payload: Payload,
) {
    let env = Envelope { from, payload };
    if let Some(cell) = cache.as_ref().filter(|c| c.addr == to && !c.is_stopped()) {
        return route_to_cell(engine, cell, to, env);
    }
    match resolve(engine, to) {
        Target::Cell(cell) => {
            route_to_cell(engine, &cell, to, env);
            *cache = (!matches!(cell.kind, CellKind::Reply(_))).then_some(cell);
        }
        Target::OtherNode => leave_node(engine, to, env),
        Target::Missing => dead_envelope(engine, to, env, DeadReason::NoSuchActor),
    }
}

fn route_to_cell(engine: &Arc<EngineState>, cell: &Arc<ActorCell>, to: Address, env: Envelope) {
    if let Some(why) = refusal(cell, &env.payload) {
        return dead_envelope(engine, to, env, DeadReason::Refused(why));
    }
    match &cell.kind {
        CellKind::Reply(slot) => {
            env.done().iter().for_each(|d| d.complete(engine, Ok(())));
            complete_reply(engine, cell, slot, env.payload);
        }
        _ => enqueue(engine, cell, env),
    }
}

/// A dead envelope: its delivery waiter learns at once, then it is a dead letter.
pub(crate) fn dead_envelope(engine: &Arc<EngineState>, to: Address, env: Envelope, why: DeadReason) {
    if let Some(done) = env.done() {
        done.complete(engine, Err(why.ask_error(to)));
    }
    dead_letter(engine, env.from, to, Some(env.payload), why);
}

fn refusal(cell: &ActorCell, payload: &Payload) -> Option<&'static str> {
    const TYPED: &str = "a typed message can only reach actors of its own package";
    if payload.is_host_typed() && !matches!(cell.kind, CellKind::Host) {
        return Some(TYPED);
    }
    match payload.bound_home() {
        Some(home) if cell.version().map(|v| v.home) != Some(home) => Some(TYPED),
        _ => None,
    }
}

fn enqueue(engine: &Arc<EngineState>, cell: &Arc<ActorCell>, env: Envelope) {
    let idle = cell.mailbox.push(env);
    if cell.is_stopped() {
        drain(engine, cell);
    } else if idle {
        submit(engine, cell);
    }
}

/// Hands a cell to the threads it runs on.
pub(crate) fn submit(engine: &Arc<EngineState>, cell: &Arc<ActorCell>) {
    match &cell.kind {
        CellKind::Host => engine.host_exec().submit(cell.clone()),
        CellKind::Package(v) => v.exec.submit(cell.clone()),
        CellKind::Reply(_) => {}
    }
}

/// Dead-letters everything left in a stopped actor's mailbox.
pub(crate) fn drain(engine: &Arc<EngineState>, cell: &ActorCell) {
    while let Some(env) = cell.mailbox.pop() {
        dead_envelope(engine, cell.addr, env, DeadReason::Stopped);
    }
}

fn complete_reply(engine: &Arc<EngineState>, cell: &ActorCell, slot: &ReplySlot, payload: Payload) {
    engine.table.remove(cell.addr.id());
    let result = match payload {
        Payload::Native(n) => match n.msg {
            Message::PoisonMessage { original, target, details } => {
                let message = original.value().cloned().unwrap_or(Value::Null);
                Err(AskError::Poisoned { target, message, details })
            }
            Message::Value(v) => Ok(v),
            _ => Err(AskError::NotAValue(cell.addr)),
        },
        Payload::PoisonOf(p) => {
            let message = p.original.into_value().unwrap_or(Value::Null);
            Err(AskError::Poisoned { target: p.target, message, details: p.details })
        }
        other => other.into_value().ok_or(AskError::NotAValue(cell.addr)),
    };
    slot.complete(result);
}

/// Counts and logs an undeliverable message. If it was an ask's question,
/// the ask fails now rather than at its timeout.
pub(crate) fn dead_letter(
    engine: &Arc<EngineState>,
    from: Address,
    to: Address,
    payload: Option<Payload>,
    why: DeadReason,
) {
    engine.count_dead_letter();
    let what = payload.as_ref().map_or_else(|| "<typed message>".to_string(), Payload::describe);
    let system = payload.as_ref().is_some_and(Payload::is_system);
    let level = if system { log::Level::Debug } else { log::Level::Info };
    log::log!(target: "thespian::dead_letters", level, "dead letter from {from} to {to} ({why}): {what}");
    if system {
        return;
    }
    if let Some(asker) = cell_at(engine, from)
        && let CellKind::Reply(slot) = &asker.kind
    {
        engine.table.remove(from.id());
        slot.complete(Err(why.ask_error(to)));
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
