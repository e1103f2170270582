//! The host functions a package library calls back into (its `HostApi`).
//!
//! Each function catches the host's own panics: unwinding out of an
//! `extern "C"` function would abort the process.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use actor_abi::ffi::{self, ErrSink, FfiMessage, FfiSource, FfiStr, HostApi, HostCx};
use actor_abi::{Address, Message, wire};

use crate::engine::cell::ActorCell;
use crate::engine::package::version::Version;
use crate::engine::payload::{OpaqueMsg, Payload};
use crate::engine::route::{DeadReason, dead_letter, route_cached};
use crate::engine::spawn;
use crate::engine::state::EngineState;
use crate::engine::timer::TimerAction;
use crate::native::library::Library;

/// The table every loaded library gets at init.
pub(crate) static HOST_API: HostApi = HostApi {
    size: size_of::<HostApi>(),
    send: host_send,
    create: host_create,
    wakeup: host_wakeup,
    exit: host_exit,
    source: host_source,
    log: host_log,
    set_error: host_set_error,
};

/// The host's state for one delivery into a package; passed to the library
/// as its `HostCx` and handed back in callbacks during that delivery.
pub(crate) struct PluginCall<'a> {
    pub(crate) engine: &'a Arc<EngineState>,
    pub(crate) cell: &'a Arc<ActorCell>,
    pub(crate) version: &'a Arc<Version>,
    pub(crate) library: &'a Arc<Library>,
    pub(crate) exit: bool,
    /// The cell of the last target this delivery sent to.
    pub(crate) last_target: Option<Arc<ActorCell>>,
}

impl PluginCall<'_> {
    pub(crate) fn as_cx(&mut self) -> *mut HostCx {
        (self as *mut Self).cast()
    }
}

/// Runs `f` with the delivery state behind `cx`.
///
/// # Safety
/// `cx` must be the `HostCx` the host passed to the library for the delivery
/// that is running on this thread.
unsafe fn with_call<R>(cx: *mut HostCx, fallback: R, f: impl FnOnce(&mut PluginCall<'_>) -> R) -> R {
    // SAFETY: per the contract, `cx` points to the live PluginCall on this
    // thread's stack, and the library only uses it during that call.
    let call = unsafe { &mut *cx.cast::<PluginCall<'_>>() };
    catch_unwind(AssertUnwindSafe(|| f(call))).unwrap_or(fallback)
}

unsafe extern "C" fn host_send(cx: *mut HostCx, to: Address, msg: *const FfiMessage) -> u32 {
    // SAFETY: the library passes back its delivery's cx and a message valid
    // for this call.
    unsafe { with_call(cx, ffi::STATUS_FAILED, |call| send_from_package(call, to, &*msg)) }
}

fn send_from_package(call: &mut PluginCall<'_>, to: Address, msg: &FfiMessage) -> u32 {
    let from = call.cell.addr;
    match msg.kind {
        ffi::KIND_VALUE => {
            // SAFETY: the library's bytes are valid for this call; copied here.
            let bytes = unsafe { msg.bytes.as_bytes() }.to_vec();
            route_cached(call.engine, &mut call.last_target, from, to, Payload::Encoded(bytes.into_boxed_slice()));
        }
        ffi::KIND_EXIT => {
            route_cached(call.engine, &mut call.last_target, from, to, Payload::native(Message::ActorExitRequest))
        }
        ffi::KIND_OPAQUE => {
            let Some(ptr) = NonNull::new(msg.opaque) else {
                return ffi::STATUS_FAILED;
            };
            if to.home() != call.version.home || to.node() != call.cell.addr.node() {
                // Ownership stays with the library, which drops it.
                let why = DeadReason::Refused("a typed message can only reach actors of its own package");
                dead_letter(call.engine, from, to, None, why);
                return ffi::STATUS_REFUSED;
            }
            let opaque = OpaqueMsg::new(ptr, msg.opaque_meta, call.library.clone());
            route_cached(call.engine, &mut call.last_target, from, to, Payload::Opaque(opaque));
        }
        _ => return ffi::STATUS_FAILED,
    }
    ffi::STATUS_OK
}

unsafe extern "C" fn host_create(
    cx: *mut HostCx,
    class: FfiStr,
    global: FfiStr,
    out: *mut Address,
    err_buf: *mut u8,
    err_cap: usize,
    err_len: *mut usize,
) -> u32 {
    // SAFETY: the library passes back its delivery's cx; strings are valid
    // for this call; `out`, `err_buf[..err_cap]` and `err_len` are writable.
    unsafe {
        with_call(cx, ffi::STATUS_FAILED, |call| {
            let class = class.to_string_lossy();
            let global = (!global.is_none()).then(|| global.to_string_lossy());
            match spawn::create_package_actor(
                call.engine,
                call.version,
                &class,
                global.as_deref(),
                spawn::Parent::Here(call.cell),
            ) {
                Ok(addr) => {
                    out.write(addr);
                    ffi::STATUS_OK
                }
                Err(crate::error::CreateActorError::UnknownClass { .. }) => ffi::STATUS_UNKNOWN_CLASS,
                Err(e) => {
                    let text = e.to_string();
                    let n = text.len().min(err_cap);
                    std::ptr::copy_nonoverlapping(text.as_ptr(), err_buf, n);
                    err_len.write(n);
                    ffi::STATUS_REFUSED
                }
            }
        })
    }
}

unsafe extern "C" fn host_wakeup(cx: *mut HostCx, delay_nanos: u64, payload: FfiStr) {
    // SAFETY: the library passes back its delivery's cx; bytes valid for the call.
    unsafe {
        with_call(cx, (), |call| match wire::decode(payload.as_bytes()) {
            Ok(payload) => {
                let to = call.cell.addr;
                call.engine.timer.after(Duration::from_nanos(delay_nanos), TimerAction::Wakeup { to, payload });
            }
            Err(e) => log::error!("actor {} asked for a wakeup with a bad payload: {e}", call.cell.addr),
        })
    }
}

unsafe extern "C" fn host_exit(cx: *mut HostCx) {
    // SAFETY: the library passes back its delivery's cx.
    unsafe { with_call(cx, (), |call| call.exit = true) }
}

unsafe extern "C" fn host_source(cx: *mut HostCx, out: *mut FfiSource) {
    // SAFETY: the library passes back its delivery's cx and a writable `out`;
    // the strings live in the Version, which outlives the delivery.
    unsafe {
        with_call(cx, (), |call| {
            let info = &call.version.info;
            out.write(FfiSource {
                group: FfiStr::from_text(&info.group),
                version: FfiStr::from_text(&info.version),
                hash: FfiStr::from_text(&info.hash),
            });
        })
    }
}

unsafe extern "C" fn host_log(level: u32, target: FfiStr, message: FfiStr) {
    let _ = catch_unwind(|| {
        // SAFETY: the library's strings are valid for this call.
        let (target, message) = unsafe { (target.to_string_lossy(), message.to_string_lossy()) };
        crate::engine::logging::package_log(ffi::level_from_u32(level), &target, &message);
    });
}

unsafe extern "C" fn host_set_error(sink: *mut ErrSink, text: FfiStr) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: every ErrSink the host hands out is a `&mut String` that is
        // live for the call in progress; the text is valid for this call.
        unsafe { (*sink.cast::<String>()).push_str(&text.to_string_lossy()) }
    }));
}
