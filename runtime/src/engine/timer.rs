//! One thread that fires wakeups and ask timeouts at their deadlines.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actor_abi::{Address, Message, Value};

use crate::engine::payload::Payload;
use crate::engine::reply::ReplySlot;
use crate::engine::state::EngineState;
use crate::error::AskError;

/// What happens when a deadline passes.
pub(crate) enum TimerAction {
    /// Deliver a `WakeupMessage` to an actor.
    Wakeup { to: Address, payload: Value },
    /// Fail an ask that got no reply.
    AskTimeout { slot: Weak<ReplySlot>, target: Address, after: Duration },
}

struct Entry {
    at: Instant,
    seq: u64,
    action: TimerAction,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    stopping: bool,
}

/// The timer thread and its queue.
#[derive(Default)]
pub(crate) struct Timer {
    state: Mutex<State>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timer {
    /// Starts the timer thread.
    pub(crate) fn start(self: &Arc<Self>, engine: Weak<EngineState>) -> std::io::Result<()> {
        let me = self.clone();
        let h = std::thread::Builder::new().name("thespian-timer".into()).spawn(move || me.run(&engine))?;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
        Ok(())
    }

    /// Schedules `action` after `delay`.
    pub(crate) fn after(&self, delay: Duration, action: TimerAction) {
        let at = Instant::now().checked_add(delay).unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365));
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.seq += 1;
        let seq = s.seq;
        s.heap.push(Reverse(Entry { at, seq, action }));
        self.changed.notify_one();
    }

    /// Stops and joins the timer thread; pending actions are dropped.
    pub(crate) fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).stopping = true;
        self.changed.notify_all();
        if let Some(h) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }

    fn run(&self, engine: &Weak<EngineState>) {
        loop {
            let due = {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if s.stopping {
                        return;
                    }
                    let now = Instant::now();
                    match s.heap.peek() {
                        Some(Reverse(e)) if e.at <= now => break s.heap.pop().map(|Reverse(e)| e.action),
                        Some(Reverse(e)) => {
                            let wait = e.at - now;
                            s = self.changed.wait_timeout(s, wait).unwrap_or_else(|p| p.into_inner()).0;
                        }
                        None => s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
                    }
                }
            };
            if let (Some(action), Some(engine)) = (due, engine.upgrade()) {
                fire(&engine, action);
            }
        }
    }
}

fn fire(engine: &Arc<EngineState>, action: TimerAction) {
    match action {
        TimerAction::Wakeup { to, payload } => {
            crate::engine::route::route(engine, to, to, Payload::native(Message::WakeupMessage { payload }));
        }
        TimerAction::AskTimeout { slot, target, after } => {
            if let Some(slot) = slot.upgrade() {
                slot.complete(Err(AskError::Timeout { target, after }));
            }
        }
    }
}

#[cfg(test)]
#[path = "timer_tests.rs"]
mod tests;
