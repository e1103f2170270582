//! A pool of threads that run actors: one for host actors and one per
//! loaded package version, so a version's code only ever runs on threads
//! that are joined before its library is closed.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::engine::cell::ActorCell;
use crate::engine::state::EngineState;
use crate::remote::inbound::Inbound;

/// Work for a pool thread.
pub(crate) enum Task {
    /// Run a batch of an actor's messages.
    Run(Arc<ActorCell>),
    /// Run a closure on a pool thread (package init and shutdown hooks).
    Call(Box<dyn FnOnce() + Send>),
    /// Exit the thread.
    Stop,
}

/// A pool of actor threads.
pub(crate) struct Executor {
    id: u64,
    tx: Sender<Task>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

static NEXT_EXECUTOR: AtomicU64 = AtomicU64::new(1);

/// Tasks a pool thread queues for itself before it looks at the shared channel.
const LOCAL_BURST: usize = 64;

thread_local! {
    /// The pool this thread works for (0: none).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Actors this thread scheduled on its own pool: run here without a
    /// trip through the shared channel (a host thread-local: the host is
    /// never unloaded, so its TLS destructors are harmless).
    static LOCAL: RefCell<VecDeque<Arc<ActorCell>>> = const { RefCell::new(VecDeque::new()) };
}

impl Executor {
    /// Starts `threads` threads named `name-N`; idle, they poll `idle` (a
    /// ring from another process) before they park.
    pub(crate) fn start(
        name: &str,
        threads: usize,
        engine: &Arc<EngineState>,
        idle: Option<Arc<Inbound>>,
    ) -> std::io::Result<Executor> {
        let (tx, rx) = unbounded::<Task>();
        let id = NEXT_EXECUTOR.fetch_add(1, Ordering::Relaxed);
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let (engine, idle) = (Arc::downgrade(engine), idle.clone());
            let spawned = std::thread::Builder::new()
                .name(thread_name(name, i))
                .spawn(move || worker(id, &rx, &engine, idle.as_deref()));
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    let exec = Executor { id, tx, workers: Mutex::new(workers) };
                    exec.stop_and_join();
                    return Err(e);
                }
            }
        }
        Ok(Executor { id, tx, workers: Mutex::new(workers) })
    }

    /// Queues an actor to run: on this thread's local queue when this
    /// thread belongs to the pool, else on the shared channel.
    pub(crate) fn submit(&self, cell: Arc<ActorCell>) {
        if CURRENT.with(Cell::get) == self.id {
            LOCAL.with(|q| q.borrow_mut().push_back(cell));
            return;
        }
        // A send only fails once the pool is stopped; the cell is then
        // drained by whoever stops it.
        let _ = self.tx.send(Task::Run(cell));
    }

    /// Runs `f` on a pool thread and waits for its result.
    pub(crate) fn call<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let (rtx, rrx) = crossbeam_channel::bounded(1);
        let task = Task::Call(Box::new(move || {
            let _ = rtx.send(f());
        }));
        self.tx.send(task).ok()?;
        rrx.recv().ok()
    }

    /// Stops every thread and joins each one explicitly (an explicit join
    /// waits for the thread's TLS destructors, which can pin a library).
    pub(crate) fn stop_and_join(&self) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for _ in &workers {
            let _ = self.tx.send(Task::Stop);
        }
        let me = std::thread::current().id();
        for w in workers {
            if w.thread().id() != me {
                let _ = w.join();
            }
        }
    }
}

/// Thread names are cut to 15 bytes by Linux; keep the useful end.
fn thread_name(name: &str, i: usize) -> String {
    let suffix = format!("-{i}");
    let keep = 15usize.saturating_sub(suffix.len());
    let mut base: String = name.chars().take(keep).collect();
    base.push_str(&suffix);
    base
}

fn pop_local() -> Option<Arc<ActorCell>> {
    LOCAL.with(|q| q.borrow_mut().pop_front())
}

/// Runs up to [`LOCAL_BURST`] locally queued actors under one upgrade of
/// the system (an upgrade per actor was a measurable share of a ping-pong).
fn run_local_burst(engine: &std::sync::Weak<EngineState>) {
    let Some(first) = pop_local() else { return };
    let Some(strong) = engine.upgrade() else { return };
    crate::engine::dispatch::dispatch_batch(&strong, &first);
    for _ in 1..LOCAL_BURST {
        let Some(cell) = pop_local() else { break };
        crate::engine::dispatch::dispatch_batch(&strong, &cell);
    }
}

/// Runs one task; false for Stop.
fn run_task(task: Task, engine: &std::sync::Weak<EngineState>) -> bool {
    match task {
        Task::Run(cell) => {
            if let Some(engine) = engine.upgrade() {
                crate::engine::dispatch::dispatch_batch(&engine, &cell);
            }
        }
        Task::Call(f) => f(),
        Task::Stop => return false,
    }
    true
}

fn worker(id: u64, rx: &Receiver<Task>, engine: &std::sync::Weak<EngineState>, idle: Option<&Inbound>) {
    CURRENT.with(|c| c.set(id));
    let mut spinner = crate::spin::Spinner::new();
    loop {
        // Local work first, in bursts, then one look at the shared channel
        // so other threads' tasks are never starved by a local ping-pong.
        run_local_burst(engine);
        let local_left = LOCAL.with(|q| !q.borrow().is_empty());
        let woke = if local_left {
            rx.try_recv().map_or(Woke::Local, Woke::Task)
        } else {
            wait_for_work(rx, &mut spinner, idle)
        };
        let go_on = match woke {
            Woke::Local => true,
            Woke::Task(task) => run_task(task, engine),
            Woke::Closed => false,
        };
        if !go_on {
            break;
        }
    }
    // Whatever is still queued locally belongs to stopped actors; drop it here.
    LOCAL.with(|q| q.borrow_mut().clear());
    CURRENT.with(|c| c.set(0));
}

/// What an idle pool thread found.
enum Woke {
    /// A task from the shared channel.
    Task(Task),
    /// Work on this thread's local queue (messages taken from the ring).
    Local,
    /// The channel is closed.
    Closed,
}

/// Waits for a task; work often arrives right after the last, so the
/// thread polls (the channel, and `idle`'s ring) before it parks. While it
/// polls the ring, the peer rings no doorbell; after it stops polling it
/// looks at the ring once more, then parks on the channel (the reader
/// thread takes over the ring).
fn wait_for_work(rx: &Receiver<Task>, spinner: &mut crate::spin::Spinner, idle: Option<&Inbound>) -> Woke {
    let Some(inbound) = idle else {
        return spinner.wait(|| rx.try_recv().ok().map(Woke::Task), || rx.recv().map_or(Woke::Closed, Woke::Task));
    };
    let polling = inbound.polling();
    spinner.wait(
        || match rx.try_recv() {
            Ok(task) => Some(Woke::Task(task)),
            Err(_) => inbound.try_drain().then_some(Woke::Local),
        },
        move || {
            drop(polling);
            if inbound.try_drain() {
                return Woke::Local;
            }
            rx.recv().map_or(Woke::Closed, Woke::Task)
        },
    )
}
