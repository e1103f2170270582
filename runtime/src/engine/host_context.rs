//! The [`ContextBackend`] of host actors.

use std::sync::Arc;
use std::time::Duration;

use actor_abi::{Address, ContextBackend, CreateError, Message, SourceInfo, Value};

use crate::engine::cell::ActorCell;
use crate::engine::payload::Payload;
use crate::engine::route::route_cached;
use crate::engine::spawn;
use crate::engine::state::EngineState;
use crate::engine::timer::TimerAction;
use crate::error::CreateActorError;

/// What a host actor's handler acts through.
pub(crate) struct HostContext<'a> {
    engine: &'a Arc<EngineState>,
    cell: &'a Arc<ActorCell>,
    exit: bool,
    last_target: Option<Arc<ActorCell>>,
}

impl<'a> HostContext<'a> {
    pub(crate) fn new(engine: &'a Arc<EngineState>, cell: &'a Arc<ActorCell>) -> Self {
        HostContext { engine, cell, exit: false, last_target: None }
    }

    pub(crate) fn exit_requested(&self) -> bool {
        self.exit
    }
}

impl ContextBackend for HostContext<'_> {
    fn my_address(&self) -> Address {
        self.cell.addr
    }

    fn send_message(&mut self, to: Address, msg: Message) {
        route_cached(self.engine, &mut self.last_target, self.cell.addr, to, Payload::native(msg));
    }

    /// A host actor creates package actors by class name: the class is taken
    /// from the most recently loaded version that exports it.
    fn create_actor(&mut self, class: &str, global_name: Option<&str>) -> Result<Address, CreateError> {
        let Some(version) = self.engine.newest_exporting(class) else {
            return Err(CreateError::UnknownClass { class: class.to_string() });
        };
        spawn::create_package_actor(self.engine, &version, class, global_name, spawn::Parent::Here(self.cell)).map_err(
            |e| match e {
                CreateActorError::UnknownClass { .. } => CreateError::UnknownClass { class: class.to_string() },
                other => CreateError::Refused { class: class.to_string(), reason: other.to_string() },
            },
        )
    }

    fn wakeup_after(&mut self, delay: Duration, payload: Value) {
        self.engine.timer.after(delay, TimerAction::Wakeup { to: self.cell.addr, payload });
    }

    fn source(&self) -> Option<SourceInfo<'_>> {
        None
    }

    fn exit(&mut self) {
        self.exit = true;
    }
}
