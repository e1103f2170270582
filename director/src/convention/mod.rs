//! Several hosts as one Director (a convention), on NATS (issue 14).
//!
//! So far: the settings (`convention.cfg`, `membername.cfg`) and the
//! daemon's connection to the server ([`Link`]): a daemon with a
//! `convention.cfg` connects at start and refuses to start if it cannot.
//! Membership, the package store and messages across hosts come next.

pub mod deploy;
pub mod link;
pub mod members;
pub mod settings;
pub mod store;

pub use link::{Link, LinkError};
pub use settings::{ConventionAuth, ConventionSettings, SettingsError, TlsFiles};
