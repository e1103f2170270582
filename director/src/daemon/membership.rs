//! The daemon's part in a convention: its heartbeat record, its node
//! block's transport (`convention::transport`), the relay for CLI asks
//! (`convention::relay`), and its role. The leader (the member
//! `convleader.cfg` names) stores each package it loads, asks the other
//! members to run it, and places actors with `Requires`
//! (`convention::placement`); every other member takes those requests, runs
//! what it can verify itself and follows the leader's placement
//! (`convention::deploy`, `convention::converge`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::convention::deploy::{self, AllowRemote, MemberSide, Notes, RunRequest};
use crate::convention::members::{self, MemberRecord};
use crate::convention::placement::{self, Assignments, LeaderPlacer, MemberPlacer};
use crate::convention::publisher::Publisher;
use crate::convention::relay::{self, NatsRelay};
use crate::convention::transport;
use crate::convention::{Link, converge};
use crate::daemon::DaemonError;
use crate::daemon::core::NewVersion;
use crate::daemon::operations::Director;
use crate::daemon::placement::LocalPlacer;

/// This member's word that its daemon has restored its directory (see
/// [`MemberRecord::settled`]).
pub(crate) struct Settled {
    flag: Arc<AtomicBool>,
    beat: members::Heartbeat,
}

impl Settled {
    /// The daemon has restored what its directory holds: say so now.
    pub(crate) fn now(&self) {
        self.flag.store(true, Ordering::Release);
        self.beat.beat_now();
    }
}

/// Starts this member's heartbeat and its role; an error refuses the start.
pub(crate) fn join(
    link: &Arc<Link>,
    config: &Config,
    core: &Arc<Director>,
    block: u32,
) -> Result<Settled, DaemonError> {
    let allow = AllowRemote::from_caps(&config.other_caps)
        .map_err(|e| DaemonError::Config(format!("{}: {e}", config.dir.join("othercaps.cfg").display())))?;
    let notes = Arc::new(Notes::default());
    let flag = Arc::new(AtomicBool::new(false));
    let leading = config.convention_leader.as_deref() == Some(config.member_name.as_str());
    let publisher = leading.then(|| Publisher::new(link.clone()));
    let beat = heartbeat(link, config, core, notes.clone(), flag.clone(), block, publisher.clone())?;
    let name = config.member_name.clone();
    let records = transport::connect(link, core.system(), &name, block).map_err(DaemonError::Config)?;
    relay::serve(link, &name, core.clone(), records.clone()).map_err(DaemonError::Config)?;
    core.state().set_relay(Arc::new(NatsRelay { link: link.clone(), name: name.clone(), records }));
    let local = LocalPlacer { capabilities: config.other_caps.clone() };
    match publisher {
        Some(publisher) => lead(link, core, name, publisher, local)?,
        None => {
            let assigned = Assignments::default();
            core.state().set_placer(Arc::new(MemberPlacer { name: name.clone(), assigned: assigned.clone(), local }));
            let side = Arc::new(MemberSide {
                name,
                leader: config.convention_leader.clone(),
                allow,
                dir: config.dir.clone(),
                director: core.clone(),
                notes,
                from_leader: Arc::default(),
                assigned,
                running: Mutex::new(()),
            });
            deploy::serve_member(link, side.clone()).map_err(DaemonError::Config)?;
            converge::start(link, side).map_err(DaemonError::Config)?;
        }
    }
    Ok(Settled { flag, beat })
}

/// The leader: it places actors with `Requires` (and keeps them placed),
/// starts storing each package once verified, and after each new load asks
/// every other member (as listed now) to run it.
fn lead(
    link: &Arc<Link>,
    core: &Arc<Director>,
    name: String,
    publisher: Arc<Publisher>,
    local: LocalPlacer,
) -> Result<(), DaemonError> {
    let placer = Arc::new(LeaderPlacer { link: link.clone(), name: name.clone(), capabilities: local.capabilities });
    core.state().set_placer(placer.clone());
    let uploads = publisher.clone();
    core.state().on_verified(Arc::new(move |hash: &str, file: &std::path::Path| uploads.start(hash, file)));
    let deploying = link.clone();
    core.state().on_loaded(Arc::new(move |v: &NewVersion| {
        let Some(file_name) = v.file.file_name().map(|f| f.to_string_lossy().into_owned()) else { return };
        let placed = v.placed.iter().filter_map(|(class, p)| Some((class.clone(), p.member(&name)?))).collect();
        let req = RunRequest { leader: name.clone(), group: v.group.clone(), hash: v.hash.clone(), file_name, placed };
        deploy::deploy(deploying.clone(), publisher.clone(), req, v.file.clone());
    }));
    let (link, director) = (link.clone(), core.clone());
    std::thread::Builder::new()
        .name("thespian-placement".into())
        .spawn(move || placement::keep_placed(&link, &director, &placer))
        .map_err(|e| DaemonError::Config(format!("starting the placement thread: {e}")))?;
    Ok(())
}

/// Starts this member's heartbeat in the convention's membership bucket:
/// its name, pid, whether it leads, its capabilities, what it runs and
/// what it refused.
fn heartbeat(
    link: &Link,
    config: &Config,
    core: &Arc<Director>,
    notes: Arc<Notes>,
    settled: Arc<AtomicBool>,
    block: u32,
    publisher: Option<Arc<Publisher>>,
) -> Result<members::Heartbeat, DaemonError> {
    let name = config.member_name.clone();
    let leader = config.convention_leader.as_deref() == Some(name.as_str());
    let capabilities = actor_abi::Value::Map(config.other_caps.clone()).to_json();
    let director = core.clone();
    let record = move || {
        // One lock for both: the state mutex is not re-entrant.
        let (versions, mut packages, actors) = {
            let state = director.state();
            (state.version_summary(), state.packages(&name), state.placed_here())
        };
        // A leader's package is pending until it is stored: members fetch
        // it only then (and keep running it meanwhile, after a restart).
        if let Some(publisher) = &publisher {
            let stored = publisher.stored_among(&packages.iter().map(|p| p.hash.clone()).collect());
            packages.iter_mut().for_each(|p| p.pending = !stored.contains(&p.hash));
        }
        MemberRecord {
            name: name.clone(),
            pid: std::process::id(),
            leader,
            capabilities: capabilities.clone(),
            versions,
            refused: notes.refused(),
            unloaded: notes.unloaded(),
            packages,
            settled: settled.load(Ordering::Acquire),
            block,
            actors,
        }
    };
    let beat = members::start_heartbeat(link, record).map_err(|e| DaemonError::Config(e.to_string()))?;
    let on_change = beat.clone();
    core.state().on_change(Arc::new(move || on_change.beat_now()));
    Ok(beat)
}
