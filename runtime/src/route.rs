//! Getting a message to its actor, or counting it as a dead letter.

use std::sync::Arc;

use actor_abi::{Address, Message, Value};

use crate::cell::{ActorCell, Place};
use crate::error::AskError;
use crate::payload::{Envelope, Payload};
use crate::reply::ReplySlot;
use crate::system::Shared;

/// Why a message became a dead letter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeadReason {
    /// No actor has that address.
    NoSuchActor,
    /// The actor stopped with the message unhandled.
    Stopped,
    /// The message cannot go there.
    Refused(&'static str),
}

impl DeadReason {
    /// What an ask (or a delivery waiter) whose message died this way learns.
    pub(crate) fn ask_error(self, to: Address) -> AskError {
        match self {
            DeadReason::NoSuchActor => AskError::NoSuchActor(to),
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
        }
    }
}

/// Sends `payload` from `from` to `to`.
pub(crate) fn route(shared: &Arc<Shared>, from: Address, to: Address, payload: Payload) {
    route_envelope(shared, to, Envelope { from, payload });
}

/// The cell at `addr`: found by its id, and only if the whole address
/// matches (the right id with another home names no actor).
fn cell_at(shared: &Shared, addr: Address) -> Option<Arc<ActorCell>> {
    shared.table.get(addr.id()).filter(|c| c.addr == addr)
}

/// Sends an envelope to `to`.
pub(crate) fn route_envelope(shared: &Arc<Shared>, to: Address, env: Envelope) {
    let Some(cell) = cell_at(shared, to) else {
        return dead_envelope(shared, to, env, DeadReason::NoSuchActor);
    };
    route_to_cell(shared, &cell, to, env);
}

/// Sends `payload` to `to` through `cache`, the cell of the last target of
/// the running handler: a handler that sends many messages to one actor
/// looks it up once. A cached cell that has stopped is looked up again, and
/// a reply slot is never cached: answered once, its address is gone, so a
/// second message to it is a dead letter ("no such actor") exactly as
/// without the cache, instead of vanishing into the spent slot.
pub(crate) fn route_cached(
    shared: &Arc<Shared>,
    cache: &mut Option<Arc<ActorCell>>,
    from: Address,
    to: Address,
    payload: Payload,
) {
    let env = Envelope { from, payload };
    if let Some(cell) = cache.as_ref().filter(|c| c.addr == to && !c.is_stopped()) {
        return route_to_cell(shared, cell, to, env);
    }
    match cell_at(shared, to) {
        Some(cell) => {
            route_to_cell(shared, &cell, to, env);
            *cache = (!matches!(cell.place, Place::Reply(_))).then_some(cell);
        }
        None => dead_envelope(shared, to, env, DeadReason::NoSuchActor),
    }
}

fn route_to_cell(shared: &Arc<Shared>, cell: &Arc<ActorCell>, to: Address, env: Envelope) {
    if let Some(why) = refusal(cell, &env.payload) {
        return dead_envelope(shared, to, env, DeadReason::Refused(why));
    }
    match &cell.place {
        Place::Reply(slot) => {
            env.done().iter().for_each(|d| d.complete(Ok(Value::Null)));
            complete_reply(shared, cell, slot, env.payload);
        }
        _ => enqueue(shared, cell, env),
    }
}

/// A dead envelope: its delivery waiter learns at once, then it is a dead letter.
pub(crate) fn dead_envelope(shared: &Arc<Shared>, to: Address, env: Envelope, why: DeadReason) {
    if let Some(done) = env.done() {
        done.complete(Err(why.ask_error(to)));
    }
    dead_letter(shared, env.from, to, Some(env.payload), why);
}

fn refusal(cell: &ActorCell, payload: &Payload) -> Option<&'static str> {
    const TYPED: &str = "a typed message can only reach actors of its own package";
    if payload.is_host_typed() && !matches!(cell.place, Place::Host) {
        return Some(TYPED);
    }
    match payload.bound_home() {
        Some(home) if cell.version().map(|v| v.home) != Some(home) => Some(TYPED),
        _ => None,
    }
}

fn enqueue(shared: &Arc<Shared>, cell: &Arc<ActorCell>, env: Envelope) {
    let idle = cell.mailbox.push(env);
    if cell.is_stopped() {
        drain(shared, cell);
    } else if idle {
        submit(shared, cell);
    }
}

/// Hands a cell to the threads it runs on.
pub(crate) fn submit(shared: &Arc<Shared>, cell: &Arc<ActorCell>) {
    match &cell.place {
        Place::Host => shared.host_exec().submit(cell.clone()),
        Place::Package(v) => v.exec.submit(cell.clone()),
        Place::Reply(_) => {}
    }
}

/// Dead-letters everything left in a stopped actor's mailbox.
pub(crate) fn drain(shared: &Arc<Shared>, cell: &ActorCell) {
    while let Some(env) = cell.mailbox.pop() {
        dead_envelope(shared, cell.addr, env, DeadReason::Stopped);
    }
}

fn complete_reply(shared: &Arc<Shared>, cell: &ActorCell, slot: &ReplySlot, payload: Payload) {
    shared.table.remove(cell.addr.id());
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
pub(crate) fn dead_letter(shared: &Arc<Shared>, from: Address, to: Address, payload: Option<Payload>, why: DeadReason) {
    shared.count_dead_letter();
    let what = payload.as_ref().map_or_else(|| "<typed message>".to_string(), Payload::describe);
    let system = payload.as_ref().is_some_and(Payload::is_system);
    let level = if system { log::Level::Debug } else { log::Level::Info };
    log::log!(target: "thespian::dead_letters", level, "dead letter from {from} to {to} ({why}): {what}");
    if system {
        return;
    }
    if let Some(asker) = cell_at(shared, from)
        && let Place::Reply(slot) = &asker.place
    {
        shared.table.remove(from.id());
        slot.complete(Err(why.ask_error(to)));
    }
}
