//! kameo 0.22: `tell`, ping-pong, `ask` from outside, spawning.
//! Mailboxes are unbounded, like ours (kameo's default is bounded at 64).

use std::time::{Duration, Instant};

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn};
use kameo::mailbox;
use kameo::message::{Context, Message};
use tokio::sync::oneshot;

use crate::machine::rss_bytes;
use crate::peers::{Countdown, tokio_runtime};

#[derive(Actor, Default)]
struct Sink(Countdown);

struct Tick;
struct Expect(u64, oneshot::Sender<()>);

impl Message<Tick> for Sink {
    type Reply = ();
    async fn handle(&mut self, _: Tick, _: &mut Context<Self, ()>) {
        self.0.tick();
    }
}

impl Message<Expect> for Sink {
    type Reply = ();
    async fn handle(&mut self, Expect(n, tx): Expect, _: &mut Context<Self, ()>) {
        self.0.expect(n, tx);
    }
}

#[derive(Actor)]
struct Sender;

struct Run(u64, ActorRef<Sink>);

impl Message<Run> for Sender {
    type Reply = ();
    async fn handle(&mut self, Run(n, sink): Run, _: &mut Context<Self, ()>) {
        for _ in 0..n {
            let _ = sink.tell(Tick).await;
        }
    }
}

/// W1.
pub fn w1(n: u64) -> Duration {
    tokio_runtime().block_on(async move {
        let sink = Sink::spawn_with_mailbox(Sink::default(), mailbox::unbounded());
        let sender = Sender::spawn_with_mailbox(Sender, mailbox::unbounded());
        let (tx, rx) = oneshot::channel();
        let _ = sink.tell(Expect(n, tx)).await;
        let start = Instant::now();
        let _ = sender.tell(Run(n, sink.clone())).await;
        let _ = rx.await;
        start.elapsed()
    })
}

#[derive(Actor)]
struct Ponger;

struct Ping(ActorRef<Pinger>);
struct Pong;

impl Message<Ping> for Ponger {
    type Reply = ();
    async fn handle(&mut self, Ping(from): Ping, _: &mut Context<Self, ()>) {
        let _ = from.tell(Pong).await;
    }
}

#[derive(Actor, Default)]
struct Pinger {
    left: u64,
    peer: Option<ActorRef<Ponger>>,
    done: Option<oneshot::Sender<()>>,
}

struct Start(u64, ActorRef<Ponger>, oneshot::Sender<()>);

impl Message<Start> for Pinger {
    type Reply = ();
    async fn handle(&mut self, Start(n, peer, done): Start, ctx: &mut Context<Self, ()>) {
        let _ = peer.tell(Ping(ctx.actor_ref().clone())).await;
        (self.left, self.peer, self.done) = (n, Some(peer), Some(done));
    }
}

impl Message<Pong> for Pinger {
    type Reply = ();
    async fn handle(&mut self, _: Pong, ctx: &mut Context<Self, ()>) {
        self.left -= 1;
        if self.left == 0 {
            if let Some(d) = self.done.take() {
                let _ = d.send(());
            }
        } else if let Some(p) = &self.peer {
            let _ = p.tell(Ping(ctx.actor_ref().clone())).await;
        }
    }
}

/// W2.
pub fn w2(n: u64) -> Duration {
    tokio_runtime().block_on(async move {
        let ponger = Ponger::spawn_with_mailbox(Ponger, mailbox::unbounded());
        let pinger = Pinger::spawn_with_mailbox(Pinger::default(), mailbox::unbounded());
        let (tx, rx) = oneshot::channel();
        let start = Instant::now();
        let _ = pinger.tell(Start(n, ponger, tx)).await;
        let _ = rx.await;
        start.elapsed()
    })
}

#[derive(Actor)]
struct Echo;

struct Say(u64);

impl Message<Say> for Echo {
    type Reply = u64;
    async fn handle(&mut self, Say(i): Say, _: &mut Context<Self, u64>) -> u64 {
        i
    }
}

/// W3: each ask from the main thread, outside the runtime's threads.
pub fn w3(n: u64) -> Vec<Duration> {
    let rt = tokio_runtime();
    let echo = rt.block_on(async { Echo::spawn_with_mailbox(Echo, mailbox::unbounded()) });
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let start = Instant::now();
        let _ = rt.block_on(async { echo.ask(Say(i)).await });
        out.push(start.elapsed());
    }
    out
}

/// W4.
pub fn w4(n: u64) -> (Duration, f64) {
    let rt = tokio_runtime();
    rt.block_on(async move {
        let before = rss_bytes();
        let start = Instant::now();
        let all: Vec<ActorRef<Echo>> = (0..n).map(|_| Echo::spawn_with_mailbox(Echo, mailbox::unbounded())).collect();
        if let Some(last) = all.last() {
            let _ = last.ask(Say(0)).await;
        }
        let took = start.elapsed();
        let per = rss_bytes().saturating_sub(before) as f64 / n as f64;
        drop(all);
        (took, per)
    })
}
