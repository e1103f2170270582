//! A pool of threads that run actors: one for host actors and one per
//! loaded package version, so a version's code only ever runs on threads
//! that are joined before its library is closed.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::cell::ActorCell;
use crate::system::Shared;

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
    tx: Sender<Task>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Executor {
    /// Starts `threads` threads named `name-N`.
    pub(crate) fn start(name: &str, threads: usize, shared: &Arc<Shared>) -> std::io::Result<Executor> {
        let (tx, rx) = unbounded::<Task>();
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let shared = Arc::downgrade(shared);
            let spawned = std::thread::Builder::new().name(thread_name(name, i)).spawn(move || worker(&rx, &shared));
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    let exec = Executor { tx, workers: Mutex::new(workers) };
                    exec.stop_and_join();
                    return Err(e);
                }
            }
        }
        Ok(Executor { tx, workers: Mutex::new(workers) })
    }

    /// Queues an actor to run.
    pub(crate) fn submit(&self, cell: Arc<ActorCell>) {
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

fn worker(rx: &Receiver<Task>, shared: &std::sync::Weak<Shared>) {
    while let Ok(task) = rx.recv() {
        match task {
            Task::Run(cell) => {
                if let Some(shared) = shared.upgrade() {
                    crate::run::run_batch(&shared, &cell);
                }
            }
            Task::Call(f) => f(),
            Task::Stop => break,
        }
    }
}
