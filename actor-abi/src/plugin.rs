//! The plugin side of the ABI: the `extern "C"` entry points that
//! [`export_actors!`](crate::export_actors) puts into a package's header.
//!
//! Every entry point catches panics inside the plugin (a panic cannot cross
//! into the host: the host's `catch_unwind` aborts on a panic from another
//! copy of std) and reports them as status codes with text.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::actor::Actor;
use crate::address::Address;
use crate::context::{Context, ContextBackend, CreateError, SourceInfo};
use crate::deliver::{Delivery, deliver, panic_text};
use crate::ffi::{self, ErrSink, FfiMessage, FfiSource, FfiStr, HostApi, HostCx};
use crate::host_table::{self, host};
use crate::log_bridge;
use crate::message::Message;
use crate::opaque;
use crate::value::Value;
use crate::wire;

/// The class table a plugin's macro expansion builds.
pub type MakeFn = fn(u32) -> Option<Box<dyn Actor>>;

fn report(err: *mut ErrSink, text: &str) {
    if let Some(h) = host() {
        // SAFETY: `err` came from the host for this very call; the text is
        // borrowed for the duration of the call and copied by the host.
        unsafe { (h.set_error)(err, FfiStr::from_text(text)) }
    }
}

/// Runs `f`, turning a panic into [`ffi::STATUS_FAILED`] with its text.
fn guarded(err: *mut ErrSink, what: &str, f: impl FnOnce() -> u32) -> u32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(status) => status,
        Err(p) => {
            report(err, &format!("{what} panicked: {}", panic_text(p.as_ref())));
            ffi::STATUS_FAILED
        }
    }
}

/// Entry point `init`.
///
/// # Safety
/// `host` must point to a `HostApi` that lives for the rest of the process.
pub unsafe extern "C" fn plugin_init(host: *const HostApi, max_level: u32, err: *mut ErrSink) -> u32 {
    // SAFETY: caller guarantees `host` is valid for the process lifetime.
    let Some(table) = (unsafe { host.as_ref() }) else {
        return ffi::STATUS_FAILED;
    };
    if table.size < std::mem::size_of::<HostApi>() {
        return ffi::STATUS_FAILED;
    }
    host_table::set(table);
    guarded(err, "plugin init", || {
        log_bridge::install(max_level);
        std::panic::set_hook(Box::new(log_bridge::panic_hook));
        ffi::STATUS_OK
    })
}

/// Entry point `construct`, given the plugin's class table.
///
/// # Safety
/// `out` must be valid for one write; `err` must come from the host.
pub unsafe fn construct(make: MakeFn, index: u32, out: *mut *mut c_void, err: *mut ErrSink) -> u32 {
    guarded(err, "actor constructor", || match make(index) {
        Some(actor) => {
            let raw = Box::into_raw(Box::new(actor));
            // SAFETY: the caller guarantees `out` is writable.
            unsafe { out.write(raw.cast()) };
            ffi::STATUS_OK
        }
        None => ffi::STATUS_UNKNOWN_CLASS,
    })
}

/// Entry point `destroy`.
///
/// # Safety
/// `actor` must come from [`construct`] and not be used again.
pub unsafe extern "C" fn plugin_destroy(actor: *mut c_void, err: *mut ErrSink) -> u32 {
    // SAFETY: the caller hands back a pointer from `construct`, exactly once.
    let boxed = unsafe { Box::from_raw(actor.cast::<Box<dyn Actor>>()) };
    guarded(err, "actor drop", move || {
        drop(boxed);
        ffi::STATUS_OK
    })
}

/// Entry point `drop_opaque`.
///
/// # Safety
/// `(msg, meta)` must be an opaque message this library handed to the host.
pub unsafe extern "C" fn plugin_drop_opaque(msg: *mut c_void, meta: *mut c_void) {
    // SAFETY: the caller hands back a message from `PluginBackend::send_message`.
    let _ = catch_unwind(AssertUnwindSafe(move || unsafe { opaque::drop_opaque(msg, meta) }));
}

/// Entry point `shutdown`, given the package's hook.
///
/// # Safety
/// `err` must come from the host.
pub unsafe fn shutdown(hook: fn(), err: *mut ErrSink) -> u32 {
    guarded(err, "package shutdown hook", || {
        hook();
        ffi::STATUS_OK
    })
}

/// Entry point `receive`.
///
/// # Safety
/// `actor` must come from [`construct`] and be used by one thread at a time;
/// `msg` must be valid for the call and its parts as its kind says; `cx` and
/// `err` must come from the host for this call.
pub unsafe extern "C" fn plugin_receive(
    actor: *mut c_void,
    cx: *mut HostCx,
    me: Address,
    msg: *const FfiMessage,
    from: Address,
    err: *mut ErrSink,
) -> u32 {
    let Some(host) = host() else {
        return ffi::STATUS_FAILED;
    };
    guarded(err, "message delivery", || {
        // SAFETY: the caller guarantees exclusive use of a live instance.
        let actor = unsafe { &mut *actor.cast::<Box<dyn Actor>>() };
        // SAFETY: the caller guarantees `msg` is valid for this call.
        let msg = unsafe { &*msg };
        let mut backend = PluginBackend { host, cx, me, scratch: Vec::new() };
        // SAFETY: forwarded guarantee about the message's parts.
        let outcome = unsafe {
            with_message(msg, |m| {
                let mut context = Context::new(&mut backend);
                deliver(actor.as_mut(), &mut context, m, from)
            })
        };
        match outcome {
            Ok(Delivery::Handled) => ffi::STATUS_OK,
            Ok(Delivery::Poisoned(text)) => {
                report(err, &text);
                ffi::STATUS_POISONED
            }
            Err(e) => {
                report(err, &format!("undecodable message: {e}"));
                ffi::STATUS_FAILED
            }
        }
    })
}

/// Rebuilds the plugin-side [`Message`] for `msg` and passes it to `f`.
///
/// # Safety
/// The bytes and opaque pointer of `msg` must be valid as its kind says.
/// Opaque messages stay owned by the host: they are only borrowed here.
unsafe fn with_message<R>(msg: &FfiMessage, f: impl FnOnce(&Message) -> R) -> Result<R, wire::WireError> {
    // SAFETY: the caller guarantees the byte view is valid for this call.
    let bytes = unsafe { msg.bytes.as_bytes() };
    Ok(match msg.kind {
        ffi::KIND_OPAQUE => {
            // SAFETY: an opaque message is a live message made by this
            // library; the host keeps ownership, so it is only borrowed.
            unsafe { opaque::lend(msg.opaque, msg.opaque_meta, f) }
        }
        ffi::KIND_EXIT => f(&Message::ActorExitRequest),
        ffi::KIND_CHILD_EXITED => f(&Message::ChildActorExited { child: msg.addr }),
        ffi::KIND_WAKEUP => f(&Message::WakeupMessage { payload: wire::decode(bytes)? }),
        ffi::KIND_POISON if msg.inner == ffi::KIND_OPAQUE => {
            // SAFETY: the text view is valid for this call; the original is
            // as for KIND_OPAQUE, only borrowed.
            let details = unsafe { msg.text.to_string_lossy() };
            unsafe { opaque::lend_poisoned(msg.opaque, msg.opaque_meta, msg.addr, details, f) }
        }
        ffi::KIND_POISON => {
            let original = Box::new(Message::Value(wire::decode(bytes)?));
            // SAFETY: the caller guarantees the text view is valid for this call.
            let details = unsafe { msg.text.to_string_lossy() };
            f(&Message::PoisonMessage { original, target: msg.addr, details })
        }
        _ => f(&Message::Value(wire::decode(bytes)?)),
    })
}

/// The plugin's [`ContextBackend`]: forwards every request to the host.
struct PluginBackend {
    host: &'static HostApi,
    cx: *mut HostCx,
    me: Address,
    scratch: Vec<u8>,
}

impl PluginBackend {
    fn send_raw(&self, to: Address, msg: &FfiMessage) -> u32 {
        // SAFETY: `cx` is the host's context for the running delivery and
        // `msg` borrows data that outlives the call.
        unsafe { (self.host.send)(self.cx, to, msg) }
    }

    fn send_typed(&self, to: Address, b: Box<dyn std::any::Any + Send>) {
        let [data, meta] = opaque::typed_into_parts(b);
        let mut ffi_msg = FfiMessage::bare(ffi::KIND_OPAQUE);
        ffi_msg.opaque = data;
        ffi_msg.opaque_meta = meta;
        if self.send_raw(to, &ffi_msg) != ffi::STATUS_OK {
            // SAFETY: the host refused, so ownership stayed here.
            drop(unsafe { opaque::typed_from_parts([data, meta]) });
        }
    }

    fn send_opaque(&self, to: Address, msg: Message) {
        let raw = Box::into_raw(Box::new(msg));
        let mut ffi_msg = FfiMessage::bare(ffi::KIND_OPAQUE);
        ffi_msg.opaque = raw.cast();
        if self.send_raw(to, &ffi_msg) != ffi::STATUS_OK {
            // SAFETY: the host refused, so ownership stayed here.
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

impl ContextBackend for PluginBackend {
    fn my_address(&self) -> Address {
        self.me
    }

    fn send_message(&mut self, to: Address, msg: Message) {
        match msg {
            // A value for another library or another node travels as bytes.
            Message::Value(v) if to.home() != self.me.home() || to.node() != self.me.node() => {
                self.scratch.clear();
                wire::encode_into(&v, &mut self.scratch);
                let mut ffi_msg = FfiMessage::bare(ffi::KIND_VALUE);
                ffi_msg.bytes = FfiStr::from_bytes(&self.scratch);
                self.send_raw(to, &ffi_msg);
            }
            Message::ActorExitRequest => {
                self.send_raw(to, &FfiMessage::bare(ffi::KIND_EXIT));
            }
            Message::Typed(b) => self.send_typed(to, b),
            m @ Message::Value(_) => self.send_opaque(to, m),
            other => log::error!("actors cannot send system message {}", other.describe()),
        }
    }

    fn create_actor(&mut self, class: &str, global_name: Option<&str>) -> Result<Address, CreateError> {
        let mut out = Address::NOBODY;
        let mut buf = [0u8; 512];
        let mut len = 0usize;
        let global = global_name.map_or(FfiStr::NONE, FfiStr::from_text);
        // SAFETY: all pointers are to live locals; the host writes at most
        // `buf.len()` bytes into `buf` and one value into `out` and `len`.
        let status = unsafe {
            (self.host.create)(
                self.cx,
                FfiStr::from_text(class),
                global,
                &mut out,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
            )
        };
        let reason = || String::from_utf8_lossy(&buf[..len.min(buf.len())]).into_owned();
        match status {
            ffi::STATUS_OK => Ok(out),
            ffi::STATUS_UNKNOWN_CLASS => Err(CreateError::UnknownClass { class: class.to_string() }),
            _ => Err(CreateError::Refused { class: class.to_string(), reason: reason() }),
        }
    }

    fn wakeup_after(&mut self, delay: Duration, payload: Value) {
        let bytes = wire::encode(&payload);
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: `cx` is the running delivery's; bytes outlive the call.
        unsafe { (self.host.wakeup)(self.cx, nanos, FfiStr::from_bytes(&bytes)) }
    }

    fn source(&self) -> Option<SourceInfo<'_>> {
        let mut out = FfiSource { group: FfiStr::NONE, version: FfiStr::NONE, hash: FfiStr::NONE };
        // SAFETY: `cx` is the running delivery's; the host fills `out` with
        // views of strings it keeps alive while the package is loaded.
        unsafe { (self.host.source)(self.cx, &mut out) };
        // SAFETY: as above; the views outlive this delivery, hence `&self`.
        let text = |s: &FfiStr| std::str::from_utf8(unsafe { s.as_bytes() }).unwrap_or("");
        Some(SourceInfo { group: text(&out.group), version: text(&out.version), hash: text(&out.hash) })
    }

    fn exit(&mut self) {
        // SAFETY: `cx` is the running delivery's.
        unsafe { (self.host.exit)(self.cx) }
    }
}
