//! Test package `misbehave`: actors that do what makes unloading hard.
//!
//! `misbehave.Actor` answers:
//! - `{"panic": x}`: panics (every attempt is counted first);
//! - `"panic_attempts"`: how many times a panic message was attempted;
//! - `"tls"`: touches a `thread_local!` whose value has `Drop`;
//! - `"thread"`: starts a worker thread that the shutdown hook stops;
//! - `"log"`: logs one INFO line;
//! - `"alloc"`: keeps 64 MiB until the actor exits;
//! - `{"sleep_ms": n}`: blocks its thread for `n` milliseconds, then replies `"slept"`;
//! - `"ping"`: `"pong"`;
//! - `"abort"`: aborts the process (a package that crashes its host);
//! - `"segv"`: writes through a null pointer (SIGSEGV);
//! - `"stack"`: recurses without end (stack overflow);
//! - `"exit"`: calls `std::process::exit(3)`;
//! - `"spin"`: loops forever and never answers;
//! - `"oom"`: allocates 64 MiB blocks until an allocation is refused (only
//!   ever sent to a worker with a memory limit);
//! - `{"typed_poison": text}`: creates a child and sends it a typed `Bomb`
//!   holding `text`, which the child panics on; when the `PoisonMessage`
//!   comes back with the `Bomb` as its original, answers `"poisoned by TEXT"`;
//! - `"bomb_drops"`: how many `Bomb`s were dropped in this library;
//! - `{"write_fd": [fd, hex]}`: writes the bytes `hex` spells to descriptor
//!   `fd` of its process (-1: the first socket it has open; in a worker,
//!   that is its socket to the daemon: a package that forges frames), then
//!   answers `"written"`;
//! - `{"write_ring": hex}`: in a worker whose messages travel in shared
//!   memory, writes the bytes `hex` spells into the ring to the daemon as
//!   if they were frames (found through `/proc/self/maps`, behind the
//!   runtime's back), rings the doorbell, waits 300 ms (the runtime's next
//!   write lands over those bytes), then answers `"written"`.
//!
//! Its library constructor records the pid of every process that loads it
//! in `$THESPIAN_TEST_CTOR_MARK`, when that is set.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use actor_abi::prelude::*;

/// A library constructor (`.init_array`), as any native library may have:
/// when `THESPIAN_TEST_CTOR_MARK` names a file, it appends this process's
/// pid there. Packaging and inspecting a package must never run it; loading
/// the package does.
#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" fn constructor() {
    if let Some(path) = std::env::var_os("THESPIAN_TEST_CTOR_MARK") {
        use std::io::Write;
        let line = format!("{}\n", std::process::id());
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
        let _ = file.and_then(|mut f| f.write_all(line.as_bytes()));
    }
}

/// The text of the log line `"log"` writes.
pub const LOG_LINE: &str = "misbehave says hello";

struct Noisy(Vec<u8>);

impl Drop for Noisy {
    fn drop(&mut self) {
        self.0.clear();
    }
}

thread_local! {
    // `Noisy` has Drop, so std registers a TLS destructor on first use (the hazard).
    static TLS: RefCell<Noisy> = const { RefCell::new(Noisy(Vec::new())) };
}

struct Worker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

static WORKER: Mutex<Option<Worker>> = Mutex::new(None);

fn start_worker() -> bool {
    let Ok(mut slot) = WORKER.lock() else { return false };
    if slot.is_some() {
        return true;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spawned = std::thread::Builder::new().name("misbehave-worker".into()).spawn(move || {
        while !flag.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    match spawned {
        Ok(handle) => {
            *slot = Some(Worker { stop, handle });
            true
        }
        Err(_) => false,
    }
}

/// The package's shutdown hook: stops and joins the worker thread.
fn stop_worker() {
    let worker = WORKER.lock().ok().and_then(|mut slot| slot.take());
    if let Some(w) = worker {
        w.stop.store(true, Ordering::Release);
        let _ = w.handle.join();
    }
}

/// A typed message that makes its receiver panic; counts its drops.
struct Bomb(String);

static BOMB_DROPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for Bomb {
    fn drop(&mut self) {
        BOMB_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// `misbehave.Actor`.
#[derive(Default)]
struct Misbehave {
    panic_attempts: u64,
    ballast: Vec<u8>,
    bomb_asker: Option<Address>,
}

impl Misbehave {
    /// The typed-message cases; true if `msg` was one of them.
    fn typed(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) -> bool {
        if let Some(bomb) = msg.downcast_ref::<Bomb>() {
            panic!("exploded: {}", bomb.0);
        }
        if let Message::PoisonMessage { original, .. } = msg
            && let (Some(bomb), Some(asker)) = (original.downcast_ref::<Bomb>(), self.bomb_asker.take())
        {
            cx.send(&asker, format!("poisoned by {}", bomb.0));
            return true;
        }
        let Some(text) = msg.get("typed_poison").and_then(Value::as_str) else { return false };
        match cx.create_actor("misbehave.Actor") {
            Ok(child) => {
                self.bomb_asker = Some(from);
                cx.send_typed(&child, Bomb(text.to_string()));
            }
            Err(e) => cx.send(&from, e.to_string()),
        }
        true
    }
}

impl Actor for Misbehave {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if self.typed(cx, msg, from) {
            return;
        }
        if let Some(ms) = msg.get("sleep_ms").and_then(Value::as_i64) {
            std::thread::sleep(Duration::from_millis(ms.max(0) as u64));
            cx.send(&from, "slept");
            return;
        }
        if let Some(Value::List(args)) = msg.get("write_fd") {
            let reply = match (args.first().and_then(Value::as_i64), args.get(1).and_then(Value::as_str)) {
                (Some(-1), Some(hex)) => match first_socket() {
                    Some(fd) => write_fd(fd, hex),
                    None => "no socket open".into(),
                },
                (Some(fd), Some(hex)) => write_fd(fd as i32, hex),
                _ => "write_fd takes [fd, hex]".into(),
            };
            cx.send(&from, reply);
            return;
        }
        if let Some(hex) = msg.get("write_ring").and_then(Value::as_str) {
            cx.send(&from, write_ring(hex));
            return;
        }
        if let Some(what) = msg.get("panic") {
            self.panic_attempts += 1;
            panic!("asked to panic: {what}");
        }
        let reply: Value = match msg.as_str() {
            Some("panic_attempts") => self.panic_attempts.into(),
            Some("tls") => {
                TLS.with(|t| t.borrow_mut().0.push(1));
                "tls touched".into()
            }
            Some("thread") => if start_worker() { "thread started" } else { "thread failed" }.into(),
            Some("log") => {
                info!("{LOG_LINE}");
                "logged".into()
            }
            Some("alloc") => {
                self.ballast = vec![7u8; 64 << 20];
                "allocated".into()
            }
            Some("ping") => "pong".into(),
            // Takes the whole process down, as a crashing package does.
            Some("abort") => std::process::abort(),
            Some("segv") => segv(),
            Some("stack") => recurse(0).into(),
            Some("exit") => std::process::exit(3),
            Some("spin") => loop {
                std::hint::spin_loop();
            },
            Some("oom") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 64 << 20]));
                }
            }
            Some("reply_twice") => {
                cx.send(&from, "first");
                "second".into()
            }
            Some("bomb_drops") => BOMB_DROPS.load(Ordering::SeqCst).into(),
            _ => return,
        };
        cx.send(&from, reply);
    }
}

export_actors! {
    "misbehave.Actor" => Misbehave;
    shutdown = stop_worker
}

/// Writes through a null pointer: a package with a memory bug.
fn segv() -> ! {
    let p: *mut u8 = std::hint::black_box(std::ptr::null_mut());
    // SAFETY: none; this is the bug the test package exists to have. The
    // write is volatile so it happens, and the process dies of SIGSEGV.
    unsafe { p.write_volatile(1) };
    unreachable!("a write through null returned")
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// Writes the bytes `hex` spells to descriptor `fd`, which stays open.
fn write_fd(fd: i32, hex: &str) -> Value {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let Some(bytes) = unhex(hex) else { return "not hex".into() };
    // SAFETY: none needed for memory: the File is never dropped
    // (ManuallyDrop), so the descriptor, whatever it is, stays open; a bad
    // one makes the write fail. Writing to a descriptor the package does
    // not own is the misbehaviour this message exists for.
    let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    match file.write_all(&bytes) {
        Ok(()) => "written".into(),
        Err(e) => format!("write failed: {e}").into(),
    }
}

/// The layout `runtime::remote::ring` documents: a page of headers, the
/// daemon-to-worker ring, then the worker-to-daemon ring (index 1), whose
/// write position is the first word of the second 256-byte header.
const RING_BYTES: usize = 1 << 20;
const RING1_TAIL: usize = 256;
const RING1_DATA: usize = 4096 + RING_BYTES;

/// Writes the bytes `hex` spells into the worker-to-daemon ring, moves its
/// write position past them and rings the doorbell (its first socket).
fn write_ring(hex: &str) -> Value {
    let Some(bytes) = unhex(hex) else { return "not hex".into() };
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let line = maps.lines().find(|l| l.contains("/memfd:thespian-worker"));
    let Some(start) = line.and_then(|l| l.split('-').next()).and_then(|a| usize::from_str_radix(a, 16).ok()) else {
        return "no shared ring in this process".into();
    };
    let base = start as *mut u8;
    // SAFETY: `base` is the start of the runtime's live shared mapping
    // (2 MiB + a page, read and write, mapped for the life of the worker);
    // every offset below stays inside it. Scribbling on it behind the
    // runtime's back is the misbehaviour this message exists for.
    unsafe {
        let tail = &*base.add(RING1_TAIL).cast::<std::sync::atomic::AtomicU64>();
        let mut at = tail.load(Ordering::Acquire);
        for b in &bytes {
            base.add(RING1_DATA + (at as usize % RING_BYTES)).write_volatile(*b);
            at += 1;
        }
        tail.store(at, Ordering::Release);
    }
    let rang = match first_socket() {
        Some(fd) => write_fd(fd, "01"),
        None => "no socket open".into(),
    };
    // The runtime's own next write (this answer) starts where it left off,
    // over these bytes: give the daemon time to read them first.
    std::thread::sleep(Duration::from_millis(300));
    rang
}

/// The lowest descriptor of this process that is a socket.
fn first_socket() -> Option<i32> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    let mut fds: Vec<i32> = entries
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")))
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds.first().copied()
}

/// Recurses until the stack runs out.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1).wrapping_add(frame[0])
}
