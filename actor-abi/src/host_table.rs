//! The host's function table as this plugin library received it at init.
//!
//! Invariant: [`set`] is only called by `plugin_init` with a pointer the
//! host promises lives for the rest of the process (a static of the host
//! program), and it is never cleared; so every reference [`host`] hands out
//! stays valid.

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::ffi::HostApi;

static HOST: AtomicPtr<HostApi> = AtomicPtr::new(std::ptr::null_mut());

/// Records the host's table (from `plugin_init`).
pub(crate) fn set(host: &'static HostApi) {
    HOST.store(std::ptr::from_ref(host).cast_mut(), Ordering::Release);
}

/// The host table, once `plugin_init` has run.
pub(crate) fn host() -> Option<&'static HostApi> {
    let p = HOST.load(Ordering::Acquire);
    // SAFETY: HOST is only ever set (by `set`) to a 'static HostApi.
    unsafe { p.as_ref() }
}
