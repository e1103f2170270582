//! A member converges, every heartbeat, to what the leader's membership
//! record says: it runs each of the leader's stored packages it does not run yet
//! (a refused one again after [`FIRST_RETRY`], doubling to [`LAST_RETRY`]),
//! moves the placed actors of those packages to where the leader placed
//! them now (`daemon::moves`), and unloads each package it took from the
//! leader that the leader no longer runs. With no settled record of the
//! leader (the leader is restarting, or cut off), it changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::convention::deploy::{MemberSide, RunReply, RunRequest, check, run};
use crate::convention::link::Link;
use crate::convention::members::{self, MemberRecord, PackageRef};
use crate::convention::placement::to_placed;
use crate::convention::store::short;

/// How long a member waits before it tries a package it refused again
/// (the operator may have added the key since); doubled after each
/// refusal up to [`LAST_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between two tries of a refused package.
pub const LAST_RETRY: Duration = Duration::from_secs(300);

/// When a refused package is tried next.
struct Retry {
    at: Instant,
    wait: Duration,
}

/// Starts the member's convergence thread; it runs until the daemon exits.
pub fn start(link: &Arc<Link>, side: Arc<MemberSide>) -> Result<(), String> {
    let link = link.clone();
    std::thread::Builder::new()
        .name("thespian-converge".into())
        .spawn(move || converge(&link, &side))
        .map(drop)
        .map_err(|e| format!("starting the convergence thread: {e}"))
}

fn converge(link: &Link, side: &MemberSide) {
    let mut tried: HashMap<String, Retry> = HashMap::new();
    loop {
        std::thread::sleep(members::HEARTBEAT);
        let Some(leader) = side.leader.as_deref() else { return };
        let Some(record) = leader_record(link, leader) else { continue };
        let wanted: HashSet<&str> = record.packages.iter().map(|p| p.hash.as_str()).collect();
        tried.retain(|h, _| wanted.contains(h.as_str()));
        let here: HashSet<String> = side.director.state().packages(&side.name).into_iter().map(|p| p.hash).collect();
        for p in record.packages.iter().filter(|p| !here.contains(&p.hash) && !p.pending) {
            run_missing(link, side, leader, p, &mut tried);
        }
        for p in record.packages.iter().filter(|p| here.contains(&p.hash)) {
            follow_placement(side, p);
        }
        unload_gone(side, &wanted, &here);
    }
}

/// The leader's record, once it has settled.
fn leader_record(link: &Link, leader: &str) -> Option<MemberRecord> {
    let all = members::members(link).ok()?;
    let record = all.into_iter().find(|m| m.key == leader).and_then(|m| m.record)?;
    // A leader still restoring its directory: its list is not final.
    record.settled.then_some(record)
}

fn run_missing(link: &Link, side: &MemberSide, leader: &str, p: &PackageRef, tried: &mut HashMap<String, Retry>) {
    let now = Instant::now();
    if tried.get(&p.hash).is_some_and(|r| now < r.at) {
        return;
    }
    let req = RunRequest {
        leader: leader.to_string(),
        group: p.group.clone(),
        hash: p.hash.clone(),
        file_name: p.file_name.clone(),
        placed: p.placed.clone(),
    };
    let reply = match check(&req) {
        Ok(()) => run(link, side, &req),
        Err(why) => RunReply { member: side.name.clone(), loaded: false, detail: format!("{}: {why}", short(&p.hash)) },
    };
    side.notes.note_run(&p.hash, &reply);
    if reply.loaded {
        tried.remove(&p.hash);
    } else {
        let wait = tried.get(&p.hash).map_or(FIRST_RETRY, |r| (r.wait * 2).min(LAST_RETRY));
        tried.insert(p.hash.clone(), Retry { at: now + wait, wait });
    }
}

/// Moves the placed actors of a leader's package that runs here to where
/// the leader's record places them now.
fn follow_placement(side: &MemberSide, p: &PackageRef) {
    if !side.from_leader.lock().unwrap_or_else(|e| e.into_inner()).contains(&p.hash) {
        return;
    }
    let changed = {
        let mut assigned = side.assigned.lock().unwrap_or_else(|e| e.into_inner());
        let before = assigned.insert(p.hash.clone(), p.placed.clone());
        before.as_ref() != Some(&p.placed)
    };
    if !changed {
        return;
    }
    let classes = side.director.state().placed_classes(&p.hash);
    for class in classes {
        side.director.move_actor(&p.hash, &class, to_placed(&side.name, p.placed.get(&class)));
    }
}

/// Unloads the packages taken from the leader that it no longer runs.
fn unload_gone(side: &MemberSide, wanted: &HashSet<&str>, here: &HashSet<String>) {
    let gone: Vec<String> = {
        let from = side.from_leader.lock().unwrap_or_else(|p| p.into_inner());
        from.iter().filter(|h| !wanted.contains(h.as_str())).cloned().collect()
    };
    for hash in gone {
        side.from_leader.lock().unwrap_or_else(|p| p.into_inner()).remove(&hash);
        side.assigned.lock().unwrap_or_else(|p| p.into_inner()).remove(&hash);
        if !here.contains(&hash) {
            continue;
        }
        match side.director.unload(&hash) {
            Ok(u) => {
                log::info!("convention: the leader no longer runs {}: unloaded, code {}", short(&hash), u.code);
                side.notes.note_unload(&hash, &format!("unloaded {} {}, code {}", u.group, u.version, u.code));
            }
            Err(e) => {
                log::warn!("convention: unloading {} as the leader did: {e}", short(&hash));
                side.notes.note_unload(&hash, &format!("not unloaded: {}", e.message));
            }
        }
    }
}
