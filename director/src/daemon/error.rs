//! The error every Director operation returns.

use crate::protocol::ErrorKind;

/// A failed Director operation; nothing changed unless the message says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DirectorError {
    /// The kind, for the protocol.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

pub(crate) fn fail(kind: ErrorKind, message: impl Into<String>) -> DirectorError {
    DirectorError { kind, message: message.into() }
}
