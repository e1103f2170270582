//! Native package code: writing, opening, checking, calling and closing a
//! package library, and the host functions the library calls back.

pub(crate) mod code;
pub(crate) mod extract;
pub(crate) mod hostapi;
pub(crate) mod load;
pub mod maps;
pub(crate) mod unload;
pub(crate) mod version;
