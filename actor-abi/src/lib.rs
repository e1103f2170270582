//! # actor-abi: write actors that a Thespian Director can load and unload
//!
//! This is the only crate a plugin author depends on. Write actors with the
//! [`Actor`] trait, exchange [`Value`]s (plain data) with anything and your
//! own Rust types with actors of the same package, and list the actor classes
//! the package exports with [`export_actors!`]. Build the crate as a
//! `cdylib`; `thespian-director gensrc` packs and signs it.
//!
//! No `unsafe`, no FFI types, no panic handling and no logger setup in author
//! code: the macro generates every entry point, catches panics inside the
//! library, stamps the ABI version and layout fingerprint the host checks
//! before it calls anything, and forwards `log` records (use the re-exported
//! [`log`] macros) to the host's logger with the actor's address attached.
//!
//! ## A complete minimal plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! actor-abi = "0.1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use actor_abi::prelude::*;
//!
//! /// Replies to `{"ping": n}` and remembers everything else it was sent.
//! #[derive(Default)]
//! struct Greeter {
//!     seen: Vec<Value>,
//! }
//!
//! impl Actor for Greeter {
//!     fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
//!         if let Some(n) = msg.get("ping").and_then(Value::as_i64) {
//!             let version = cx.source().map(|s| s.version.to_string());
//!             cx.send(&from, value!({ "pong": n, "version": version }));
//!         } else if let Some(v) = msg.value() {
//!             info!("remembering {v}");
//!             self.seen.push(v.clone());
//!         }
//!     }
//! }
//!
//! fn stop_background_work() {
//!     // Join any thread the package started; unload waits for this hook.
//! }
//!
//! export_actors! {
//!     "greeter.Greeter" => Greeter;
//!     shutdown = stop_background_work
//! }
//! # fn main() {}
//! ```
//!
//! Rules that keep unloading clean: build with `panic = "unwind"` (the macro
//! refuses `abort`), stop every thread you start in the `shutdown` hook, and
//! do not install a `#[global_allocator]`.

#![warn(missing_docs)]

mod actor;
mod address;
mod context;
mod deliver;
pub mod descriptor;
pub mod ffi;
mod host_table;
mod log_bridge;
mod message;
mod opaque;
mod plugin;
mod value;
pub mod wire;

pub use actor::Actor;
pub use address::{Address, AddressParseError};
pub use context::{Context, ContextBackend, CreateError, SourceInfo};
pub use deliver::Delivery;
pub use log;
pub use message::Message;
pub use value::{Map, Value};

/// Everything a plugin usually needs: `use actor_abi::prelude::*;`.
pub mod prelude {
    pub use crate::log::{debug, error, info, trace, warn};
    pub use crate::{Actor, Address, Context, CreateError, Map, Message, Value, export_actors, value};
}

/// Items the macros and the runtime use; not part of the author-facing API.
#[doc(hidden)]
pub mod __private {
    pub use crate::deliver::{deliver, panic_text};
    pub use crate::plugin::{
        MakeFn, construct, plugin_destroy, plugin_drop_opaque, plugin_init, plugin_receive, shutdown,
    };
    pub use serde_json;
}

/// Declares the actor classes a package exports, and generates the
/// package's entry points.
///
/// Each entry maps a class name (any string; Thespian style is
/// `"package.module.ClassName"`) to a type that implements [`Actor`] and
/// [`Default`]. An optional `shutdown = path` names a `fn()` the host calls
/// on the package's own thread just before unloading it.
///
/// Use it once per package, at the crate root. See the [crate] docs for a
/// complete example.
#[macro_export]
macro_rules! export_actors {
    ( $( $name:literal => $ty:ty ),+ $(,)? $( ; shutdown = $hook:path )? $(;)? ) => {
        #[cfg(panic = "abort")]
        compile_error!(
            "Thespian packages must be built with panic = \"unwind\": with abort, one panic in an actor kills the whole host"
        );

        const _: () = {
            use ::std::ffi::c_void;
            use $crate::ffi::{ErrSink, FfiStr, PackageHeader, PluginVTable};

            static CLASSES: &[FfiStr] = &[ $( FfiStr::from_static($name) ),+ ];

            // The same facts as the header, in a section of its own, so that
            // packaging tools read them from the file without running it.
            const NAMES: &str = ::core::concat!( $( $name, "\0" ),+ );
            #[used]
            #[cfg_attr(any(target_os = "macos", target_os = "ios"), unsafe(link_section = "__DATA,__thspactors"))]
            #[cfg_attr(windows, unsafe(link_section = ".thspact"))]
            #[cfg_attr(
                not(any(target_os = "macos", target_os = "ios", windows)),
                unsafe(link_section = ".thespian_actors")
            )]
            static DESCRIPTOR: [u8; $crate::descriptor::descriptor_len(NAMES)] =
                $crate::descriptor::descriptor(NAMES);

            fn make(index: u32) -> ::std::option::Option<::std::boxed::Box<dyn $crate::Actor>> {
                let mut next = 0u32;
                $(
                    if index == next {
                        let actor: $ty = ::std::default::Default::default();
                        return ::std::option::Option::Some(::std::boxed::Box::new(actor));
                    }
                    next += 1;
                )+
                let _ = next;
                ::std::option::Option::None
            }

            unsafe extern "C" fn construct(index: u32, out: *mut *mut c_void, err: *mut ErrSink) -> u32 {
                // SAFETY: forwarded from the host, which upholds construct's contract.
                unsafe { $crate::__private::construct(make, index, out, err) }
            }

            fn hook() {
                // Keeps the descriptor's section through the linker's GC.
                let _ = ::core::hint::black_box(&DESCRIPTOR);
                $( $hook(); )?
            }

            unsafe extern "C" fn shutdown(err: *mut ErrSink) -> u32 {
                // SAFETY: forwarded from the host, which upholds shutdown's contract.
                unsafe { $crate::__private::shutdown(hook, err) }
            }

            static VTABLE: PluginVTable = PluginVTable {
                init: $crate::__private::plugin_init,
                construct,
                receive: $crate::__private::plugin_receive,
                destroy: $crate::__private::plugin_destroy,
                drop_opaque: $crate::__private::plugin_drop_opaque,
                shutdown,
            };

            /// The package header the host reads before calling anything.
            #[unsafe(no_mangle)]
            pub static THESPIAN_ACTOR_PACKAGE_HEADER: PackageHeader = PackageHeader::new(CLASSES, &VTABLE);
        };
    };
}
