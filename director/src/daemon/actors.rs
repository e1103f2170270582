//! The Director and Source Authority actors that live in the daemon's actor
//! system, and the messages an embedding host can exchange with them.
//!
//! # The Director actor (global name `"Director"`)
//!
//! Requests are maps with a `DirectorOp`; replies carry `DirectorResponse`
//! and `Success`:
//!
//! - `{"DirectorOp": "RetrieveAll", "Group"?: G}` →
//!   `{"DirectorResponse": "AllAddresses", "Success": true, "Groups": {G:
//!   {"ActiveHash": H, "Loaded": [H...], "Running": {H: [{"ActorClass",
//!   "Role", "ActorAddress", "StartTime"}]}}}}` (loaded hashes in load order;
//!   an unknown group gives an empty entry).
//! - `{"DirectorOp": "RetrieveRole", "Role": R, "Group"?: G}` →
//!   `{"DirectorResponse": "RoleAddress", "Success": bool, "Address": A|null}`.
//! - `{"DirectorOp": "SendToRole", "Role": R, "Group"?: G, "Message": M}` →
//!   `M` goes to the actor with role `R` in the active version as if the
//!   requester sent it, so its answer comes straight from that actor. The
//!   role is resolved and `M` queued in one step (see `daemon::sending`):
//!   unlike an address from `RetrieveRole`, it cannot be retired by an
//!   unload in between. With no such actor: `{"DirectorResponse":
//!   "SendToRole", "Success": false, "Role": R, "Reason": TEXT}`.
//! - `{"DirectorOp": "RequestNotification"}` → nothing now; one
//!   `{"DirectorResponse": "NotificationOfUpdate", "Success": true}` after
//!   the next load or unload (one-shot: ask again for the next one).
//!
//! It is also the parent of every TLI actor: when one of the active version
//! exits, it restarts it with backoff (100 ms doubling to 12.8 s).
//!
//! # The Source Authority actor (global name `"Director Source Authority"`)
//!
//! `{"ValidateSource": PATH}` → `{"Validated": true, "Group", "Version",
//! "Hash", "KeyFile"}` or `{"Validated": false, "Reason": TEXT}`.

use std::sync::{Arc, MutexGuard};

use actor_abi::{Actor, Address, Context, Map, Message, Value, value};
use runtime::tls::SourceAuthority;

use crate::daemon::core::Core;
use crate::daemon::operations::Director;

/// The Director actor's global name.
pub const DIRECTOR_NAME: &str = "Director";
/// The Source Authority actor's global name.
pub const SOURCE_AUTHORITY_NAME: &str = "Director Source Authority";

/// The Director actor: answers the Director protocol and restarts TLI actors.
pub struct DirectorActor {
    core: Arc<Director>,
}

impl DirectorActor {
    /// An actor over the shared Director state.
    pub fn new(core: Arc<Director>) -> Self {
        DirectorActor { core }
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.state()
    }
}

impl Actor for DirectorActor {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        match msg {
            Message::ChildActorExited { child } => {
                let restart = self.core().actor_exited(*child);
                if let Some((delay, payload)) = restart {
                    cx.wakeup_after(delay, payload);
                }
            }
            Message::WakeupMessage { payload } => self.core().restart(payload),
            Message::Value(v) => self.request(cx, v, from),
            _ => {}
        }
    }
}

impl DirectorActor {
    fn request(&self, cx: &mut Context<'_>, v: &Value, from: Address) {
        let group = v.get("Group").and_then(Value::as_str);
        match v.get("DirectorOp").and_then(Value::as_str) {
            Some("RetrieveAll") => cx.send(&from, retrieve_all(&self.core(), group)),
            Some("RetrieveRole") => {
                let role = v.get("Role").and_then(Value::as_str).unwrap_or_default();
                let address = self.core().role_address(role, group, None).ok().flatten();
                let reply = value!({"DirectorResponse": "RoleAddress", "Success": address.is_some(), "Address": address.map(|a| a.to_string())});
                cx.send(&from, reply);
            }
            Some("SendToRole") => self.send_to_role(cx, v, group, from),
            Some("RequestNotification") => {
                let mut core = self.core();
                if !core.notify.contains(&from) {
                    core.notify.push(from);
                }
            }
            Some(other) => log::warn!("Director does not handle the {other:?} request (from {from})"),
            None => log::warn!("Director received an invalid request from {from}: {v}"),
        }
    }
}

impl DirectorActor {
    /// `SendToRole`: resolves and forwards under one hold of the state lock.
    fn send_to_role(&self, cx: &mut Context<'_>, v: &Value, group: Option<&str>, from: Address) {
        let role = v.get("Role").and_then(Value::as_str).unwrap_or_default();
        let message = v.get("Message").cloned().unwrap_or(Value::Null);
        let reason = {
            let core = self.core();
            match core.role_address(role, group, None) {
                Ok(Some(addr)) => {
                    core.system.forward(&from, &addr, Message::Value(message));
                    return;
                }
                Ok(None) => format!("no running actor with role {role:?}"),
                Err(e) => e.to_string(),
            }
        };
        let reply = value!({"DirectorResponse": "SendToRole", "Success": false, "Role": role, "Reason": reason});
        cx.send(&from, reply);
    }
}

fn retrieve_all(core: &Core, only: Option<&str>) -> Value {
    let mut groups = Map::new();
    let names: Vec<String> = match only {
        Some(g) => vec![g.to_string()],
        None => core.groups.keys().cloned().collect(),
    };
    for name in names {
        let mut entry = Map::new();
        let g = core.groups.get(&name);
        entry.insert("ActiveHash".into(), g.and_then(|g| g.active.clone()).into());
        let loaded: Vec<Value> =
            g.map_or_else(Vec::new, |g| g.versions.iter().map(|v| Value::from(v.info.hash.clone())).collect());
        entry.insert("Loaded".into(), Value::List(loaded));
        let mut running = Map::new();
        for v in g.map_or(&[][..], |g| &g.versions[..]) {
            let actors = v
                .actors
                .iter()
                .map(|a| {
                    value!({"ActorClass": a.spec.class, "Role": a.spec.role, "ActorAddress": a.address.map(|x| x.to_string()), "StartTime": a.since})
                })
                .collect();
            running.insert(v.info.hash.clone(), Value::List(actors));
        }
        entry.insert("Running".into(), Value::Map(running));
        groups.insert(name, Value::Map(entry));
    }
    value!({"DirectorResponse": "AllAddresses", "Success": true, "Groups": Value::Map(groups).to_json()})
}

/// The Source Authority actor: validates package files on request.
pub struct SourceAuthorityActor {
    authority: SourceAuthority,
}

impl SourceAuthorityActor {
    /// An actor over `authority`.
    pub fn new(authority: SourceAuthority) -> Self {
        SourceAuthorityActor { authority }
    }
}

impl Actor for SourceAuthorityActor {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        let Some(path) = msg.get("ValidateSource").and_then(Value::as_str) else { return };
        let reply = match self.authority.verify_file(std::path::Path::new(path)) {
            Ok(v) => value!({
                "Validated": true, "Group": v.manifest.group, "Version": v.manifest.version,
                "Hash": v.hash, "KeyFile": v.key_file.display().to_string(),
            }),
            Err(e) => value!({"Validated": false, "Reason": e.to_string()}),
        };
        cx.send(&from, reply);
    }
}
