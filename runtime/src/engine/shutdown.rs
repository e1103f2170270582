//! Stopping a whole system: every version unloaded (newest first), then the
//! host actors, the host threads and the timer; asks still waiting fail.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actor_abi::{Address, Message};

use crate::engine::cell::{ActorCell, CellKind};
use crate::engine::package::unload;
use crate::engine::payload::Payload;
use crate::engine::route::route;
use crate::engine::state::EngineState;
use crate::error::AskError;
use crate::report::ShutdownReport;

/// Stops everything `engine` runs. A load that is still under way when this
/// begins unloads its version itself (see `package::load`).
pub(crate) fn shutdown(engine: &Arc<EngineState>) -> ShutdownReport {
    engine.stopping.store(true, Ordering::Release);
    let versions = engine.take_all_versions();
    let unloads = versions.into_iter().rev().map(|v| unload::unload(engine, v, engine.config.unload_grace)).collect();
    let host_actors_left = stop_host_actors(engine, engine.config.unload_grace);
    engine.host_exec().stop_and_join();
    engine.timer.stop();
    crate::engine::reply::fail_waiting(engine, |_| true, |_| AskError::SystemStopped);
    if engine.owns_extract_root() && !engine.has_running_resident() {
        let _ = std::fs::remove_dir_all(engine.extract_root());
    }
    // The spare burst buffers are a cache for running systems; a host
    // that has shut its system down gets their memory back.
    crate::engine::burst_pool::POOL.clear();
    ShutdownReport { unloads, host_actors_left }
}

/// Asks every host actor to exit and waits up to `grace`; returns how many
/// are left.
fn stop_host_actors(engine: &Arc<EngineState>, grace: Duration) -> usize {
    let is_host = |c: &ActorCell| matches!(c.kind, CellKind::Host);
    for cell in engine.table.select(is_host) {
        route(engine, Address::NOBODY, cell.addr, Payload::native(Message::ActorExitRequest));
    }
    let deadline = Instant::now() + grace;
    loop {
        let left = engine.table.select(is_host).len();
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
