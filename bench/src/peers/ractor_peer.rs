//! ractor 0.16: `cast`, ping-pong, `call` from outside, spawning.

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::oneshot;

use crate::machine::rss_bytes;
use crate::peers::tokio_runtime;

enum SinkMsg {
    Tick,
    Expect(u64, oneshot::Sender<()>),
}

struct Sink;

impl Actor for Sink {
    type Msg = SinkMsg;
    type State = (u64, Option<(u64, oneshot::Sender<()>)>);
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<SinkMsg>, _: ()) -> Result<Self::State, ActorProcessingErr> {
        Ok((0, None))
    }

    async fn handle(
        &self,
        _: ActorRef<SinkMsg>,
        msg: SinkMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SinkMsg::Tick => state.0 += 1,
            SinkMsg::Expect(n, tx) => state.1 = Some((n, tx)),
        }
        if state.1.as_ref().is_some_and(|(n, _)| state.0 >= *n)
            && let Some((_, tx)) = state.1.take()
        {
            let _ = tx.send(());
        }
        Ok(())
    }
}

struct Sender;

impl Actor for Sender {
    type Msg = (u64, ActorRef<SinkMsg>);
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Self::Msg>, (n, sink): Self::Msg, _: &mut ()) -> Result<(), ActorProcessingErr> {
        for _ in 0..n {
            let _ = sink.cast(SinkMsg::Tick);
        }
        Ok(())
    }
}

/// W1.
pub fn w1(n: u64) -> Duration {
    tokio_runtime().block_on(async move {
        let (sink, _h1) = Actor::spawn(None, Sink, ()).await.unwrap_or_else(|e| panic!("{e}"));
        let (sender, _h2) = Actor::spawn(None, Sender, ()).await.unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = oneshot::channel();
        let _ = sink.cast(SinkMsg::Expect(n, tx));
        let start = Instant::now();
        let _ = sender.cast((n, sink.clone()));
        let _ = rx.await;
        let took = start.elapsed();
        sink.stop(None);
        sender.stop(None);
        took
    })
}

enum PingerMsg {
    Start(u64, ActorRef<ActorRef<PingerMsg>>, oneshot::Sender<()>),
    Pong,
}

struct Ponger;

impl Actor for Ponger {
    type Msg = ActorRef<PingerMsg>;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Self::Msg>, from: Self::Msg, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let _ = from.cast(PingerMsg::Pong);
        Ok(())
    }
}

struct Pinger;

type PingerState = (u64, Option<ActorRef<ActorRef<PingerMsg>>>, Option<oneshot::Sender<()>>);

impl Actor for Pinger {
    type Msg = PingerMsg;
    type State = PingerState;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<PingerMsg>, _: ()) -> Result<PingerState, ActorProcessingErr> {
        Ok((0, None, None))
    }

    async fn handle(
        &self,
        me: ActorRef<PingerMsg>,
        msg: PingerMsg,
        s: &mut PingerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PingerMsg::Start(n, peer, done) => {
                let _ = peer.cast(me.clone());
                *s = (n, Some(peer), Some(done));
            }
            PingerMsg::Pong => {
                s.0 -= 1;
                if s.0 == 0 {
                    if let Some(d) = s.2.take() {
                        let _ = d.send(());
                    }
                } else if let Some(p) = &s.1 {
                    let _ = p.cast(me.clone());
                }
            }
        }
        Ok(())
    }
}

/// W2.
pub fn w2(n: u64) -> Duration {
    tokio_runtime().block_on(async move {
        let (ponger, _h1) = Actor::spawn(None, Ponger, ()).await.unwrap_or_else(|e| panic!("{e}"));
        let (pinger, _h2) = Actor::spawn(None, Pinger, ()).await.unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = oneshot::channel();
        let start = Instant::now();
        let _ = pinger.cast(PingerMsg::Start(n, ponger.clone(), tx));
        let _ = rx.await;
        let took = start.elapsed();
        pinger.stop(None);
        ponger.stop(None);
        took
    })
}

struct Echo;

impl Actor for Echo {
    type Msg = (u64, RpcReplyPort<u64>);
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        (i, reply): Self::Msg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(i);
        Ok(())
    }
}

/// W3: each ask from the main thread, outside the runtime's threads.
pub fn w3(n: u64) -> Vec<Duration> {
    let rt = tokio_runtime();
    let (echo, _h) = rt.block_on(Actor::spawn(None, Echo, ())).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let start = Instant::now();
        let _ = rt.block_on(echo.call(|r| (i, r), None));
        out.push(start.elapsed());
    }
    echo.stop(None);
    out
}

/// W4.
pub fn w4(n: u64) -> (Duration, f64) {
    let rt = tokio_runtime();
    rt.block_on(async move {
        let before = rss_bytes();
        let start = Instant::now();
        let mut all = Vec::with_capacity(n as usize);
        for _ in 0..n {
            all.push(Actor::spawn(None, Echo, ()).await.unwrap_or_else(|e| panic!("{e}")));
        }
        if let Some((last, _)) = all.last() {
            let _ = last.call(|r| (0, r), None).await;
        }
        let took = start.elapsed();
        let per = rss_bytes().saturating_sub(before) as f64 / n as f64;
        for (a, _) in &all {
            a.stop(None);
        }
        (took, per)
    })
}
