//! Writing files so that readers see the old file or the whole new one,
//! never a part: write a temporary file beside it, sync, then rename.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file written in full under a temporary name, not yet in place.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// Moves the file into place.
    pub fn commit(self) -> std::io::Result<PathBuf> {
        std::fs::rename(&self.temp, &self.target)?;
        let target = self.target.clone();
        std::mem::forget(self);
        Ok(target)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// Writes `bytes` to a temporary file beside `target` with `mode`.
pub fn stage(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<Staged> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let staged = Staged { temp: temp.clone(), target: target.to_path_buf() };
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&temp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(staged)
}

/// Writes `bytes` to `target` atomically.
pub fn write(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    stage(target, bytes, mode)?.commit()
}
