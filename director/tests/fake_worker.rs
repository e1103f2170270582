//! Fake worker processes that speak the worker protocol badly (issue 13,
//! item 3): every frame from a worker is hostile input. A worker that
//! writes garbage instead of its hello, or says hello as another node, is
//! refused and reaped; one that, once loaded, sends a message as an actor
//! of another node is dropped, and its pending request fails. The starting
//! system keeps serving throughout.

mod common;

use std::time::Duration;

use actor_abi::{Actor, Address, Context, Message, Value};
use common::{Env, Starter, capture_logs, count_logged, wait_logged};
use runtime::LoadError;
use runtime::tls::SourceAuthority;
use runtime::worker::{IsolatedVersion, WorkerProgram, WorkerTransport};
use test_support::plugins;

const T: Duration = Duration::from_secs(30);

/// Both ways a worker's frames travel.
const TRANSPORTS: [WorkerTransport; 2] = [WorkerTransport::Socket, WorkerTransport::SharedMemory];

/// A fake worker in Python: `script` runs with `s`, the socket (its stdin),
/// `node` (its node number), and helpers in scope: `send(bytes)` (on the
/// socket, or into the shared ring with a doorbell), `frame(kind, body)`,
/// `ctl(op, body)`, `addr(node, home, id)`, `text(t)`, and
/// `hello_and_loaded()` (a correct hello, and a load answered as done).
/// Over shared memory it first tries to shrink the region (which would
/// make the starter's next read a SIGBUS): the seal must refuse it.
fn fake(script: &str, transport: WorkerTransport) -> WorkerProgram {
    let prelude = r#"
import mmap, os, socket, struct, sys, time
s = socket.socket(fileno=0)
node = int(os.environ["THESPIAN_WORKER_NODE"])
RING = 1 << 20
if "THESPIAN_WORKER_RING" in os.environ:
    _, fds, _, _ = socket.recv_fds(s, 1, 1)
    try:
        os.ftruncate(fds[0], 4096)
    except OSError:
        pass
    m = mmap.mmap(fds[0], int(os.environ["THESPIAN_WORKER_RING"]))
    tail = 0
def send(b):
    global tail
    if "THESPIAN_WORKER_RING" not in os.environ:
        return s.sendall(b)
    while b:
        head = struct.unpack_from("<Q", m, 256 + 128)[0]
        room = RING - (tail - head)
        if room == 0:
            time.sleep(0.001)
            continue
        at = tail % RING
        n = min(len(b), room, RING - at)
        m[4096 + RING + at:4096 + RING + at + n] = b[:n]
        tail += n
        b = b[n:]
        struct.pack_into("<Q", m, 256, tail)
        s.send(b"\x01")
def frame(kind, body):
    b = bytes([1, kind]) + body
    send(struct.pack("<I", len(b)) + b)
def ctl(op, body=b""):
    frame(2, bytes([op]) + body)
def addr(node, home, id):
    return struct.pack("<QII", id, home, node)
def text(t):
    b = t.encode()
    return struct.pack("<I", len(b)) + b
def hello_and_loaded():
    ctl(1, struct.pack("<II", node, os.getpid()))
    ctl(3, struct.pack("<I", 1) + text("/nowhere") + struct.pack("<I", 0))
"#;
    WorkerProgram {
        program: "python3".into(),
        args: vec!["-c".into(), format!("{prelude}\n{script}").into()],
        transport,
        ..WorkerProgram::default()
    }
}

struct Echo;

impl Actor for Echo {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if let Some(v) = msg.value() {
            cx.send(&from, v.clone());
        }
    }
}

/// A starter with foo 1 signed and an echo host actor.
fn starter() -> (Starter, Address) {
    let s = Starter::new();
    s.env.gensrc_with("foo", &plugins().foo, &["version:1"]).ok();
    let echo = s.system.create_host_actor(Echo);
    (s, echo)
}

fn try_start(env: &Env, system: &runtime::ActorSystem, program: &WorkerProgram) -> Result<IsolatedVersion, LoadError> {
    let file = env.dir().join("foo-1.tls");
    let (_, pkg) = SourceAuthority::new(env.dir()).stage_file(&file, system.extract_root()).expect("verified");
    IsolatedVersion::start(system, pkg, program, Duration::from_secs(5))
}

fn entries(dir: &std::path::Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect()
}

#[test]
fn a_worker_that_writes_garbage_or_lies_about_its_node_is_refused_and_reaped() {
    let (Starter { system, env, root }, echo) = &starter();
    let cases = [
        ("garbage", "send(b'\\x06\\0\\0\\0\\x09\\x01' + b'\\0' * 4); time.sleep(30)", "protocol version 9"),
        ("huge frame", "send(struct.pack('<I', 0xffffffff)); time.sleep(30)", "frame length 4294967295"),
        ("another node's hello", "ctl(1, struct.pack('<II', node + 1, os.getpid())); time.sleep(30)", "expected hello"),
        ("silence", "time.sleep(30)", "no answer within"),
    ];
    for (what, script, why) in cases {
        for transport in TRANSPORTS {
            let what = &format!("{what} ({transport:?})");
            refused(env, system, &fake(script, transport), what, why);
            assert_eq!(
                system.ask(echo, what.as_str(), T),
                Ok(Value::from(what.as_str())),
                "{what}: the starter keeps serving"
            );
            assert!(entries(root.path()).is_empty(), "{what}: nothing staged is left: {:?}", entries(root.path()));
        }
    }
}

#[test]
fn a_worker_that_breaks_the_shared_ring_is_refused_and_reaped() {
    let (Starter { system, env, root }, echo) = &starter();
    let cases = [
        ("a write position past the ring", "struct.pack_into('<Q', m, 256, 1 << 40); s.send(b'\\x01'); time.sleep(30)"),
        (
            "a read position past what was written",
            "struct.pack_into('<Q', m, 128, 1 << 40); ctl(1, struct.pack('<II', node, os.getpid())); time.sleep(30)",
        ),
    ];
    for (what, script) in cases {
        refused(env, system, &fake(script, WorkerTransport::SharedMemory), what, "shared ring is corrupt");
        assert_eq!(system.ask(echo, what, T), Ok(Value::from(what)), "{what}: the starter keeps serving");
        assert!(entries(root.path()).is_empty(), "{what}: nothing staged is left: {:?}", entries(root.path()));
    }
}

/// Asserts that starting `program` fails for a reason that contains `why`.
fn refused(env: &Env, system: &runtime::ActorSystem, program: &WorkerProgram, what: &str, why: &str) {
    match try_start(env, system, program) {
        Err(LoadError::Worker { reason, .. }) => assert!(reason.contains(why), "{what}: {reason}"),
        Err(other) => panic!("{what}: refused for the wrong reason: {other}"),
        Ok(_) => panic!("{what}: the fake worker was accepted"),
    }
}

#[test]
fn a_loaded_worker_that_forges_a_sender_is_dropped_and_its_request_fails() {
    let (Starter { system, env, .. }, echo) = &starter();
    // Says hello, answers the load, then sends a value "from" an actor of
    // the starter's node (0) to the echo, and waits.
    let script = r#"
hello_and_loaded()
ECHO = [int(x) for x in sys.argv[1:4]]
time.sleep(0.2)
frame(1, struct.pack("<I", 1) + addr(0, 0, 999) + addr(ECHO[0], ECHO[1], ECHO[2]) + bytes([1]) + struct.pack("<I", 1) + bytes([0]))
time.sleep(30)
"#;
    for transport in TRANSPORTS {
        let mut program = fake(script, transport);
        program.args.extend([echo.node(), echo.home()].map(|n| n.to_string().into()));
        program.args.push(echo.id().to_string().into());
        let worker = try_start(env, system, &program).expect("the fake says hello and answers the load");
        let dropped = worker.wait_exit(Duration::from_millis(1));
        assert!(dropped.is_none(), "the fake is still running when its forgery arrives");
        let r = worker.create_actor("foo.fooactor");
        assert!(matches!(r, Err(runtime::CreateActorError::Worker { .. })), "{transport:?}: {r:?}");
        assert_eq!(system.ask(echo, "still here", T), Ok(Value::from("still here")));
        assert_eq!(system.dead_letters(), 0, "{transport:?}: the forged value was never delivered");
    }
}

#[test]
fn a_worker_that_floods_its_log_and_output_is_held_to_a_budget() {
    capture_logs();
    let (Starter { system, env, .. }, echo) = &starter();
    // Says hello, answers the load, then floods: 20,000 log records and
    // 20,000 printed lines, one more of each a second later.
    let script = r#"
hello_and_loaded()
def log(i):
    ctl(8, bytes([3]) + text("flood") + text("record %d" % i) + addr(0, 0, 0))
for i in range(20000):
    log(i)
    print("printed %d" % i)
sys.stdout.flush()
time.sleep(1.2)
log(-1)
print("printed -1", flush=True)
time.sleep(30)
"#;
    let worker = try_start(env, system, &fake(script, WorkerTransport::Socket))
        .expect("the fake says hello and answers the load");
    let node = format!("node {}: ", worker.node());
    for source in ["log records", "output"] {
        wait_logged(&format!("the drop report of the {source}"), |r| {
            r.message.contains(source) && r.message.contains("lines over budget were dropped")
        });
    }
    let records = count_logged(|r| r.target == "flood");
    let printed = count_logged(|r| r.target == "thespian::worker" && r.message.contains("printed"));
    assert!(count_logged(|r| r.message.contains(&node)) > 0, "the lines name the worker's node");
    eprintln!("logged {records} records and {printed} printed lines of 20,001 each");
    // The flood takes at most a few seconds: a few budgets of 1,000 lines.
    assert!(records < 10_000, "{records} of 20,001 records were logged");
    assert!(printed < 10_000, "{printed} of 20,001 printed lines were logged");
    assert_eq!(system.ask(echo, "still here", T), Ok(Value::from("still here")));
    drop(worker);
}
