//! Several hosts as one Director (a convention), on NATS (issue 14).
//!
//! So far:
//! - [`settings`]: `convention.cfg` and `membername.cfg`;
//! - [`link`]: the daemon's connection (a daemon with a `convention.cfg`
//!   connects at start and refuses to start if it cannot);
//! - [`members`]: the membership bucket and its heartbeat records;
//! - [`store`]: the package store, by hash ([`publisher`]: the leader's uploads);
//! - [`deploy`]: the leader's loads run on the members, verified by each;
//! - [`placement`]: where actors with `Requires` run, as the leader decides;
//! - [`relay`]: asks and tells from the CLI for an actor placed on another member;
//! - [`slots`]: each member's node block (its addresses' node numbers);
//! - [`transport`]: messages between actors on different members.

pub mod converge;
pub mod deploy;
pub mod link;
pub mod members;
pub mod placement;
pub mod publisher;
pub mod relay;
pub mod settings;
pub mod slots;
pub mod store;
pub mod transport;

pub use link::{Link, LinkError};
pub use settings::{ConventionAuth, ConventionSettings, SettingsError, TlsFiles};
