//! One delivery with Thespian's retry rule, shared by the host and plugins.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::actor::Actor;
use crate::address::Address;
use crate::context::Context;
use crate::message::Message;

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The handler returned.
    Handled,
    /// The handler panicked on every attempt; the text of the last panic.
    Poisoned(String),
}

/// Calls the handler; if it panics, calls it once more with the same
/// message. System messages are not retried (they are facts, not requests).
#[doc(hidden)]
pub fn deliver(actor: &mut dyn Actor, cx: &mut Context<'_>, msg: &Message, from: Address) -> Delivery {
    let attempts = if msg.is_system() { 1 } else { 2 };
    let mut last = String::new();
    for _ in 0..attempts {
        match catch_unwind(AssertUnwindSafe(|| actor.receive(cx, msg, from))) {
            Ok(()) => return Delivery::Handled,
            Err(payload) => last = panic_text(payload.as_ref()),
        }
    }
    Delivery::Poisoned(last)
}

/// The text of a panic payload.
#[doc(hidden)]
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
