//! # runtime: the Thespian actor system with hot-loadable native packages
//!
//! Embed an [`ActorSystem`] to run actors in-process: host actors written
//! against [`actor_abi::Actor`], and actors from loaded packages (Rust
//! `cdylib`s built with [`actor_abi::export_actors!`]). Several versions of
//! one package can be loaded at once, each with its own actors, state and
//! threads; [`ActorSystem::unload`] stops a version and closes its library,
//! then checks `/proc/self/maps` and reports whether the code really left.
//!
//! ```no_run
//! use std::time::Duration;
//! use runtime::{ActorSystem, SystemConfig};
//! use actor_abi::value;
//!
//! use runtime::tls::SourceAuthority;
//!
//! let system = ActorSystem::start(SystemConfig::default())?;
//! let authority = SourceAuthority::new("/etc/thespian/trusted");  // *_tls.key files
//! // Verify the signed package and write its library out, in one pass:
//! let (_verified, package) = authority.stage_file("foo-1.0.tls".as_ref(), system.extract_root())?;
//! let pkg = system.load(package)?;
//! let foo = system.create_actor(&pkg.hash, "foo.fooactor")?;
//! let pong = system.ask(&foo, value!({"ping": 1}), Duration::from_secs(1))?;
//! println!("{pong}");
//! let report = system.unload(&pkg.hash)?;
//! assert!(report.code.is_freed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Package code only runs on threads owned by its version, which are joined
//! before the library is closed; messages cross the boundary as bytes; every
//! plugin entry point catches its own panics. A plugin that aborts, segfaults
//! or overflows its stack still takes the process down: only a process
//! boundary contains that.

#![warn(missing_docs)]

// The layout (see README "Architecture"): `system` is the facade over
// `engine/`; `engine/` uses `native/` and the public types below; `tls/`
// uses `native/` for staging; `native/`, `tls/` and the public types never
// import the engine.
mod config;
mod engine;
mod error;
mod native;
mod package;
pub mod remote;
mod report;
mod spin;
mod system;
pub mod tls;
pub mod worker;

pub use actor_abi;
pub use config::SystemConfig;
pub use engine::logging::{ACTOR_ADDRESS_KEY, current_actor};
pub use engine::nodes::RouteKind;
pub use engine::reply::{AskFuture, PendingAsk};
pub use error::{AskError, CreateActorError, LoadError, StartError, UnloadError};
pub use native::maps;
pub use package::{PackageInfo, VerifiedPackage, hex, sha256_hex};
pub use report::{CodeState, ResidentState, ShutdownReport, UnloadReport};
pub use system::{ActorInfo, ActorSystem, CreateOptions};

/// The target triple this runtime was built for; it picks a package's library.
pub const TARGET_TRIPLE: &str = env!("THESPIAN_TARGET_TRIPLE");
