//! Writing files so that readers see the old file or the whole new one,
//! never a part, and so that nothing another user planted can redirect the
//! write: the bytes go to a new file with a random name beside the target
//! (created with `O_EXCL`, so an existing file or symlink of that name makes
//! it fail instead of being followed), are synced, and the file is renamed
//! over the target (a rename replaces a symlink, it never writes through it).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A file written in full under a temporary name, not yet in place. Dropped
/// without [`Staged::commit`], the temporary file is removed.
#[derive(Debug)]
pub struct Staged {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl Staged {
    /// Moves the file into place.
    pub fn commit(self) -> std::io::Result<PathBuf> {
        self.temp.persist(&self.target).map_err(|e| e.error)?;
        Ok(self.target)
    }
}

/// Writes `bytes` to a new temporary file beside `target` with `mode`.
pub fn stage(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<Staged> {
    stage_with(target, bytes, mode, true)
}

fn stage_with(target: &Path, bytes: &[u8], mode: u32, sync: bool) -> std::io::Result<Staged> {
    let mut staged = begin(target, mode)?;
    staged.write_all(bytes)?;
    if sync {
        staged.temp.as_file().sync_all()?;
    }
    Ok(staged)
}

/// A new, empty temporary file beside `target` with `mode`, to be written
/// piece by piece ([`Staged::write_all`]) and then committed (unsynced).
pub fn begin(target: &Path, mode: u32) -> std::io::Result<Staged> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir)?;
    // Set after creation: the umask must not change the mode asked for.
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(Staged { temp, target: target.to_path_buf() })
}

impl Staged {
    /// Appends `bytes` to the temporary file.
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.temp.write_all(bytes)
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    stage(target, bytes, mode)?.commit()
}

/// [`write()`] without syncing the bytes to disk first: for a file that is
/// checked whenever it is read (a signed package copied from the
/// convention's store), where a crash may leave it short or empty but the
/// check then refuses it and it is copied again. Readers still see the old
/// file or the whole new one while the system runs.
pub fn write_unsynced(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    stage_with(target, bytes, mode, false)?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name the writer used before it was fixed: `.{name}.tmp-{pid}`,
    /// opened with create+truncate, so a symlink there was followed.
    fn old_temp_name(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!(".{name}.tmp-{}", std::process::id()))
    }

    #[test]
    fn a_planted_symlink_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let target = dir.path().join("state.pid");
        std::os::unix::fs::symlink(&victim, old_temp_name(dir.path(), "state.pid")).unwrap();
        // The target itself is a planted symlink too.
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write(&target, b"1234\n", 0o644).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "the victim was written through a symlink");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink(), "the target is a file now");
        assert_eq!(std::fs::read(&target).unwrap(), b"1234\n");
    }

    #[test]
    fn the_mode_is_the_one_asked_for_and_a_dropped_stage_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("key.pem");
        write(&target, b"secret", 0o600).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        drop(stage(&dir.path().join("other"), b"x", 0o644).unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);
    }
}
