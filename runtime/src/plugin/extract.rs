//! Writing verified library bytes to a private, content-addressed place.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::LoadError;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Extract { path: path.to_path_buf(), source }
}

/// Creates `root` (0700) if needed and refuses a `noexec` file system.
pub(crate) fn prepare_root(root: &Path) -> Result<(), LoadError> {
    DirBuilder::new().recursive(true).mode(0o700).create(root).map_err(io_err(root))?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).map_err(io_err(root))?;
    if is_noexec(root) {
        return Err(LoadError::NoExec { path: root.to_path_buf() });
    }
    Ok(())
}

/// Creates a fresh 0700 directory `root/HASH`, removing a stale one first
/// (a loaded version's directory is never reused: the caller checks).
pub(crate) fn fresh_dir(root: &Path, hash: &str) -> Result<PathBuf, LoadError> {
    let dir = root.join(hash);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
    }
    DirBuilder::new().mode(0o700).create(&dir).map_err(io_err(&dir))?;
    Ok(dir)
}

/// Writes the library into `dir` under a sanitised `name`; never overwrites.
///
/// Not synced to disk: the file only lives while this process has it
/// loaded (a crash leaves a stale directory that the next start removes),
/// and the loader maps it from the page cache, which is coherent with the
/// write. An fsync here cost as much as the rest of a 50 MiB load.
pub(crate) fn write_library(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, LoadError> {
    let path = dir.join(sanitize(name));
    let mut f = OpenOptions::new().write(true).create_new(true).mode(0o700).open(&path).map_err(io_err(&path))?;
    f.write_all(bytes).map_err(io_err(&path))?;
    Ok(path)
}

/// A file name made only of `[A-Za-z0-9._-]`, never starting with a dot.
fn sanitize(name: &str) -> String {
    let clean: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let clean = clean.trim_start_matches('.');
    if clean.is_empty() { "libpackage.so".to_string() } else { clean.to_string() }
}

fn is_noexec(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid C string and `st` is writable storage for one statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    st.f_flag & libc::ST_NOEXEC != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize("libfoo.so"), "libfoo.so");
        assert_eq!(sanitize("../../etc/x.so"), "_.._etc_x.so");
        assert_eq!(sanitize("..."), "libpackage.so");
    }

    #[test]
    fn fresh_dir_is_private_and_replaces_stale_content() {
        let root = tempfile::tempdir().unwrap();
        let d = fresh_dir(root.path(), "abc").unwrap();
        std::fs::write(d.join("stale"), b"x").unwrap();
        let d = fresh_dir(root.path(), "abc").unwrap();
        assert!(!d.join("stale").exists());
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let lib = write_library(&d, "libx.so", b"bytes").unwrap();
        assert!(write_library(&d, "libx.so", b"again").is_err(), "must never overwrite");
        assert_eq!(std::fs::read(lib).unwrap(), b"bytes");
    }
}
