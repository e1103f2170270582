//! Where the director's files live.

use std::path::PathBuf;

/// The environment variable naming the director directory.
pub const DIR_VAR: &str = "THESPIAN_DIRECTOR_DIR";

/// The directory used when [`DIR_VAR`] is not set.
pub const DEFAULT_DIR: &str = "/opt/thespian/director";

/// The director directory: `$THESPIAN_DIRECTOR_DIR`, else [`DEFAULT_DIR`].
pub fn director_dir() -> PathBuf {
    std::env::var_os(DIR_VAR).filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}
