//! Writing verified library files to a private, content-addressed place:
//! first into a staging directory of their own, which becomes the version's
//! directory only when the whole package is there and checked.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Numbers the staging directories of this process.
static NEXT_STAGING: AtomicU64 = AtomicU64::new(1);

/// A private directory that library files are written into before the
/// package's identity is settled. Dropped without
/// [`commit`](Staging::commit), it is removed with everything in it.
#[derive(Debug)]
pub(crate) struct Staging {
    dir: PathBuf,
    committed: bool,
}

impl Staging {
    /// A fresh 0700 `root/.staging-PID-N` (a stale one is removed first).
    pub(crate) fn new(root: &Path) -> Result<Staging, LoadError> {
        let n = NEXT_STAGING.fetch_add(1, Ordering::Relaxed);
        let dir = fresh_dir(root, &format!(".staging-{}-{n}", std::process::id()))?;
        Ok(Staging { dir, committed: false })
    }

    /// Creates the file `name` (sanitised, 0700, never overwriting) and
    /// returns its file name and the open file.
    pub(crate) fn create(&self, name: &str) -> Result<(String, File), LoadError> {
        let file_name = sanitize(name);
        let path = self.dir.join(&file_name);
        let f = OpenOptions::new().write(true).create_new(true).mode(0o700).open(&path).map_err(io_err(&path))?;
        Ok((file_name, f))
    }

    /// Where [`create`](Staging::create) puts the file `name`.
    pub(crate) fn path_for(&self, name: &str) -> PathBuf {
        self.dir.join(sanitize(name))
    }

    /// Writes `bytes` as the file `name`; returns its file name.
    ///
    /// Not synced to disk: the file only lives while this process has it
    /// loaded (a crash leaves a stale directory that the next start removes),
    /// and the loader maps it from the page cache, which is coherent with the
    /// write. An fsync here cost as much as the rest of a 50 MiB load.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> Result<String, LoadError> {
        let (file_name, mut f) = self.create(name)?;
        f.write_all(bytes).map_err(io_err(&self.dir.join(&file_name)))?;
        Ok(file_name)
    }

    /// The path of the file `file_name` while it is staged.
    pub(crate) fn path_of(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }

    /// Gives the directory up to another process (a worker that loads from
    /// it and removes it at unload): dropping this no longer removes it.
    pub(crate) fn hand_over(mut self) -> PathBuf {
        self.committed = true;
        self.dir.clone()
    }

    /// Takes charge of a staging directory another process of this user
    /// handed over; refused unless it is a real directory of ours that no
    /// one else can enter.
    pub(crate) fn adopt(dir: PathBuf) -> Result<Staging, LoadError> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(&dir).map_err(io_err(&dir))?;
        if !meta.is_dir() || meta.uid() != crate::native::os::euid() || meta.mode() & 0o077 != 0 {
            let why = std::io::Error::other("not a private directory of this user");
            return Err(io_err(&dir)(why));
        }
        Ok(Staging { dir, committed: false })
    }

    /// Moves the staged files to `root/NAME`, or `root/NAME.N` with the
    /// first free N when that exists. An existing directory is never
    /// replaced: it may hold the code of a version that is still resident,
    /// and the loader matches libraries by path, so writing a new file there
    /// would hand back the old, still-mapped image.
    pub(crate) fn commit(mut self, root: &Path, name: &str) -> Result<PathBuf, LoadError> {
        for n in 0u32.. {
            let dir = if n == 0 { root.join(name) } else { root.join(format!("{name}.{n}")) };
            if std::fs::symlink_metadata(&dir).is_ok() {
                continue;
            }
            std::fs::rename(&self.dir, &dir).map_err(io_err(&dir))?;
            self.committed = true;
            return Ok(dir);
        }
        Err(io_err(root)(std::io::Error::other("no free directory name")))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Creates a fresh 0700 directory `root/name`, removing a stale one first.
fn fresh_dir(root: &Path, name: &str) -> Result<PathBuf, LoadError> {
    let dir = root.join(name);
    remove_stale(&dir)?;
    DirBuilder::new().mode(0o700).create(&dir).map_err(io_err(&dir))?;
    Ok(dir)
}

/// Removes `dir` and everything in it, if it is there.
fn remove_stale(dir: &Path) -> Result<(), LoadError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    Ok(())
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
    fn a_staging_dir_is_private_and_never_overwrites() {
        let root = tempfile::tempdir().unwrap();
        let staging = Staging::new(root.path()).unwrap();
        let mode = std::fs::metadata(staging.path_of("")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let name = staging.write("libx.so", b"bytes").unwrap();
        assert!(staging.write("libx.so", b"again").is_err(), "must never overwrite");
        assert_eq!(std::fs::read(staging.path_of(&name)).unwrap(), b"bytes");
    }

    #[test]
    fn commit_never_replaces_a_directory_and_drop_cleans_up() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("abc");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("resident"), b"x").unwrap();
        let staging = Staging::new(root.path()).unwrap();
        staging.write("libx.so", b"bytes").unwrap();
        let dir = staging.commit(root.path(), "abc").unwrap();
        assert_eq!(dir, root.path().join("abc.1"), "a taken name gets the next free one");
        assert!(target.join("resident").exists(), "the existing directory is left alone");
        assert_eq!(std::fs::read(dir.join("libx.so")).unwrap(), b"bytes");
        let dropped = Staging::new(root.path()).unwrap();
        let path = dropped.path_of("");
        drop(dropped);
        assert!(!path.exists(), "an uncommitted staging dir is removed");
        let mut left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, vec![std::ffi::OsString::from("abc"), std::ffi::OsString::from("abc.1")]);
    }
}
