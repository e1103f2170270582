//! Placement in a convention: the leader decides where each actor with
//! `Requires` runs, and every member follows the leader's word.
//!
//! - [`LeaderPlacer`]: the leader itself if its capabilities match;
//!   otherwise the first member, in name order, whose record says it has
//!   settled, has the capabilities and has not refused the package.
//! - [`MemberPlacer`]: a member runs such an actor only where the leader
//!   placed it on this member ([`Assignments`], filled from the leader's run
//!   requests and record before the version loads); a version the member
//!   loaded by itself is placed as on a single host.
//!
//! The leader's decision travels in its run requests and in its membership
//! record (`PackageRef::placed`), so a member that joins later, and a
//! re-placement after a member died, reach every member the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use actor_abi::Map;

use crate::convention::link::Link;
use crate::convention::members::{self, MemberRecord};
use crate::convention::store::short;
use crate::daemon::operations::Director;
use crate::daemon::placement::{LocalPlacer, Placed, Placer, unmet};

/// Where the leader placed each actor with `Requires` of its versions:
/// hash, then class, then member name.
pub type Assignments = Arc<Mutex<HashMap<String, BTreeMap<String, String>>>>;

/// The leader's placer.
pub struct LeaderPlacer {
    /// The convention.
    pub link: Arc<Link>,
    /// The leader's own member name.
    pub name: String,
    /// The leader's own capabilities.
    pub capabilities: Map,
}

impl LeaderPlacer {
    /// Where an actor requiring `requires` of package `hash` runs, given
    /// the members' `records`.
    pub fn place_among(&self, hash: &str, requires: &Map, records: &[MemberRecord]) -> Placed {
        match unmet(requires, &actor_abi::Value::Map(self.capabilities.clone()).to_json()) {
            None => Placed::Here,
            Some(mine) => choose(&self.name, &mine, hash, requires, records),
        }
    }
}

impl Placer for LeaderPlacer {
    fn place(&self, hash: &str, _class: &str, requires: &Map) -> Placed {
        if unmet(requires, &actor_abi::Value::Map(self.capabilities.clone()).to_json()).is_none() {
            return Placed::Here;
        }
        match members::members(&self.link) {
            Ok(all) => self.place_among(hash, requires, &all.into_iter().filter_map(|m| m.record).collect::<Vec<_>>()),
            Err(e) => Placed::Unplaced(format!("the members cannot be listed: {e}")),
        }
    }
}

/// The first member (in name order) other than the leader `leader` that
/// can run an actor requiring `requires` of package `hash`, or why none can
/// (`leader_unmet`: what the leader lacks).
pub fn choose(leader: &str, leader_unmet: &str, hash: &str, requires: &Map, records: &[MemberRecord]) -> Placed {
    let mut sorted: Vec<&MemberRecord> = records.iter().filter(|r| r.name != leader).collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut why = vec![format!("the leader {leader} {leader_unmet}")];
    for r in sorted {
        match unfit(r, hash, requires) {
            None => return Placed::On(r.name.clone()),
            Some(lacks) => why.push(format!("{} {lacks}", r.name)),
        }
    }
    Placed::Unplaced(format!("no member can run it: {}", why.join("; ")))
}

/// `None` if the member `r` says can run an actor requiring `requires` of
/// package `hash`; else why not.
pub fn unfit(r: &MemberRecord, hash: &str, requires: &Map) -> Option<String> {
    let refused = r.refused.iter().any(|line| line.starts_with(&format!("{}: ", short(hash))));
    match unmet(requires, &r.capabilities) {
        None if !r.settled => Some("is still starting".into()),
        None if refused => Some("refused the package".into()),
        None => None,
        Some(lacks) => Some(lacks),
    }
}

/// On the leader, every heartbeat until the daemon exits: an actor placed
/// on a member that is gone, refused its package or no longer fits is
/// placed again (elsewhere, or unplaced), and an unplaced one is placed
/// once a member fits; members follow through the leader's record.
pub fn keep_placed(link: &Link, director: &Director, placer: &LeaderPlacer) {
    loop {
        std::thread::sleep(members::HEARTBEAT);
        let Ok(all) = members::members(link) else { continue };
        let records: Vec<MemberRecord> = all.into_iter().filter_map(|m| m.record).collect();
        let placements = director.state().placements();
        for (hash, class, placed, requires) in placements {
            let fits = match &placed {
                Placed::Here => true,
                Placed::On(m) => records.iter().any(|r| &r.name == m && unfit(r, &hash, &requires).is_none()),
                Placed::Unplaced(_) => false,
            };
            if fits {
                continue;
            }
            let now = placer.place_among(&hash, &requires, &records);
            if now != placed {
                log::warn!("convention: {class} of {} was {placed:?}; now {now:?}", short(&hash));
                director.move_actor(&hash, &class, now);
            }
        }
    }
}

/// A member's placer: the leader's word for the leader's versions.
pub struct MemberPlacer {
    /// This member's name.
    pub name: String,
    /// What the leader decided.
    pub assigned: Assignments,
    /// For versions this member loaded by itself.
    pub local: LocalPlacer,
}

impl Placer for MemberPlacer {
    fn place(&self, hash: &str, class: &str, requires: &Map) -> Placed {
        let assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
        match assigned.get(hash) {
            None => self.local.place(hash, class, requires),
            Some(classes) => to_placed(&self.name, classes.get(class)),
        }
    }
}

/// The leader's word for one actor, from this member's point of view.
pub fn to_placed(me: &str, member: Option<&String>) -> Placed {
    match member {
        Some(m) if m == me => Placed::Here,
        Some(m) => Placed::On(m.clone()),
        None => Placed::Unplaced("the leader placed it on no member".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, caps: serde_json::Value, settled: bool, refused: &[&str]) -> MemberRecord {
        MemberRecord {
            name: name.into(),
            pid: 1,
            leader: false,
            capabilities: caps,
            versions: vec![],
            refused: refused.iter().map(|s| s.to_string()).collect(),
            unloaded: vec![],
            packages: vec![],
            settled,
            block: 0,
            actors: vec![],
        }
    }

    #[test]
    fn the_first_settled_matching_member_by_name_that_did_not_refuse() {
        let requires: Map = [("Slot".to_string(), actor_abi::Value::Int(19))].into_iter().collect();
        let hash = "ab".repeat(32);
        let slot19 = serde_json::json!({"Slot": 19});
        let records = vec![
            record("zeta", slot19.clone(), true, &[]),
            record("lead", slot19.clone(), true, &[]),
            record("beta", serde_json::json!({"Slot": 4}), true, &[]),
            record("alpha", slot19.clone(), false, &[]),
            record("gamma", slot19.clone(), true, &[&format!("{}: no trusted key", &hash[..12])]),
        ];
        assert_eq!(choose("lead", "has no 'Slot'", &hash, &requires, &records), Placed::On("zeta".into()));
        let Placed::Unplaced(why) = choose("lead", "has no 'Slot'", &hash, &requires, &records[1..]) else {
            panic!("placed")
        };
        assert_eq!(
            why,
            "no member can run it: the leader lead has no 'Slot'; alpha is still starting; beta has 'Slot': 4, not \
             19; gamma refused the package"
        );
        assert_eq!(unfit(&records[0], &hash, &requires), None);
    }

    #[test]
    fn a_member_follows_the_leaders_word_for_the_leaders_versions() {
        let assigned: Assignments = Arc::default();
        let classes: BTreeMap<String, String> = [("a".to_string(), "m1".to_string())].into_iter().collect();
        assigned.lock().unwrap().insert("h".into(), classes);
        let placer = MemberPlacer { name: "m1".into(), assigned, local: LocalPlacer { capabilities: Map::new() } };
        let requires: Map = [("Slot".to_string(), actor_abi::Value::Int(19))].into_iter().collect();
        assert_eq!(placer.place("h", "a", &requires), Placed::Here, "the leader's word, whatever m1's capabilities");
        assert!(matches!(placer.place("h", "b", &requires), Placed::Unplaced(_)));
        assert_eq!(placer.place("other", "a", &requires), Placed::Unplaced("this host has no 'Slot'".into()));
        assert_eq!(to_placed("m1", Some(&"m2".to_string())), Placed::On("m2".into()));
    }
}
