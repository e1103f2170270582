//! Example package `benchpkg`: the actors the benchmark harness drives.
//!
//! - `bench.sink` counts messages; `{"expect": n}` is answered with
//!   `{"count": n}` once `n` messages arrived (then the count restarts).
//! - `bench.sender`: `{"run": n, "to": addr, "typed": bool}` sends `n`
//!   messages to `addr`: typed `Tick`s (same package only) or plain ints.
//! - `bench.pinger`: `{"pingpong": n, "peer": addr, "typed": bool}` plays
//!   `n` ping-pong rounds with a `bench.ponger` (typed, or plain `"ping"` and
//!   `"pong"` values with `"typed": false`), then answers `{"rounds": n}`.
//! - `bench.ponger` answers each `Ping` with a `Pong`, and `"ping"` with `"pong"`.
//! - `bench.echo` answers every value with itself.
//! - `bench.idle` does nothing.

use actor_abi::prelude::*;

/// The typed one-way message.
struct Tick;
/// The typed ping.
struct Ping;
/// The typed pong.
struct Pong;

#[derive(Default)]
struct Sink {
    count: u64,
    expect: Option<(u64, Address)>,
}

impl Sink {
    fn check(&mut self, cx: &mut Context<'_>) {
        if let Some((n, asker)) = self.expect
            && self.count >= n
        {
            cx.send(&asker, value!({"count": n}));
            self.count -= n;
            self.expect = None;
        }
    }
}

impl Actor for Sink {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if let Some(n) = msg.get("expect").and_then(Value::as_i64) {
            self.expect = Some((n.max(0) as u64, from));
        } else {
            self.count += 1;
        }
        self.check(cx);
    }
}

#[derive(Default)]
struct Sender;

impl Actor for Sender {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, _from: Address) {
        let (Some(n), Some(to)) = (msg.get("run").and_then(Value::as_i64), msg.get("to").and_then(Address::from_value))
        else {
            return;
        };
        let typed = msg.get("typed").and_then(Value::as_bool).unwrap_or(true);
        for i in 0..n {
            if typed {
                cx.send_typed(&to, Tick);
            } else {
                cx.send(&to, i);
            }
        }
    }
}

#[derive(Default)]
struct Pinger {
    left: u64,
    rounds: u64,
    peer: Option<Address>,
    asker: Option<Address>,
    /// Plain values (`"ping"`/`"pong"`) instead of typed messages, for a
    /// peer in another process.
    plain: bool,
}

impl Pinger {
    fn ping(&self, cx: &mut Context<'_>, peer: &Address) {
        if self.plain { cx.send(peer, "ping") } else { cx.send_typed(peer, Ping) }
    }
}

impl Actor for Pinger {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if msg.downcast_ref::<Pong>().is_some() || msg.as_str() == Some("pong") {
            self.left = self.left.saturating_sub(1);
            match (self.left, self.peer, self.asker) {
                (0, _, Some(asker)) => cx.send(&asker, value!({"rounds": self.rounds})),
                (_, Some(peer), _) => self.ping(cx, &peer),
                _ => {}
            }
        } else if let (Some(n), Some(peer)) =
            (msg.get("pingpong").and_then(Value::as_i64), msg.get("peer").and_then(Address::from_value))
        {
            (self.left, self.rounds, self.peer, self.asker) =
                (n.max(1) as u64, n.max(1) as u64, Some(peer), Some(from));
            self.plain = msg.get("typed").and_then(Value::as_bool) == Some(false);
            self.ping(cx, &peer);
        }
    }
}

#[derive(Default)]
struct Ponger;

impl Actor for Ponger {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if msg.downcast_ref::<Ping>().is_some() {
            cx.send_typed(&from, Pong);
        } else if msg.as_str() == Some("ping") {
            cx.send(&from, "pong");
        }
    }
}

#[derive(Default)]
struct Echo;

impl Actor for Echo {
    fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
        if let Some(v) = msg.value() {
            cx.send(&from, v.clone());
        }
    }
}

#[derive(Default)]
struct Idle;

impl Actor for Idle {
    fn receive(&mut self, _cx: &mut Context<'_>, _msg: &Message, _from: Address) {}
}

export_actors! {
    "bench.sink" => Sink,
    "bench.sender" => Sender,
    "bench.pinger" => Pinger,
    "bench.ponger" => Ponger,
    "bench.echo" => Echo,
    "bench.idle" => Idle,
}
