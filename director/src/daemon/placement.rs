//! Where a TLI actor runs. An actor without `Requires` runs wherever its
//! version runs. One with `Requires` runs only on a host whose capabilities
//! (`othercaps.cfg`) have every capability it names, with the same value:
//! on a single host, here or nowhere ([`LocalPlacer`]); in a convention,
//! the leader decides (`convention::placement`).
//!
//! The Director asks its [`Placer`] once per actor at load, without its
//! state lock held (a convention placer may ask the server).

use actor_abi::{Map, Value};

/// Where one actor with `Requires` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// In this daemon.
    Here,
    /// On the convention member of this name.
    On(String),
    /// Nowhere: why.
    Unplaced(String),
}

impl Placed {
    /// The member it runs on (`me` for here), if any.
    pub fn member(&self, me: &str) -> Option<String> {
        match self {
            Placed::Here => Some(me.to_string()),
            Placed::On(m) => Some(m.clone()),
            Placed::Unplaced(_) => None,
        }
    }
}

/// Decides where actors with `Requires` run.
pub trait Placer: Send + Sync {
    /// Where actor `class` of version `hash` runs, given what it requires.
    fn place(&self, hash: &str, class: &str, requires: &Map) -> Placed;
}

/// A single host: here if this host has what the actor requires.
pub struct LocalPlacer {
    /// This host's capabilities.
    pub capabilities: Map,
}

impl Placer for LocalPlacer {
    fn place(&self, _hash: &str, _class: &str, requires: &Map) -> Placed {
        match unmet(requires, &Value::Map(self.capabilities.clone()).to_json()) {
            None => Placed::Here,
            Some(why) => Placed::Unplaced(format!("this host {why}")),
        }
    }
}

/// `None` if `capabilities` (as JSON, the form members publish) has every
/// capability in `requires` with the same value; else what is missing, as
/// in "has no 'Slot'" or "has 'Slot': 4, not 19".
///
/// ```
/// use actor_abi::{Map, Value};
/// use director::daemon::placement::unmet;
/// let requires: Map = [("Slot".to_string(), Value::Int(19))].into_iter().collect();
/// assert_eq!(unmet(&requires, &serde_json::json!({"Slot": 19, "Worker": true})), None);
/// assert_eq!(unmet(&requires, &serde_json::json!({"Slot": 4})).as_deref(), Some("has 'Slot': 4, not 19"));
/// ```
pub fn unmet(requires: &Map, capabilities: &serde_json::Value) -> Option<String> {
    for (key, want) in requires {
        let want = want.to_json();
        match capabilities.get(key) {
            None => return Some(format!("has no {key:?}").replace('"', "'")),
            Some(have) if *have != want => return Some(format!("has '{key}': {have}, not {want}")),
            Some(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_capability_must_be_there_with_its_value() {
        let requires: Map =
            [("Worker".to_string(), Value::Bool(true)), ("Slot".to_string(), Value::Int(19))].into_iter().collect();
        let local = |caps: serde_json::Value| {
            let capabilities = Value::from_json(caps).as_map().cloned().unwrap_or_default();
            LocalPlacer { capabilities }.place("h", "c", &requires)
        };
        assert_eq!(local(serde_json::json!({"Worker": true, "Slot": 19, "Other": 1})), Placed::Here);
        assert_eq!(local(serde_json::json!({"Worker": true})), Placed::Unplaced("this host has no 'Slot'".into()));
        assert_eq!(
            local(serde_json::json!({"Worker": false, "Slot": 19})),
            Placed::Unplaced("this host has 'Worker': false, not true".into())
        );
        assert_eq!(
            unmet(&requires, &serde_json::json!({"Worker": true, "Slot": "19"})).as_deref(),
            Some("has 'Slot': \"19\", not 19")
        );
    }
}
