//! The Rust peers, each running W1-W4 the way its users would write them.
//! Every function returns what the matching `ours` function returns.

pub mod actix_peer;
pub mod kameo_peer;
pub mod ractor_peer;

/// W1's sink state in the peers whose sinks look alike (actix, kameo):
/// counts messages and answers once the expected number arrived.
#[derive(Default)]
pub struct Countdown {
    count: u64,
    expect: Option<(u64, tokio::sync::oneshot::Sender<()>)>,
}

impl Countdown {
    /// One more message.
    pub fn tick(&mut self) {
        self.count += 1;
        self.check();
    }

    /// Answers on `tx` once `n` messages arrived (counting those already in).
    pub fn expect(&mut self, n: u64, tx: tokio::sync::oneshot::Sender<()>) {
        self.expect = Some((n, tx));
        self.check();
    }

    fn check(&mut self) {
        if self.expect.as_ref().is_some_and(|(n, _)| self.count >= *n)
            && let Some((_, tx)) = self.expect.take()
        {
            let _ = tx.send(());
        }
    }
}

/// A multi-threaded tokio runtime with as many workers as we have cores.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(crate::machine::cores())
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"))
}
