//! Package versions in worker processes (issue 13, first part), through the
//! runtime's API with the real `thespian-director` binary as the worker
//! program: a signed package loads in a worker, its actors answer asks from
//! the starting system, a worker that aborts fails the ask waiting on it at
//! once while the starter keeps serving, and a stopped worker leaves no
//! process and no directory behind.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use actor_abi::value;
use common::{Starter, capture_logs, isolated, start, wait_logged, worker_program as program};
use runtime::worker::{IsolatedVersion, WorkerExit, WorkerLimits, WorkerProgram};
use runtime::{AskError, CreateActorError};
use test_support::plugins;

const T: Duration = Duration::from_secs(30);

/// Waits for the worker to end and reap it.
fn exit_of(worker: &IsolatedVersion) -> std::process::ExitStatus {
    let deadline = Instant::now() + T;
    loop {
        if let Some(status) = worker.exit_status() {
            return status;
        }
        assert!(Instant::now() < deadline, "the worker did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_version_in_a_worker_answers_asks_and_stops_leaving_nothing_behind() {
    let Starter { system, env, root } = &Starter::new();
    let worker = isolated(env, system, "foo", &plugins().foo);
    let pid = worker.pid();
    assert_ne!(pid, std::process::id());
    assert!(worker.node() != system.node());
    assert_eq!(worker.info().classes, vec!["foo.fooactor".to_string(), "foo.subdir2.barn.cowactor".to_string()]);
    let foo = worker.create_actor("foo.fooactor").expect("created in the worker");
    assert_eq!(foo.node(), worker.node(), "{foo}");
    let pong = system.ask(&foo, value!({"ping": 5}), T).expect("an answer across the socket");
    assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(5), "{pong}");
    assert!(matches!(worker.create_actor("foo.nosuch"), Err(CreateActorError::Worker { .. })));
    let hello = actor_abi::Message::Value(value!({"ping": 9}));
    assert_eq!(system.tell_delivered(&foo, hello, T), Ok(()), "OnLoad-style delivery waits work across");
    // A session of its own, no controlling terminal, nothing on stdin (its
    // socket came as stdin and was moved off it).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    assert_eq!((fields[3], fields[4]), (pid.to_string().as_str(), "0"), "session and tty: {stat}");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(), std::path::Path::new("/dev/null"));

    assert!(matches!(worker.stop(T), WorkerExit::Exited(status) if status.success()));
    assert!(process_gone(pid), "the worker is reaped, not a zombie");
    assert_eq!(system.ask(&foo, value!({"ping": 6}), T), Err(AskError::NoRoute(foo)));
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the worker removed the version's directory: {left:?}");
}

#[test]
fn a_starter_in_another_node_block_numbers_its_worker_in_it_and_tracked_deliveries_come_back() {
    // A convention member's system takes a node block of its own; its
    // workers must answer it there, not node 0.
    let root = tempfile::tempdir().unwrap();
    let config = runtime::SystemConfig::default().with_extract_root(root.path());
    let system = runtime::ActorSystem::start(config.with_node(runtime::remote::block_start(3))).expect("a system");
    let env = common::Env::new();
    let worker = isolated(&env, &system, "foo", &plugins().foo);
    assert_eq!(runtime::remote::block_of(worker.node()), 3, "numbered in the starter's block");
    let foo = worker.create_actor("foo.fooactor").expect("created in the worker");
    let hello = actor_abi::Message::Value("hello".into());
    assert_eq!(system.tell_delivered(&foo, hello, T), Ok(()), "the worker reports the delivery to its starter's node");
    assert_eq!(system.ask(&foo, value!({"ping": 2}), T).ok().and_then(|v| v.get("pong").cloned()), Some(2.into()));
    assert_eq!(system.dead_letters(), 0);
    assert!(matches!(worker.stop(T), WorkerExit::Exited(status) if status.success()));
}

#[test]
fn a_worker_that_aborts_fails_the_waiting_ask_at_once_and_the_starter_keeps_serving() {
    let Starter { system, env, .. } = &Starter::new();
    let bad = isolated(env, system, "misbehave", &plugins().misbehave);
    let good = isolated(env, system, "foo", &plugins().foo);
    let actor = bad.create_actor("misbehave.Actor").expect("created");
    let foo = good.create_actor("foo.fooactor").expect("created");
    let (told, exit_told) = std::sync::mpsc::channel();
    bad.on_exit(move |status| {
        let _ = told.send(status);
    });
    let started = Instant::now();
    let long = Duration::from_secs(600);
    assert_eq!(system.ask(&actor, "abort", long), Err(AskError::NodeLost(actor)), "not a timeout");
    assert!(started.elapsed() < long);
    let status = exit_told.recv_timeout(T).expect("the exit callback ran");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status}");
    assert_eq!(bad.exit_status(), Some(status));
    let pong = system.ask(&foo, value!({"ping": 1}), T).expect("the other worker still answers");
    assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(1));
    assert!(matches!(good.stop(T), WorkerExit::Exited(_)));
}

/// How a crash must show in the worker's exit status.
fn died_as(msg: &str, status: std::process::ExitStatus) -> bool {
    match msg {
        "exit" => status.code() == Some(3),
        "segv" => status.signal() == Some(libc::SIGSEGV),
        // Rust reports a stack overflow and aborts; a guard page hit
        // outside its handler is a plain SIGSEGV.
        "stack" => matches!(status.signal(), Some(libc::SIGABRT | libc::SIGSEGV)),
        // A refused allocation makes Rust abort.
        _ => status.signal() == Some(libc::SIGABRT),
    }
}

#[test]
fn each_way_a_package_can_kill_its_process_ends_only_its_worker() {
    let Starter { system, env, .. } = &Starter::new();
    let good = isolated(env, system, "foo", &plugins().foo);
    let foo = good.create_actor("foo.fooactor").expect("created");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let limited =
        WorkerProgram { limits: WorkerLimits { memory_mib: Some(768), ..WorkerLimits::default() }, ..program() };
    for msg in ["abort", "segv", "stack", "exit", "oom"] {
        let bad = start(env, system, "misbehave", &limited);
        let actor = bad.create_actor("misbehave.Actor").expect("created");
        assert_eq!(system.ask(&actor, "ping", T), Ok("pong".into()));
        let long = Duration::from_secs(600);
        assert_eq!(system.ask(&actor, msg, long), Err(AskError::NodeLost(actor)), "{msg}: an error, not a timeout");
        let status = exit_of(&bad);
        assert!(died_as(msg, status), "{msg}: the worker ended with {status}");
        let pong = system.ask(&foo, value!({"ping": 7}), T).expect("the other worker still answers");
        assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(7), "{msg}");
    }
    assert!(matches!(good.stop(T), WorkerExit::Exited(_)));
}

#[test]
fn a_handler_that_spins_times_out_and_its_worker_ends_itself_after_the_drain() {
    let Starter { system, env, .. } = &Starter::new();
    let spinner = isolated(env, system, "misbehave", &plugins().misbehave);
    let pid = spinner.pid();
    let actor = spinner.create_actor("misbehave.Actor").expect("created");
    let r = system.ask(&actor, "spin", Duration::from_secs(1));
    assert!(matches!(r, Err(AskError::Timeout { .. })), "{r:?}");
    // The drain gives up on the spinning handler after 500 ms; the worker
    // then reports, shuts down and exits, its spinning thread with it.
    let (exit, undelivered) = spinner.stop_draining(Duration::from_millis(500));
    assert!(matches!(exit, WorkerExit::Exited(_)), "{exit:?}");
    assert_eq!(undelivered, 0, "the spin had started: nothing was left queued");
    assert!(process_gone(pid), "ended and reaped");
}

/// Tells the test about every child that exits.
struct Parent(std::sync::mpsc::Sender<actor_abi::Address>);

impl actor_abi::Actor for Parent {
    fn receive(&mut self, _cx: &mut actor_abi::Context<'_>, msg: &actor_abi::Message, _from: actor_abi::Address) {
        if let actor_abi::Message::ChildActorExited { child } = msg {
            let _ = self.0.send(*child);
        }
    }
}

#[test]
fn global_names_and_parents_reach_across_to_worker_actors() {
    let Starter { system, env, .. } = &Starter::new();
    let worker = isolated(env, system, "foo", &plugins().foo);
    let (exits, exited) = std::sync::mpsc::channel();
    let parent = system.create_host_actor(Parent(exits));
    let options = runtime::CreateOptions { global_name: Some("InWorker".into()), parent: Some(parent) };
    let foo = worker.create_actor_with("foo.fooactor", options).expect("created with a parent across");
    assert!(system.assign_global_name("MainFoo", &foo), "a worker actor can carry a name of the starter");
    assert_eq!(system.lookup_name("MainFoo"), Some(foo));
    let pong = system.ask(&system.lookup_name("MainFoo").unwrap(), value!({"ping": 2}), T).unwrap();
    assert_eq!(pong.get("pong").and_then(|v| v.as_i64()), Some(2));

    system.tell_message(&foo, actor_abi::Message::ActorExitRequest);
    assert_eq!(exited.recv_timeout(T), Ok(foo), "the parent on the starter heard its child exit");

    let again = worker.create_actor("foo.fooactor").expect("created");
    assert!(system.assign_global_name("MainFoo", &again));
    assert!(matches!(worker.stop(T), WorkerExit::Exited(_)));
    assert_eq!(system.lookup_name("MainFoo"), None, "the name went with the worker");
}

#[test]
fn a_worker_packages_log_lines_reach_the_starters_logger_with_the_actor() {
    capture_logs();
    let Starter { system, env, .. } = &Starter::new();
    let worker = isolated(env, system, "misbehave", &plugins().misbehave);
    let actor = worker.create_actor("misbehave.Actor").expect("created");
    system.tell_delivered(&actor, actor_abi::Message::Value("log".into()), T).expect("handled");
    // Log records travel on the same stream after the handler's report,
    // so wait for this actor's line.
    let line = wait_logged(&format!("a line from {actor}"), |r| r.actor == actor.to_string());
    assert_eq!(
        (line.level, line.target.as_str(), line.message.as_str()),
        (log::Level::Info, "misbehave", "misbehave says hello")
    );
    assert!(line.actor.ends_with(&format!("@{}", worker.node())), "{}", line.actor);
}

#[test]
fn what_a_dying_worker_prints_reaches_the_starters_log() {
    capture_logs();
    let Starter { system, env, .. } = &Starter::new();
    let bad = isolated(env, system, "misbehave", &plugins().misbehave);
    let pid = bad.pid();
    let actor = bad.create_actor("misbehave.Actor").expect("created");
    assert_eq!(system.ask(&actor, "stack", Duration::from_secs(600)), Err(AskError::NodeLost(actor)));
    let prefix = format!("worker {pid} (node {}): ", bad.node());
    wait_logged(&format!("the stack overflow of worker {pid}"), |r| {
        r.target == "thespian::worker" && r.message.starts_with(&prefix) && r.message.contains("overflowed its stack")
    });
}
