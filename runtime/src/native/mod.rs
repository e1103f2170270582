//! The native leaf: writing a package's library into a private staging
//! directory, opening and calling it through its C ABI, and reading
//! `/proc/self/maps` to tell whether it left the process.
//!
//! Nothing here knows about actors: the host's callback table is handed in
//! by the engine (`Library::init`), and staging takes a root path.

pub(crate) mod library;
pub mod maps;
pub(crate) mod os;
pub(crate) mod shared_memory;
pub(crate) mod staging;
