//! Example package `other`: one counting actor.
//!
//! `other.mainActor` counts every message; `"count"` gets the number of
//! messages received before it. `{"forward": address, "msg": m}` sends `m`
//! on (for messages between packages).

use actor_abi::prelude::*;

/// `other.mainActor`.
#[derive(Default)]
struct MainActor {
    received: u64,
}

impl Actor for MainActor {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if msg.as_str() == Some("count") {
            cx.send(&from, self.received);
        } else if let Some(to) = msg.get("forward").and_then(Address::from_value) {
            cx.send(&to, msg.get("msg").cloned().unwrap_or_default());
        }
        self.received += 1;
    }
}

export_actors! {
    "other.mainActor" => MainActor,
}
