//! Package versions in worker processes (issue 13, first part), through the
//! runtime's API with the real `thespian-director` binary as the worker
//! program: a signed package loads in a worker, its actors answer asks from
//! the starting system, a worker that aborts fails the ask waiting on it at
//! once while the starter keeps serving, and a stopped worker leaves no
//! process and no directory behind.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use actor_abi::value;
use common::{BIN, Env};
use runtime::tls::SourceAuthority;
use runtime::worker::{IsolatedVersion, WorkerExit, WorkerProgram};
use runtime::{ActorSystem, AskError, CreateActorError, SystemConfig};
use test_support::plugins;

const T: Duration = Duration::from_secs(30);

fn program() -> WorkerProgram {
    WorkerProgram { program: BIN.into(), args: Vec::new() }
}

fn system(root: &Path) -> ActorSystem {
    ActorSystem::start(SystemConfig::default().with_extract_root(root)).expect("a system starts")
}

/// Signs `group` 1 from a prebuilt example library and loads it in a worker.
fn isolated(env: &Env, system: &ActorSystem, group: &str, lib: &Path) -> IsolatedVersion {
    env.gensrc_with(group, lib, &["version:1"]).ok();
    let file = env.dir().join(format!("{group}-1.tls"));
    let (_, pkg) = SourceAuthority::new(env.dir()).stage_file(&file, system.extract_root()).expect("verified");
    IsolatedVersion::start(system, pkg, &program(), T).expect("loaded in a worker")
}

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_version_in_a_worker_answers_asks_and_stops_leaving_nothing_behind() {
    let env = Env::new();
    let root = tempfile::tempdir().unwrap();
    let system = system(root.path());
    let worker = isolated(&env, &system, "foo", &plugins().foo);
    let pid = worker.pid();
    assert_ne!(pid, std::process::id());
    assert!(worker.node() != system.node());
    assert_eq!(worker.info().classes, vec!["foo.fooactor".to_string(), "foo.subdir2.barn.cowactor".to_string()]);
    let foo = worker.create_actor("foo.fooactor").expect("created in the worker");
    assert_eq!(foo.node(), worker.node(), "{foo}");
    let pong = system.ask(&foo, value!({"ping": 5}), T).expect("an answer across the socket");
    assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(5), "{pong}");
    assert!(matches!(worker.create_actor("foo.nosuch"), Err(CreateActorError::Worker { .. })));

    assert!(matches!(worker.stop(T), WorkerExit::Exited(status) if status.success()));
    assert!(process_gone(pid), "the worker is reaped, not a zombie");
    assert_eq!(system.ask(&foo, value!({"ping": 6}), T), Err(AskError::NoRoute(foo)));
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the worker removed the version's directory: {left:?}");
}

#[test]
fn a_worker_that_aborts_fails_the_waiting_ask_at_once_and_the_starter_keeps_serving() {
    let env = Env::new();
    let root = tempfile::tempdir().unwrap();
    let system = system(root.path());
    let bad = isolated(&env, &system, "misbehave", &plugins().misbehave);
    let good = isolated(&env, &system, "foo", &plugins().foo);
    let actor = bad.create_actor("misbehave.Actor").expect("created");
    let foo = good.create_actor("foo.fooactor").expect("created");
    let started = Instant::now();
    let long = Duration::from_secs(600);
    assert_eq!(system.ask(&actor, "abort", long), Err(AskError::NodeLost(actor)), "not a timeout");
    assert!(started.elapsed() < long);
    let status = loop {
        if let Some(status) = bad.exit_status() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status}");
    let pong = system.ask(&foo, value!({"ping": 1}), T).expect("the other worker still answers");
    assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(1));
    assert!(matches!(good.stop(T), WorkerExit::Exited(_)));
}
