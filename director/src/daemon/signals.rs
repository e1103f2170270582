//! SIGTERM and SIGINT ask the daemon to shut down cleanly.

use std::sync::atomic::{AtomicBool, Ordering};

static RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RECEIVED.store(true, Ordering::Release);
}

/// Installs the handlers.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only performs an atomic store, which is
        // async-signal-safe; `signal` replaces the disposition of `sig` only.
        unsafe { libc::signal(sig, handler) };
    }
}

/// True once a shutdown signal arrived.
pub fn received() -> bool {
    RECEIVED.load(Ordering::Acquire)
}
