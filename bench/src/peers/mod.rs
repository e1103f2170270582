//! The Rust peers, each running W1-W4 the way its users would write them.
//! Every function returns what the matching `ours` function returns.

pub mod actix_peer;
pub mod kameo_peer;
pub mod ractor_peer;

/// A multi-threaded tokio runtime with as many workers as we have cores.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(crate::machine::cores())
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"))
}
