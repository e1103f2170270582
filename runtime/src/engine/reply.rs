//! Reply slots: where the answer to one `ask` lands.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use actor_abi::{Address, Value};

use crate::engine::cell::{ActorCell, ActorObject, CellKind, CellSpec};
use crate::engine::state::EngineState;
use crate::engine::timer::TimerAction;

thread_local! {
    /// The spin budget of asks made on this thread (a host thread-local
    /// without a destructor: the host is never unloaded).
    static ASKER_SPIN: std::cell::Cell<crate::spin::Spinner> = const { std::cell::Cell::new(crate::spin::Spinner::new()) };
}
use crate::error::AskError;

#[derive(Default)]
struct SlotState {
    result: Option<Result<Value, AskError>>,
    waker: Option<Waker>,
    /// A thread sleeps on the condvar (so only then is it worth a wake-up
    /// call: std's notify always makes one).
    sleeping: bool,
}

/// The one-shot destination of an ask.
pub(crate) struct ReplySlot {
    state: Mutex<SlotState>,
    ready: Condvar,
    /// Set once there is an outcome, for a waiter that spins before it sleeps.
    done: AtomicBool,
    /// The actor asked ([`Address::NOBODY`] when the slot waits on a delivery):
    /// an unload of its version fails the ask at once.
    pub(crate) target: Address,
}

impl Default for ReplySlot {
    fn default() -> Self {
        ReplySlot::awaiting(Address::NOBODY)
    }
}

impl ReplySlot {
    /// A slot for the answer of `target`.
    pub(crate) fn awaiting(target: Address) -> ReplySlot {
        ReplySlot { state: Mutex::default(), ready: Condvar::new(), done: AtomicBool::new(false), target }
    }

    /// Sets the outcome once; later outcomes are ignored.
    pub(crate) fn complete(&self, result: Result<Value, AskError>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.result.is_some() {
            return;
        }
        s.result = Some(result);
        self.done.store(true, Ordering::Release);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        if s.sleeping {
            self.ready.notify_all();
        }
    }

    /// Blocks until there is an outcome or `deadline` passes.
    pub(crate) fn wait_until(&self, deadline: Instant) -> Option<Result<Value, AskError>> {
        // An answer often comes within microseconds: look before sleeping
        // (each asking thread keeps its own spin budget).
        let mut spinner = ASKER_SPIN.get();
        spinner.wait(|| self.done.load(Ordering::Acquire).then_some(()), || self.sleep_until(deadline));
        ASKER_SPIN.set(spinner);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.result.take()
    }

    /// Sleeps until there is an outcome or `deadline` passes (the outcome
    /// stays in the slot).
    fn sleep_until(&self, deadline: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if s.result.is_some() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            s.sleeping = true;
            s = self.ready.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
            s.sleeping = false;
        }
    }

    fn poll_result(&self, waker: &Waker) -> Option<Result<Value, AskError>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = s.result.take() {
            return Some(r);
        }
        s.waker = Some(waker.clone());
        None
    }
}

/// Opens the reply slot of an ask of `target`: a cell with an address of its
/// own, so that the answer is routed like any message.
pub(crate) fn open_slot(engine: &EngineState, target: Address) -> (Address, Arc<ReplySlot>) {
    let slot = Arc::new(ReplySlot::awaiting(target));
    let addr = engine.new_address(0);
    engine.table.insert(ActorCell::new(CellSpec {
        addr,
        kind: CellKind::Reply(slot.clone()),
        class: "ask".into(),
        parent: None,
        global_name: None,
        object: ActorObject::Stopped,
    }));
    (addr, slot)
}

/// Removes a slot that nobody completed (its asker gave up waiting);
/// whoever completes a slot removes it first, so only a timeout needs this.
pub(crate) fn abandon(engine: &EngineState, addr: Address) {
    engine.table.remove(addr.id());
}

/// Opens a slot for an async ask of `target`, whose timeout the engine's
/// timer enforces.
pub(crate) fn open_async(engine: &Arc<EngineState>, target: Address, timeout: Duration) -> AskFuture {
    let (addr, slot) = open_slot(engine, target);
    let action = TimerAction::AskTimeout { slot: Arc::downgrade(&slot), target, after: timeout };
    engine.timer.after(timeout, action);
    AskFuture { slot, addr, engine: Arc::downgrade(engine) }
}

/// Ends every ask still waiting whose slot `waiting` picks: its reply
/// address leaves the table (a late answer is then a dead letter) and the
/// asker gets the error `why` gives.
pub(crate) fn fail_waiting(
    engine: &EngineState,
    waiting: impl Fn(&ReplySlot) -> bool,
    why: impl Fn(&ReplySlot) -> AskError,
) {
    let picked = engine.table.select(|c| matches!(&c.kind, CellKind::Reply(slot) if waiting(slot)));
    for cell in picked {
        if let (Some(_), CellKind::Reply(slot)) = (engine.table.remove(cell.addr.id()), &cell.kind) {
            slot.complete(Err(why(slot)));
        }
    }
}

/// An ask whose message is already queued for its target, waited for
/// later: see [`ActorSystem::send_ask`](crate::ActorSystem::send_ask).
/// Dropping it unwaited gives the ask up (a late answer is a dead letter).
pub struct PendingAsk {
    slot: Arc<ReplySlot>,
    addr: Address,
    target: Address,
    engine: Weak<EngineState>,
}

impl PendingAsk {
    pub(crate) fn new(engine: &Arc<EngineState>, target: Address) -> PendingAsk {
        let (addr, slot) = open_slot(engine, target);
        PendingAsk { slot, addr, target, engine: Arc::downgrade(engine) }
    }

    /// The address the answer goes to.
    pub(crate) fn reply_address(&self) -> Address {
        self.addr
    }

    /// The actor asked.
    pub fn target(&self) -> Address {
        self.target
    }

    /// Waits up to `timeout` for the answer (a timeout past what an
    /// `Instant` holds waits as long as one can).
    pub fn wait(self, timeout: Duration) -> Result<Value, AskError> {
        let deadline = Instant::now().checked_add(timeout).unwrap_or_else(far_future);
        self.slot.wait_until(deadline).unwrap_or(Err(AskError::Timeout { target: self.target, after: timeout }))
    }
}

impl Drop for PendingAsk {
    fn drop(&mut self) {
        // Answered slots are out of the table already; this removes one
        // that timed out or was never waited for.
        if let Some(engine) = self.engine.upgrade() {
            abandon(&engine, self.addr);
        }
    }
}

/// About a century from now: the deadline of a wait whose timeout does not
/// fit in an `Instant`.
pub(crate) fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)).unwrap_or(now)
}

/// The future returned by [`ActorSystem::ask_async`](crate::ActorSystem::ask_async).
/// It works with any executor: the actor system's own timer enforces the timeout.
pub struct AskFuture {
    slot: Arc<ReplySlot>,
    addr: Address,
    engine: Weak<EngineState>,
}

impl AskFuture {
    /// The address the answer goes to.
    pub(crate) fn reply_address(&self) -> Address {
        self.addr
    }
}

impl Future for AskFuture {
    type Output = Result<Value, AskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.slot.poll_result(cx.waker()) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

impl Drop for AskFuture {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.upgrade() {
            engine.table.remove(self.addr.id());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> AskError {
        AskError::TargetExited(Address::NOBODY)
    }

    #[test]
    fn the_first_outcome_wins_and_later_ones_are_ignored() {
        let slot = ReplySlot::awaiting(Address::NOBODY);
        slot.complete(Ok(Value::from(1)));
        slot.complete(Ok(Value::from(2)));
        slot.complete(Err(err()));
        assert_eq!(slot.wait_until(Instant::now()), Some(Ok(Value::from(1))));
    }

    #[test]
    fn a_waiter_gives_up_at_its_deadline_and_is_woken_by_a_completion() {
        let slot = Arc::new(ReplySlot::awaiting(Address::NOBODY));
        assert_eq!(slot.wait_until(Instant::now() + Duration::from_millis(20)), None, "no outcome: timed out");
        let s = slot.clone();
        let waiter = std::thread::spawn(move || s.wait_until(Instant::now() + Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        slot.complete(Err(err()));
        assert_eq!(waiter.join().unwrap(), Some(Err(err())), "woken long before its deadline");
    }

    #[test]
    fn a_polled_future_is_woken_by_the_completion() {
        use std::sync::atomic::AtomicUsize;
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let slot = ReplySlot::awaiting(Address::NOBODY);
        assert!(slot.poll_result(&waker).is_none());
        slot.complete(Ok(Value::from("done")));
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the stored waker was called once");
        assert_eq!(slot.poll_result(&waker), Some(Ok(Value::from("done"))));
    }
}
