//! One opened package library and the calls into it.
//!
//! Every call into plugin code goes through this file. Each entry point of
//! the library catches its own panics (the export macro generates that), so
//! a call returns a status and never unwinds into the host.

use std::ffi::c_void;
use std::path::Path;
use std::ptr::NonNull;

use actor_abi::Address;
use actor_abi::ffi::{self, ErrSink, FfiMessage, HostApi, HostCx, PackageHeader, PluginVTable};
use libloading::os::unix::{Library as DlLibrary, RTLD_LOCAL, RTLD_NOW};

use crate::error::LoadError;

/// An actor instance made by a package library.
pub(crate) struct Instance(NonNull<c_void>);

// SAFETY: an instance is a `Box<Box<dyn Actor>>` and `Actor: Send`; the
// runtime only touches it from one thread at a time (under the cell's lock).
unsafe impl Send for Instance {}

/// An open package library whose header passed the ABI checks.
pub(crate) struct Library {
    library: Option<DlLibrary>,
    vtable: NonNull<PluginVTable>,
    classes: Vec<String>,
    home: u32,
}

// SAFETY: the vtable pointer refers to an immutable static of the library,
// valid while `library` is open, which it is for the life of this value;
// the library's functions may be called from any thread.
unsafe impl Send for Library {}
// SAFETY: as above; nothing here is mutated through a shared reference.
unsafe impl Sync for Library {}

fn sink(err: &mut String) -> *mut ErrSink {
    (err as *mut String).cast()
}

impl Library {
    /// Opens the library at `path` (RTLD_NOW | RTLD_LOCAL) and checks its
    /// header before any of its functions is called. `home` is the
    /// version's home number (0 when it is only inspected).
    pub(crate) fn open(path: &Path, home: u32) -> Result<Library, LoadError> {
        // SAFETY: opening runs the library's initialisers. The caller only
        // opens verified package bytes written to a private directory.
        let library = unsafe { DlLibrary::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
            .map_err(|e| LoadError::Open { path: path.to_path_buf(), reason: error_chain(&e) })?;
        let not_pkg = |reason: String| LoadError::NotAPackage { path: path.to_path_buf(), reason };
        // SAFETY: the symbol is a static; we only take its address here.
        let header = unsafe { library.get::<*const PackageHeader>(ffi::HEADER_SYMBOL) }
            .map(|s| *s)
            .map_err(|e| not_pkg(format!("no THESPIAN_ACTOR_PACKAGE_HEADER symbol ({})", error_chain(&e))))?;
        // SAFETY: the symbol exists, so it addresses at least the stable
        // HeaderPrefix of a package header (checked by magic next).
        let header = unsafe { header.as_ref() }.ok_or_else(|| not_pkg("null header".into()))?;
        check_prefix(path, header)?;
        // SAFETY: the prefix matched this host's ABI exactly, so the rest of
        // the header has the layout this host knows.
        let classes = unsafe { read_classes(header) }.map_err(not_pkg)?;
        let vtable = NonNull::new(header.vtable.cast_mut()).ok_or_else(|| not_pkg("null vtable".into()))?;
        Ok(Library { library: Some(library), vtable, classes, home })
    }

    /// The home number of the version this code belongs to.
    pub(crate) fn home(&self) -> u32 {
        self.home
    }

    fn vt(&self) -> &PluginVTable {
        // SAFETY: valid while the library is open (see the Send impl).
        unsafe { self.vtable.as_ref() }
    }

    /// The exported class names, in declaration order.
    pub(crate) fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Calls the package's `init`, handing it the host's callback table
    /// (the engine owns that table; this file only passes it on).
    pub(crate) fn init(&self, host: &'static HostApi, max_level: u32) -> Result<(), String> {
        let mut err = String::new();
        // SAFETY: `host` is a 'static table, so it outlives the library.
        let status = unsafe { (self.vt().init)(host, max_level, sink(&mut err)) };
        status_result(status, err)
    }

    /// Builds an instance of class `index`.
    pub(crate) fn construct(&self, index: u32) -> Result<Instance, String> {
        let mut err = String::new();
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: `out` is a live local; `err` is a host error sink.
        let status = unsafe { (self.vt().construct)(index, &mut out, sink(&mut err)) };
        status_result(status, err)?;
        NonNull::new(out).map(Instance).ok_or_else(|| "constructor returned no actor".to_string())
    }

    /// Delivers one message; returns the status and any error text.
    pub(crate) fn receive(
        &self,
        instance: &Instance,
        cx: *mut HostCx,
        me: Address,
        msg: &FfiMessage,
        from: Address,
    ) -> (u32, String) {
        let mut err = String::new();
        // SAFETY: the instance came from `construct` of this library and is
        // used by this thread alone (cell lock); `msg` is valid for the call;
        // `cx` is the host's context for this delivery.
        let status = unsafe { (self.vt().receive)(instance.0.as_ptr(), cx, me, msg, from, sink(&mut err)) };
        (status, err)
    }

    /// Drops an instance inside the library.
    pub(crate) fn destroy(&self, instance: Instance) -> Result<(), String> {
        let mut err = String::new();
        // SAFETY: the instance came from `construct` and is consumed here.
        let status = unsafe { (self.vt().destroy)(instance.0.as_ptr(), sink(&mut err)) };
        status_result(status, err)
    }

    /// Drops a message the library handed over.
    pub(crate) fn drop_opaque(&self, msg: NonNull<c_void>, meta: *mut c_void) {
        // SAFETY: `(msg, meta)` is an opaque message this library made and
        // handed over, given back exactly once (OpaqueMsg's drop).
        unsafe { (self.vt().drop_opaque)(msg.as_ptr(), meta) }
    }

    /// Calls the package's shutdown hook.
    pub(crate) fn shutdown(&self) -> Result<(), String> {
        let mut err = String::new();
        // SAFETY: `err` is a host error sink.
        let status = unsafe { (self.vt().shutdown)(sink(&mut err)) };
        status_result(status, err)
    }

    /// `dlclose`s the library. Whether it is really unmapped is for the
    /// caller to check: glibc may keep it.
    pub(crate) fn close(mut self) -> Result<(), String> {
        match self.library.take() {
            Some(lib) => lib.close().map_err(|e| error_chain(&e)),
            None => Ok(()),
        }
    }
}

fn status_result(status: u32, err: String) -> Result<(), String> {
    match status {
        ffi::STATUS_OK => Ok(()),
        ffi::STATUS_UNKNOWN_CLASS => Err("no such class".into()),
        s if err.is_empty() => Err(format!("failed with status {s}")),
        _ => Err(err),
    }
}

fn check_prefix(path: &Path, header: &PackageHeader) -> Result<(), LoadError> {
    let p = &header.prefix;
    if p.magic != ffi::ABI_MAGIC {
        return Err(LoadError::NotAPackage { path: path.into(), reason: "bad header magic".into() });
    }
    if p.abi_version != ffi::ABI_VERSION {
        return Err(LoadError::AbiMismatch {
            path: path.into(),
            plugin_abi: p.abi_version,
            plugin_crate: p.crate_version(),
            host_abi: ffi::ABI_VERSION,
            host_crate: ffi::CRATE_VERSION.into(),
        });
    }
    if p.fingerprint != ffi::LAYOUT_FINGERPRINT || p.header_size as usize != size_of::<PackageHeader>() {
        return Err(LoadError::LayoutMismatch {
            path: path.into(),
            abi: p.abi_version,
            plugin: p.fingerprint,
            host: ffi::LAYOUT_FINGERPRINT,
        });
    }
    Ok(())
}

/// Reads and validates the class names.
///
/// # Safety
/// `header` must have this host's layout and point into an open library.
unsafe fn read_classes(header: &PackageHeader) -> Result<Vec<String>, String> {
    if header.class_count == 0 || header.class_count > 10_000 || header.classes.is_null() {
        return Err(format!("bad class table ({} classes)", header.class_count));
    }
    // SAFETY: the plugin's macro built `class_count` entries at `classes`.
    let raw = unsafe { std::slice::from_raw_parts(header.classes, header.class_count) };
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for s in raw {
        // SAFETY: each entry views a static string literal of the library.
        let bytes = unsafe { s.as_bytes() };
        let name = std::str::from_utf8(bytes).map_err(|_| "a class name is not UTF-8".to_string())?;
        if name.is_empty() || out.iter().any(|c| c == name) {
            return Err(format!("class name {name:?} is empty or exported twice"));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// The error and its sources, as one line (libloading keeps dlerror's text
/// in `source()`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
