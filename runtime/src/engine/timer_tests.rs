//! Unit tests of the timer: deadline order, ask timeouts, and stopping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_abi::{Address, Value};

use super::*;
use crate::engine::reply::ReplySlot;
use crate::engine::test_kit::{Recorder, Seen, TestEngine, next};

#[test]
fn wakeups_fire_in_deadline_order_not_in_the_order_asked() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    for ms in [30u64, 10, 20] {
        let payload = Value::from(ms as i64);
        engine.timer.after(Duration::from_millis(ms), TimerAction::Wakeup { to: a, payload });
    }
    let order: Vec<Seen> = (0..3).map(|_| next(&seen)).collect();
    let expected: Vec<Seen> = [10i64, 20, 30].map(|ms| Seen::Wakeup(Value::from(ms))).into();
    assert_eq!(order, expected);
}

#[test]
fn an_ask_timeout_fails_its_slot_and_a_slot_already_gone_is_skipped() {
    let engine = TestEngine::start();
    let target = Address::from_parts(0, 0, 12345);
    let gone = Arc::new(ReplySlot::awaiting(target));
    let after = Duration::from_millis(1);
    engine.timer.after(after, TimerAction::AskTimeout { slot: Arc::downgrade(&gone), target, after });
    drop(gone);
    let slot = Arc::new(ReplySlot::awaiting(target));
    engine.timer.after(after, TimerAction::AskTimeout { slot: Arc::downgrade(&slot), target, after });
    let outcome = slot.wait_until(Instant::now() + Duration::from_secs(30));
    assert_eq!(outcome, Some(Err(AskError::Timeout { target, after })));
}

#[test]
fn a_stopped_timer_drops_what_is_pending() {
    let engine = TestEngine::start();
    let (rec, seen) = Recorder::new();
    let a = engine.host(rec);
    let timer = Arc::new(Timer::default());
    timer.start(Arc::downgrade(&engine)).expect("timer thread");
    timer.after(Duration::from_millis(50), TimerAction::Wakeup { to: a, payload: Value::from("late") });
    timer.stop();
    // The engine's own timer still works: its wakeup is the first thing seen.
    engine.timer.after(Duration::from_millis(200), TimerAction::Wakeup { to: a, payload: Value::from("own") });
    assert_eq!(next(&seen), Seen::Wakeup(Value::from("own")));
}
