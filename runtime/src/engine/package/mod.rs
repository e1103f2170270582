//! Package versions inside the engine: the host callback table a library
//! calls, one loaded version (its library, threads and live actors), and
//! loading and unloading a version.
//!
//! Loading and unloading hold no engine lock while they call into a
//! library or wait for threads; see [`load`] and [`unload`].

pub(crate) mod host_api;
pub(crate) mod load;
pub(crate) mod unload;
pub(crate) mod version;
