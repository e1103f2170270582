//! actix 0.13: one-way `do_send`, ping-pong, `send` from outside, spawning.

use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::machine::rss_bytes;
use crate::peers::Countdown;

struct Tick;
impl Message for Tick {
    type Result = ();
}

struct Expect(u64, oneshot::Sender<()>);
impl Message for Expect {
    type Result = ();
}

#[derive(Default)]
struct Sink(Countdown);

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Tick> for Sink {
    type Result = ();
    fn handle(&mut self, _: Tick, _: &mut Context<Self>) {
        self.0.tick();
    }
}

impl Handler<Expect> for Sink {
    type Result = ();
    fn handle(&mut self, Expect(n, tx): Expect, _: &mut Context<Self>) {
        self.0.expect(n, tx);
    }
}

struct Run(u64, Addr<Sink>);
impl Message for Run {
    type Result = ();
}

struct Sender;
impl Actor for Sender {
    type Context = Context<Self>;
}
impl Handler<Run> for Sender {
    type Result = ();
    fn handle(&mut self, Run(n, sink): Run, _: &mut Context<Self>) {
        for _ in 0..n {
            sink.do_send(Tick);
        }
    }
}

/// W1.
pub fn w1(n: u64) -> Duration {
    System::new().block_on(async move {
        let sink = Sink::default().start();
        let sender = Sender.start();
        let (tx, rx) = oneshot::channel();
        sink.do_send(Expect(n, tx));
        let start = Instant::now();
        sender.do_send(Run(n, sink));
        let _ = rx.await;
        start.elapsed()
    })
}

struct Ping(Addr<Pinger>);
impl Message for Ping {
    type Result = ();
}
struct Pong;
impl Message for Pong {
    type Result = ();
}
struct Start(u64, Addr<Ponger>, oneshot::Sender<()>);
impl Message for Start {
    type Result = ();
}

struct Ponger;
impl Actor for Ponger {
    type Context = Context<Self>;
}
impl Handler<Ping> for Ponger {
    type Result = ();
    fn handle(&mut self, Ping(from): Ping, _: &mut Context<Self>) {
        from.do_send(Pong);
    }
}

#[derive(Default)]
struct Pinger {
    left: u64,
    peer: Option<Addr<Ponger>>,
    done: Option<oneshot::Sender<()>>,
}
impl Actor for Pinger {
    type Context = Context<Self>;
}
impl Handler<Start> for Pinger {
    type Result = ();
    fn handle(&mut self, Start(n, peer, done): Start, ctx: &mut Context<Self>) {
        peer.do_send(Ping(ctx.address()));
        (self.left, self.peer, self.done) = (n, Some(peer), Some(done));
    }
}
impl Handler<Pong> for Pinger {
    type Result = ();
    fn handle(&mut self, _: Pong, ctx: &mut Context<Self>) {
        self.left -= 1;
        if self.left == 0 {
            if let Some(d) = self.done.take() {
                let _ = d.send(());
            }
        } else if let Some(p) = &self.peer {
            p.do_send(Ping(ctx.address()));
        }
    }
}

/// W2.
pub fn w2(n: u64) -> Duration {
    System::new().block_on(async move {
        let ponger = Ponger.start();
        let pinger = Pinger::default().start();
        let (tx, rx) = oneshot::channel();
        let start = Instant::now();
        pinger.do_send(Start(n, ponger, tx));
        let _ = rx.await;
        start.elapsed()
    })
}

struct Echo(u64);
impl Message for Echo {
    type Result = u64;
}
struct Echoer;
impl Actor for Echoer {
    type Context = Context<Self>;
}
impl Handler<Echo> for Echoer {
    type Result = u64;
    fn handle(&mut self, Echo(i): Echo, _: &mut Context<Self>) -> u64 {
        i
    }
}

/// W3: the System runs on its own thread; each ask comes from this one,
/// outside it, as for the other systems.
pub fn w3(n: u64) -> Vec<Duration> {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let system = std::thread::spawn(move || {
        System::new().block_on(async move {
            let _ = addr_tx.send(Echoer.start());
            let _ = stop_rx.await;
        });
    });
    let Ok(echo) = addr_rx.recv() else { return Vec::new() };
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let start = Instant::now();
        let _ = test_support::block_on(echo.send(Echo(i)));
        out.push(start.elapsed());
    }
    let _ = stop_tx.send(());
    let _ = system.join();
    out
}

struct Idle;
impl Actor for Idle {
    type Context = Context<Self>;
}
impl Handler<Echo> for Idle {
    type Result = u64;
    fn handle(&mut self, Echo(i): Echo, _: &mut Context<Self>) -> u64 {
        i
    }
}

/// W4.
pub fn w4(n: u64) -> (Duration, f64) {
    System::new().block_on(async move {
        let before = rss_bytes();
        let start = Instant::now();
        let all: Vec<Addr<Idle>> = (0..n).map(|_| Idle.start()).collect();
        if let Some(last) = all.last() {
            let _ = last.send(Echo(0)).await;
        }
        let took = start.elapsed();
        let per = rss_bytes().saturating_sub(before) as f64 / n as f64;
        drop(all);
        (took, per)
    })
}
