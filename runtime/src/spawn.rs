//! Creating actors: host actors and package actors, with global names.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actor_abi::{Actor, Address};

use crate::cell::{ActorCell, Body, CellSpec, Place};
use crate::error::CreateActorError;
use crate::plugin::version::Version;
use crate::route::submit;
use crate::system::Shared;

/// Creates a host actor; with a global name that exists, returns that actor.
pub(crate) fn create_host_actor(
    shared: &Arc<Shared>,
    class: String,
    global_name: Option<&str>,
    make: impl FnOnce() -> Box<dyn Actor>,
) -> Address {
    register(shared, 0, global_name, |addr| CellSpec {
        addr,
        place: Place::Host,
        class,
        parent: None,
        global_name: global_name.map(str::to_string),
        body: Body::Host(make()),
    })
}

/// Creates an actor of `class` in `version`; it is constructed on the
/// version's own thread. `parent` gets `ChildActorExited` when it stops.
pub(crate) fn create_package_actor(
    shared: &Arc<Shared>,
    version: &Arc<Version>,
    class: &str,
    global_name: Option<&str>,
    parent: Option<&Arc<ActorCell>>,
) -> Result<Address, CreateActorError> {
    if shared.stopping.load(Ordering::Acquire) {
        return Err(CreateActorError::ShuttingDown);
    }
    let unknown = || CreateActorError::UnknownClass {
        hash: version.info.hash.clone(),
        class: class.to_string(),
        available: version.info.classes.clone(),
    };
    let class_index = version.class_index(class).ok_or_else(unknown)?;
    if let Some(existing) = global_name.and_then(|n| shared.live_name(n)) {
        return Ok(existing);
    }
    let code = version.code().ok_or_else(|| CreateActorError::Unloading(version.info.hash.clone()))?;
    let addr = register(shared, version.home, global_name, |addr| {
        version.actor_started();
        CellSpec {
            addr,
            place: Place::Package(version.clone()),
            class: class.to_string(),
            parent: parent.map(|p| p.addr),
            global_name: global_name.map(str::to_string),
            body: Body::Pending { class_index, code },
        }
    });
    if let Some(p) = parent.filter(|p| p.addr != addr) {
        p.add_child(addr);
    }
    Ok(addr)
}

/// Inserts a new cell (under the names lock when it has a global name, so
/// two creators of one name get one actor) and schedules it once.
fn register(
    shared: &Arc<Shared>,
    home: u64,
    global_name: Option<&str>,
    spec: impl FnOnce(Address) -> CellSpec,
) -> Address {
    let mut names = shared.names.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(addr) = global_name.and_then(|n| shared.live_name_in(&names, n)) {
        return addr;
    }
    let cell = ActorCell::new(spec(shared.new_address(home)));
    if let Some(n) = global_name {
        names.insert(n.to_string(), cell.addr);
    }
    drop(names);
    shared.table.insert(cell.clone());
    if cell.mailbox.claim() {
        submit(shared, &cell);
    }
    cell.addr
}
