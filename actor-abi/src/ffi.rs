//! The C ABI between the host runtime and a plugin library.
//!
//! Plugin authors never touch this module; [`export_actors!`](crate::export_actors)
//! generates the plugin side and the `runtime` crate implements the host
//! side. Only `#[repr(C)]` types and `extern "C"` functions cross: no Rust
//! object made by one side is ever owned or dropped by the other, messages
//! cross as bytes (see [`wire`](crate::wire)), and every plugin entry point
//! catches its own panics. That keeps the ABI independent of the compiler
//! version and lets the host unload a library without stale vtables.
//!
//! The plugin exports one static, [`HEADER_SYMBOL`], of type
//! [`PackageHeader`]. Its first part, [`HeaderPrefix`], never changes layout,
//! so the host can read the magic, ABI version, layout fingerprint and crate
//! version of any library before it touches anything else in it.

use std::ffi::c_void;

use crate::address::Address;

/// The magic bytes that open every package header.
pub const ABI_MAGIC: [u8; 8] = *b"THSPACTR";

/// The ABI version. Bumped whenever anything in this module or the wire
/// format changes incompatibly.
/// Version 2: an [`Address`] carries a node part (`home` became 32 bits).
pub const ABI_VERSION: u32 = if cfg!(feature = "simulate-abi-mismatch") { 1001 } else { 2 };

/// The version of the `actor-abi` crate, recorded in every header.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The exported symbol holding the [`PackageHeader`], NUL-terminated.
pub const HEADER_SYMBOL: &[u8] = b"THESPIAN_ACTOR_PACKAGE_HEADER\0";

/// Status: the call succeeded.
pub const STATUS_OK: u32 = 0;
/// Status: the handler panicked twice; the error sink holds the panic text.
pub const STATUS_POISONED: u32 = 1;
/// Status: the call failed; the error sink holds the reason.
pub const STATUS_FAILED: u32 = 2;
/// Status: no such exported class.
pub const STATUS_UNKNOWN_CLASS: u32 = 3;
/// Status: the host refused the request; the error buffer holds the reason.
pub const STATUS_REFUSED: u32 = 4;

/// Message kind: a [`Value`](crate::Value) encoded in `bytes`.
pub const KIND_VALUE: u32 = 1;
/// Message kind: a plugin-owned message in `opaque` and `opaque_meta` (same
/// package only; see [`FfiMessage::opaque`]).
pub const KIND_OPAQUE: u32 = 2;
/// Message kind: `ActorExitRequest`.
pub const KIND_EXIT: u32 = 3;
/// Message kind: `ChildActorExited`; the child is in `addr`.
pub const KIND_CHILD_EXITED: u32 = 4;
/// Message kind: `WakeupMessage`; the payload is encoded in `bytes`.
pub const KIND_WAKEUP: u32 = 5;
/// Message kind: `PoisonMessage`; `inner` says whether the original is in
/// `bytes` ([`KIND_VALUE`]) or `opaque` ([`KIND_OPAQUE`]); `addr` is the target.
pub const KIND_POISON: u32 = 6;

/// A borrowed byte string: pointer and length. Null pointer means "none".
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FfiStr {
    /// First byte, or null.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

// SAFETY: an FfiStr is a plain pointer/length pair. In statics it points to
// immutable 'static string literals; elsewhere it is a borrowed view whose
// reader must uphold the lifetime (every read goes through `unsafe fn`).
unsafe impl Sync for FfiStr {}
// SAFETY: as above; moving the view between threads does not touch the data.
unsafe impl Send for FfiStr {}

impl FfiStr {
    /// The "no string" value.
    pub const NONE: FfiStr = FfiStr { ptr: std::ptr::null(), len: 0 };

    /// A view of a static string.
    pub const fn from_static(s: &'static str) -> FfiStr {
        FfiStr { ptr: s.as_ptr(), len: s.len() }
    }

    /// A view of borrowed bytes; valid as long as `b` is.
    pub fn from_bytes(b: &[u8]) -> FfiStr {
        FfiStr { ptr: b.as_ptr(), len: b.len() }
    }

    /// A view of a borrowed string; valid as long as `s` is.
    pub fn from_text(s: &str) -> FfiStr {
        FfiStr::from_bytes(s.as_bytes())
    }

    /// True for [`FfiStr::NONE`].
    pub fn is_none(&self) -> bool {
        self.ptr.is_null()
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` must be null or point to `len` readable bytes that stay valid
    /// and unchanged for `'a`.
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: the caller guarantees ptr/len describe live bytes for 'a.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The text, with invalid UTF-8 replaced.
    ///
    /// # Safety
    /// As for [`FfiStr::as_bytes`].
    pub unsafe fn to_string_lossy(&self) -> String {
        // SAFETY: forwarded to the caller's guarantee.
        String::from_utf8_lossy(unsafe { self.as_bytes() }).into_owned()
    }
}

/// One message as it crosses the boundary (borrowed for the call).
#[repr(C)]
pub struct FfiMessage {
    /// One of the `KIND_*` constants.
    pub kind: u32,
    /// For [`KIND_POISON`]: the kind of the original message.
    pub inner: u32,
    /// Encoded value bytes, when the kind carries a value.
    pub bytes: FfiStr,
    /// For [`KIND_OPAQUE`], a plugin-owned message: a `Box<Message>` when
    /// `opaque_meta` is null, else the data half of a typed message's
    /// `Box<dyn Any + Send>` (sent without a `Message` box around it).
    pub opaque: *mut c_void,
    /// For [`KIND_OPAQUE`]: null, or the other half of a typed message's box.
    /// Only the library that made the pair reads it.
    pub opaque_meta: *mut c_void,
    /// The child (`ChildActorExited`) or target (`PoisonMessage`).
    pub addr: Address,
    /// For [`KIND_POISON`]: what went wrong (the panic text).
    pub text: FfiStr,
}

impl FfiMessage {
    /// A message of `kind` with nothing attached.
    pub fn bare(kind: u32) -> FfiMessage {
        FfiMessage {
            kind,
            inner: 0,
            bytes: FfiStr::NONE,
            opaque: std::ptr::null_mut(),
            opaque_meta: std::ptr::null_mut(),
            addr: Address::NOBODY,
            text: FfiStr::NONE,
        }
    }
}

/// Opaque host state for one delivery; only passed back to the host.
#[repr(C)]
pub struct HostCx {
    _private: [u8; 0],
}

/// Opaque host-side error collector; only passed back to [`HostApi::set_error`].
#[repr(C)]
pub struct ErrSink {
    _private: [u8; 0],
}

/// The package identity strings, borrowed from the host for one delivery.
#[repr(C)]
pub struct FfiSource {
    /// Group name.
    pub group: FfiStr,
    /// Version (empty when unversioned).
    pub version: FfiStr,
    /// Hash as lowercase hex.
    pub hash: FfiStr,
}

/// Functions the host offers to plugin code. Lives in a host static.
#[repr(C)]
pub struct HostApi {
    /// `size_of::<HostApi>()` as the host built it.
    pub size: usize,
    /// Routes a message. For [`KIND_OPAQUE`], ownership passes to the host
    /// only when [`STATUS_OK`] is returned.
    pub send: unsafe extern "C" fn(cx: *mut HostCx, to: Address, msg: *const FfiMessage) -> u32,
    /// Creates an actor of this package's class (`global` may be NONE). On
    /// failure, up to `err_cap` bytes of the reason go to `err_buf` and their
    /// count to `err_len`.
    pub create: unsafe extern "C" fn(
        cx: *mut HostCx,
        class: FfiStr,
        global: FfiStr,
        out: *mut Address,
        err_buf: *mut u8,
        err_cap: usize,
        err_len: *mut usize,
    ) -> u32,
    /// Schedules a wakeup for the running actor.
    pub wakeup: unsafe extern "C" fn(cx: *mut HostCx, delay_nanos: u64, payload: FfiStr),
    /// Stops the running actor after its handler returns.
    pub exit: unsafe extern "C" fn(cx: *mut HostCx),
    /// Fills in the running actor's package identity.
    pub source: unsafe extern "C" fn(cx: *mut HostCx, out: *mut FfiSource),
    /// Logs one line at `level` (1 = error ... 5 = trace) from the running actor.
    pub log: unsafe extern "C" fn(level: u32, target: FfiStr, message: FfiStr),
    /// Records an error text in a host error sink.
    pub set_error: unsafe extern "C" fn(sink: *mut ErrSink, text: FfiStr),
}

/// Functions a plugin offers to the host. Lives in a plugin static.
#[repr(C)]
pub struct PluginVTable {
    /// First call after loading: stores the host table, installs the log
    /// forwarder with `max_level` (0 = off ... 5 = trace).
    pub init: unsafe extern "C" fn(host: *const HostApi, max_level: u32, err: *mut ErrSink) -> u32,
    /// Builds an instance of class number `class_index`.
    pub construct: unsafe extern "C" fn(class_index: u32, out: *mut *mut c_void, err: *mut ErrSink) -> u32,
    /// Delivers one message to an instance.
    pub receive: unsafe extern "C" fn(
        actor: *mut c_void,
        cx: *mut HostCx,
        me: Address,
        msg: *const FfiMessage,
        from: Address,
        err: *mut ErrSink,
    ) -> u32,
    /// Drops an instance.
    pub destroy: unsafe extern "C" fn(actor: *mut c_void, err: *mut ErrSink) -> u32,
    /// Drops a message that was handed over as [`KIND_OPAQUE`] (its
    /// `opaque` and `opaque_meta`).
    pub drop_opaque: unsafe extern "C" fn(msg: *mut c_void, meta: *mut c_void),
    /// Last call before unloading: the package's shutdown hook.
    pub shutdown: unsafe extern "C" fn(err: *mut ErrSink) -> u32,
}

/// The part of the header whose layout never changes.
#[repr(C)]
pub struct HeaderPrefix {
    /// Must equal [`ABI_MAGIC`].
    pub magic: [u8; 8],
    /// The plugin's [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<PackageHeader>()` as the plugin built it.
    pub header_size: u32,
    /// The plugin's [`LAYOUT_FINGERPRINT`].
    pub fingerprint: u64,
    /// The plugin's `actor-abi` crate version, NUL-padded.
    pub crate_version: [u8; 32],
}

impl HeaderPrefix {
    /// The crate version text.
    pub fn crate_version(&self) -> String {
        let end = self.crate_version.iter().position(|b| *b == 0).unwrap_or(32);
        String::from_utf8_lossy(&self.crate_version[..end]).into_owned()
    }
}

/// The exported header of a plugin library.
#[repr(C)]
pub struct PackageHeader {
    /// The stable prefix.
    pub prefix: HeaderPrefix,
    /// The exported class names.
    pub classes: *const FfiStr,
    /// How many class names.
    pub class_count: usize,
    /// The plugin's entry points.
    pub vtable: *const PluginVTable,
}

// SAFETY: the header is an immutable static; its pointers refer to other
// immutable statics of the same library.
unsafe impl Sync for PackageHeader {}

impl PackageHeader {
    /// Builds the header for a plugin's classes and entry points.
    pub const fn new(classes: &'static [FfiStr], vtable: &'static PluginVTable) -> PackageHeader {
        PackageHeader {
            prefix: HeaderPrefix {
                magic: ABI_MAGIC,
                abi_version: ABI_VERSION,
                header_size: std::mem::size_of::<PackageHeader>() as u32,
                fingerprint: LAYOUT_FINGERPRINT,
                crate_version: padded_version(),
            },
            classes: classes.as_ptr(),
            class_count: classes.len(),
            vtable,
        }
    }
}

const fn padded_version() -> [u8; 32] {
    let src = CRATE_VERSION.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < src.len() && i < 32 {
        out[i] = src[i];
        i += 1;
    }
    out
}

/// What the fingerprint covers: the declared shape of every type above.
/// Edit it together with any change to them.
const LAYOUT_DESCRIPTION: &str = "FfiStr{ptr,len} Address{id:u64,home:u32,node:u32} \
    FfiMessage{kind:u32,inner:u32,bytes,opaque,opaque_meta,addr,text} FfiSource{group,version,hash} \
    HostApi{size,send,create(cx,class,global,out,err_buf,err_cap,err_len),wakeup,exit,source,log,set_error} \
    PluginVTable{init,construct,receive(actor,cx,me,msg,from,err),destroy(actor,err),drop_opaque(msg,meta),shutdown} \
    HeaderPrefix{magic,abi_version,header_size,fingerprint,crate_version[32]} \
    PackageHeader{prefix,classes,class_count,vtable} wire=v1";

const fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
        i += 1;
    }
    h
}

const fn mix_layout<T>(h: u64) -> u64 {
    let size = (std::mem::size_of::<T>() as u64).to_le_bytes();
    let align = (std::mem::align_of::<T>() as u64).to_le_bytes();
    fnv1a(fnv1a(h, &size), &align)
}

/// A hash of the ABI's declared shape and the measured size and alignment of
/// every boundary type. Host and plugin must agree on it exactly.
pub const LAYOUT_FINGERPRINT: u64 = {
    let mut h = fnv1a(0xcbf2_9ce4_8422_2325, LAYOUT_DESCRIPTION.as_bytes());
    h = mix_layout::<FfiStr>(h);
    h = mix_layout::<Address>(h);
    h = mix_layout::<FfiMessage>(h);
    h = mix_layout::<FfiSource>(h);
    h = mix_layout::<HostApi>(h);
    h = mix_layout::<PluginVTable>(h);
    h = mix_layout::<HeaderPrefix>(h);
    h = mix_layout::<PackageHeader>(h);
    h
};

/// Log level numbers used across the boundary (0 = off, 1 = error ... 5 = trace).
pub fn level_to_u32(level: log::Level) -> u32 {
    level as u32
}

/// The inverse of [`level_to_u32`]; out-of-range numbers mean trace.
pub fn level_from_u32(n: u32) -> log::Level {
    match n {
        0 | 1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

/// The level filter for a number (0 = off ... 5 = trace).
pub fn filter_from_u32(n: u32) -> log::LevelFilter {
    match n {
        0 => log::LevelFilter::Off,
        n => level_from_u32(n).to_level_filter(),
    }
}
