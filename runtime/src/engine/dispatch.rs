//! Running an actor: a batch of its messages on one pool thread, the retry
//! and poison rule, and the stop sequence.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use actor_abi::ffi;
use actor_abi::{Actor, Address, Context, Delivery, Message};

use crate::engine::cell::{ActorCell, ActorObject};
use crate::engine::host_context::HostContext;
use crate::engine::logging::with_current;
use crate::engine::package::host_api::PluginCall;
use crate::engine::payload::{Envelope, Payload};
use crate::engine::route::{DeadReason, dead_envelope, drain, route, submit};
use crate::engine::state::EngineState;
use crate::native::library::{Instance, Library};

/// Messages one actor handles before its thread moves on to others.
const BATCH: usize = 64;

thread_local! {
    /// Reused buffer for encoding values handed to packages. A host
    /// thread-local: the host is never unloaded, so its TLS is harmless.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Reused buffer for the envelopes of one batch, taken from the mailbox
    /// under one lock.
    static BATCHED: RefCell<VecDeque<Envelope>> = const { RefCell::new(VecDeque::new()) };
}

/// Runs up to [`BATCH`] messages of `cell` on the calling pool thread.
pub(crate) fn dispatch_batch(engine: &Arc<EngineState>, cell: &Arc<ActorCell>) {
    let mut object = cell.object();
    if matches!(*object, ActorObject::Unbuilt { .. }) {
        construct(engine, cell, &mut object);
    }
    let mut batch = BATCHED.with(RefCell::take);
    cell.mailbox.pop_batch(&mut batch, BATCH);
    // A package actor's unload may discard what it has not started (and
    // count it): see `Mailbox::discard`. Host actors are never unloaded.
    let counted = cell.version().is_some();
    while !cell.is_stopped() {
        let Some(front) = batch.front() else { break };
        if counted && !cell.mailbox.start_next(!front.payload.is_exit_request()) {
            break;
        }
        let Some(mut env) = batch.pop_front() else { break };
        let done = env.take_done();
        let stop = match &mut *object {
            ActorObject::Host(actor) => deliver_host(engine, cell, actor.as_mut(), env),
            ActorObject::Package { instance, library } => deliver_package(engine, cell, library, instance, env),
            ActorObject::Unbuilt { .. } | ActorObject::Stopped => {
                if let Some(d) = done {
                    d.complete(engine, Err(DeadReason::Stopped.ask_error(cell.addr)));
                }
                dead_envelope(engine, cell.addr, env, DeadReason::Stopped);
                continue;
            }
        };
        if let Some(d) = done {
            d.complete(engine, Ok(()));
        }
        if stop {
            stop_actor(engine, cell, &mut object);
        }
    }
    drop(object);
    // Left over only if the actor stopped or its queue was discarded: dead
    // letters, oldest first.
    for env in batch.drain(..) {
        dead_envelope(engine, cell.addr, env, DeadReason::Stopped);
    }
    BATCHED.with(|b| b.replace(batch));
    if cell.is_stopped() {
        drain(engine, cell);
        return;
    }
    if cell.mailbox.release() {
        submit(engine, cell);
    }
}

fn construct(engine: &Arc<EngineState>, cell: &Arc<ActorCell>, object: &mut ActorObject) {
    let ActorObject::Unbuilt { class_index, library } = std::mem::replace(object, ActorObject::Stopped) else {
        return;
    };
    match with_current(cell.addr, || library.construct(class_index)) {
        Ok(instance) => *object = ActorObject::Package { instance, library },
        Err(e) => {
            log::error!("actor {} ({}) failed to start: {e}", cell.addr, cell.class);
            drop(library);
            stop_actor(engine, cell, object);
        }
    }
}

fn deliver_host(engine: &Arc<EngineState>, cell: &Arc<ActorCell>, actor: &mut dyn Actor, env: Envelope) -> bool {
    let from = env.from;
    let msg = match env.payload.into_host_message() {
        Ok(m) => m,
        Err(why) => {
            log::error!("message from {from} to {} dropped: {why}", cell.addr);
            return false;
        }
    };
    let mut backend = HostContext::new(engine, cell);
    let outcome = with_current(cell.addr, || {
        let mut cx = Context::new(&mut backend);
        actor_abi::__private::deliver(actor, &mut cx, &msg, from)
    });
    let stop = msg.is_exit_request() || backend.exit_requested();
    if let Delivery::Poisoned(details) = outcome {
        poisoned(engine, cell, from, Payload::native(msg), details);
    }
    stop
}

fn deliver_package(
    engine: &Arc<EngineState>,
    cell: &Arc<ActorCell>,
    library: &Arc<Library>,
    instance: &Instance,
    env: Envelope,
) -> bool {
    let Some(version) = cell.version() else { return true };
    let mut call = PluginCall { engine, cell, version, library, exit: false, last_target: None };
    let exit_request = env.payload.is_exit_request();
    let from = env.from;
    let mut receive =
        |m: &ffi::FfiMessage| with_current(cell.addr, || library.receive(instance, call.as_cx(), cell.addr, m, from));
    let result = match env.payload.opaque_ffi() {
        Some(m) => Ok(receive(&m)),
        None => SCRATCH.with(|s| {
            let mut scratch = s.take();
            let r = env.payload.with_ffi(&mut scratch, &mut receive);
            s.replace(scratch);
            r
        }),
    };
    match result {
        Ok((ffi::STATUS_OK, _)) => {}
        Ok((ffi::STATUS_POISONED, details)) => poisoned(engine, cell, from, env.payload, details),
        Ok((status, err)) => log::error!("delivery to {} failed (status {status}): {err}", cell.addr),
        Err(why) => log::error!("message from {from} to {} dropped: {why}", cell.addr),
    }
    exit_request || call.exit
}

/// A handler panicked on the message and on its retry: the sender gets a
/// PoisonMessage (or, for an ask, an error). System messages are not returned.
fn poisoned(engine: &Arc<EngineState>, cell: &ActorCell, from: Address, payload: Payload, details: String) {
    log::warn!("actor {} ({}) could not handle {}: {details}", cell.addr, cell.class, payload.describe());
    if payload.is_system() || from.is_nobody() {
        return;
    }
    route(engine, cell.addr, from, payload.poison(cell.addr, details));
}

/// Stops an actor on its own thread: drops the actor object (inside its
/// library for package actors), then tells the family and drains the mailbox.
pub(crate) fn stop_actor(engine: &Arc<EngineState>, cell: &Arc<ActorCell>, object: &mut ActorObject) {
    if !cell.mark_stopped() {
        return;
    }
    match std::mem::replace(object, ActorObject::Stopped) {
        ActorObject::Host(actor) => {
            if catch_unwind(AssertUnwindSafe(move || drop(actor))).is_err() {
                log::error!("dropping host actor {} panicked", cell.addr);
            }
        }
        ActorObject::Package { instance, library } => {
            if let Err(e) = with_current(cell.addr, || library.destroy(instance)) {
                log::error!("dropping actor {} ({}) failed: {e}", cell.addr, cell.class);
            }
        }
        ActorObject::Unbuilt { .. } | ActorObject::Stopped => {}
    }
    after_stop(engine, cell);
}

fn after_stop(engine: &Arc<EngineState>, cell: &Arc<ActorCell>) {
    engine.table.remove(cell.addr.id());
    if let Some(name) = &cell.global_name {
        engine.forget_name(name, cell.addr);
        if let Some(authority) = engine.name_authority.get() {
            authority.release(name, cell.addr);
        }
    }
    if let Some(parent) = cell.parent {
        if let Some(p) = engine.table.get(parent.id()) {
            p.remove_child(cell.addr);
        }
        route(engine, cell.addr, parent, Payload::native(Message::ChildActorExited { child: cell.addr }));
    }
    for child in cell.take_children() {
        route(engine, cell.addr, child, Payload::native(Message::ActorExitRequest));
    }
    drain(engine, cell);
    if let Some(v) = cell.version() {
        v.actor_stopped();
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
