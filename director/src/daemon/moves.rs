//! Moving a placed actor (one whose TLI says `Requires`) between members
//! of a convention, when the leader places it again: it starts here when
//! it comes here, and stops here when it goes elsewhere.

use actor_abi::Message;

use crate::daemon::operations::Director;
use crate::daemon::placement::Placed;
use crate::localtime::now_unix;

impl Director {
    /// Places actor `class` of the loaded version `hash` at `placed`. An
    /// actor that comes here is created (with its global name and its
    /// `OnLoad` message if its version is active); one that leaves gets
    /// `ActorExitRequest` and is not restarted. Returns true if its place
    /// changed. Runs as an operation (never inside a load or an unload).
    pub fn move_actor(&self, hash: &str, class: &str, placed: Placed) -> bool {
        let _operation = self.operation();
        let mut state = self.state();
        let Ok((group, _)) = state.find(hash) else { return false };
        let active = state.groups.get(&group).is_some_and(|g| g.active.as_deref() == Some(hash));
        let (system, director) = (state.system.clone(), state.director);
        let Some(v) = state.version_mut(&group, hash) else { return false };
        let Some(a) = v.actors.iter_mut().find(|a| a.spec.class == class) else { return false };
        if a.placed == placed {
            return false;
        }
        let was_here = a.here();
        log::info!("{class} of {group} ({hash}) moves from {:?} to {placed:?}", a.placed);
        a.placed = placed;
        if a.here() && !was_here {
            match v.runs.create(&system, director, hash, class) {
                Ok(addr) => {
                    (a.address, a.since) = (Some(addr), now_unix());
                    if active {
                        if let Some(name) = &a.spec.global_name {
                            system.assign_global_name(name, &addr);
                        }
                        if let Some(m) = &a.spec.on_load {
                            system.tell(&addr, m.clone());
                        }
                    }
                }
                Err(e) => log::error!("creating {class} of {group} here: {e}"),
            }
        } else if was_here
            && !a.here()
            && let Some(addr) = a.address.take()
        {
            system.tell_message(&addr, Message::ActorExitRequest);
        }
        let changed = state.changed.clone();
        drop(state);
        if let Some(f) = changed {
            f();
        }
        true
    }
}
