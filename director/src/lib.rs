//! # director: the `thespian-director` tool as a library
//!
//! Each command is a function that returns a structured result; the
//! `thespian-director` binary only parses arguments and prints.
//!
//! - [`gensrc`]: build, pack and sign a package.
//! - [`keygen`]: make a signing key pair.
//! - [`tlsinfo`]: check a package and show what it holds.
//! - [`avail`]: list the packages in the director directory, newest first.
//! - [`DirectorControl`]: start, load, refresh, unload, list, status, ask,
//!   tell and shutdown the daemon ([`daemon`]) of a director directory.

#![warn(missing_docs)]

pub mod atomic;
pub mod avail;
pub mod bootstart;
pub mod client;
pub mod config;
pub mod convention;
pub mod daemon;
pub mod dir;
pub mod gensrc;
pub mod keygen;
pub mod localtime;
pub mod logging;
pub mod protocol;
pub mod pyliteral;
pub mod sys;
pub mod tli;
pub mod tlsinfo;

pub use client::{ControlError, DirectorControl, SendOptions, Started};
