//! Creating actors: host actors and package actors, with global names.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actor_abi::{Actor, Address, Message};

use crate::engine::cell::{ActorCell, ActorObject, CellKind, CellSpec};
use crate::engine::package::version::Version;
use crate::engine::payload::Payload;
use crate::engine::route::{route, submit};
use crate::engine::state::EngineState;
use crate::error::CreateActorError;

/// Creates a host actor; with a global name that exists, returns that actor.
pub(crate) fn create_host_actor(
    engine: &Arc<EngineState>,
    class: String,
    global_name: Option<&str>,
    make: impl FnOnce() -> Box<dyn Actor>,
) -> Address {
    register(engine, 0, global_name, |addr| CellSpec {
        addr,
        kind: CellKind::Host,
        class,
        parent: None,
        global_name: global_name.map(str::to_string),
        object: ActorObject::Host(make()),
    })
}

/// Who gets `ChildActorExited` when a new actor stops.
#[derive(Clone, Copy)]
pub(crate) enum Parent<'a> {
    /// Nobody.
    None,
    /// An actor of this node (it also lists the child, and stops it when
    /// it stops itself).
    Here(&'a Arc<ActorCell>),
    /// An actor of another node (the node that started this one), which
    /// only gets told.
    Elsewhere(Address),
}

/// Creates an actor of `class` in `version`; it is constructed on the
/// version's own thread. `parent` gets `ChildActorExited` when it stops.
pub(crate) fn create_package_actor(
    engine: &Arc<EngineState>,
    version: &Arc<Version>,
    class: &str,
    global_name: Option<&str>,
    parent: Parent<'_>,
) -> Result<Address, CreateActorError> {
    if engine.stopping.load(Ordering::Acquire) {
        return Err(CreateActorError::ShuttingDown);
    }
    let unknown = || CreateActorError::UnknownClass {
        hash: version.info.hash.clone(),
        class: class.to_string(),
        available: version.info.classes.clone(),
    };
    let class_index = version.class_index(class).ok_or_else(unknown)?;
    if let Some(existing) = global_name.and_then(|n| engine.live_name(n)) {
        return Ok(existing);
    }
    let library = version.library().ok_or_else(|| CreateActorError::Unloading(version.info.hash.clone()))?;
    let addr = register(engine, version.home, global_name, |addr| {
        version.actor_started();
        CellSpec {
            addr,
            kind: CellKind::Package(version.clone()),
            class: class.to_string(),
            parent: match parent {
                Parent::None => None,
                Parent::Here(p) => Some(p.addr),
                Parent::Elsewhere(a) => Some(a),
            },
            global_name: global_name.map(str::to_string),
            object: ActorObject::Unbuilt { class_index, library },
        }
    });
    if let Parent::Here(p) = parent
        && p.addr != addr
    {
        p.add_child(addr);
    }
    Ok(addr)
}

/// Inserts a new cell (under the names lock when it has a global name, so
/// two creators of one name get one actor) and schedules it once.
fn register(
    engine: &Arc<EngineState>,
    home: u32,
    global_name: Option<&str>,
    spec: impl FnOnce(Address) -> CellSpec,
) -> Address {
    if let (Some(name), Some(authority)) = (global_name, engine.name_authority.get()) {
        return register_claimed(engine, authority.as_ref(), home, name, spec);
    }
    let mut names = engine.names.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(addr) = global_name.and_then(|n| engine.live_name_in(&names, n)) {
        return addr;
    }
    let cell = ActorCell::new(spec(engine.new_address(home)));
    // Into the table before the names lock goes: a creator that finds the
    // name next must also find the actor live, or it would make a second.
    engine.table.insert(cell.clone());
    if let Some(n) = global_name {
        names.insert(n.to_string(), cell.addr);
    }
    drop(names);
    if cell.mailbox.claim() {
        submit(engine, &cell);
    }
    cell.addr
}

/// In a worker, the starter's table decides who holds a global name: the
/// actor is made first, then claims the name. If a live actor (anywhere)
/// holds it already, the new one is asked to exit and the holder returned,
/// as a creator of a taken name gets the holder in one process. No names
/// lock is held across the claim's round trip.
fn register_claimed(
    engine: &Arc<EngineState>,
    authority: &dyn crate::remote::NameAuthority,
    home: u32,
    name: &str,
    spec: impl FnOnce(Address) -> CellSpec,
) -> Address {
    if let Some(holder) = engine.live_name(name) {
        return holder;
    }
    let cell = ActorCell::new(spec(engine.new_address(home)));
    engine.table.insert(cell.clone());
    if cell.mailbox.claim() {
        submit(engine, &cell);
    }
    let addr = cell.addr;
    match authority.claim(name, addr) {
        Some(holder) if holder == addr => {
            engine.names.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), addr);
            addr
        }
        Some(holder) if !holder.is_nobody() => {
            route(engine, Address::NOBODY, addr, Payload::native(Message::ActorExitRequest));
            holder
        }
        _ => {
            log::warn!("global name {name:?}: the starting system did not take the claim; {addr} runs without it");
            addr
        }
    }
}

#[cfg(test)]
#[path = "spawn_tests.rs"]
mod tests;
