//! Signed `.tls` packages: the format, the Source Authority that verifies
//! them, the builder that writes and signs them, and version ordering.
//!
//! The byte format is documented in `docs/package-format.md`.

pub mod authority;
pub mod build;
mod contents;
pub mod error;
pub mod format;
pub mod keys;
pub mod library_file;
mod package_file;
mod stage;
pub mod trusted_file;
pub mod versions;
mod ziparchive;

pub use authority::{SourceAuthority, TrustPolicy, Verified};
pub use build::{BuildError, LibrarySpec, PackageBuilder, write_zip};
pub use error::{KeyError, PackageError};
pub use format::{EntryInfo, EntryKind, Manifest};
pub use keys::{KeyStrength, PrivateKeyFile, PublicKeyFile};
pub use library_file::{InspectError, LibraryInfo, inspect_library, inspect_library_for};
pub use versions::VersionKey;
