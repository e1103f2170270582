//! A region of memory shared with one other process (a worker): created
//! as a `memfd` and mapped here, sent to the child over its socket
//! (SCM_RIGHTS), and mapped there from it.
//!
//! Invariants: the mapping lives exactly as long as the [`SharedRegion`];
//! no Rust reference to its bytes is ever formed, since the other process
//! may write them at any time. The region is read and written only through
//! atomics ([`SharedRegion::atomic`]) and raw copies into and out of
//! private buffers ([`SharedRegion::copy_out`], [`SharedRegion::copy_in`]).
//! Whatever is read is the other side's word, to be checked by the caller.
//!
//! The memfd is sealed against shrinking and growing before it is handed
//! out: a child that could shrink it would make this process's next access
//! past the new end a SIGBUS.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU64;

/// A shared mapping of `len` bytes (a multiple of the page size).
#[derive(Debug)]
pub(crate) struct SharedRegion {
    base: *mut u8,
    len: usize,
    /// The memfd, kept until it is handed to a child (then dropped).
    fd: Option<OwnedFd>,
}

// SAFETY: the region is only touched through atomics and raw copies (see the
// module doc), which any thread may do; the pointer itself is never freed
// before drop.
unsafe impl Send for SharedRegion {}
// SAFETY: as above: no method hands out a reference into the bytes.
unsafe impl Sync for SharedRegion {}

impl SharedRegion {
    /// A new zeroed region of `len` bytes, backed by a memfd named `name`.
    pub(crate) fn create(name: &str, len: usize) -> std::io::Result<SharedRegion> {
        let cname = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
        // SAFETY: `cname` is a live NUL-terminated string; memfd_create
        // returns a new descriptor or -1.
        let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened for us alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let size = libc::off_t::try_from(len).map_err(std::io::Error::other)?;
        // SAFETY: `fd` is an open memfd; ftruncate only sets its size.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: F_ADD_SEALS on an open memfd made with MFD_ALLOW_SEALING;
        // no memory is passed.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut region = map(fd.as_raw_fd(), len)?;
        region.fd = Some(fd);
        Ok(region)
    }

    /// Maps the region a starting process sent (`fd`), which must be a
    /// regular file (a memfd) of exactly `len` bytes. The descriptor is
    /// closed once mapped.
    pub(crate) fn from_fd(fd: OwnedFd, len: usize) -> std::io::Result<SharedRegion> {
        let st = crate::native::os::fstat(fd.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG || u64::try_from(st.st_size).ok() != Some(len as u64) {
            return Err(std::io::Error::other(format!(
                "the descriptor sent is not a shared region of {len} bytes (size {})",
                st.st_size
            )));
        }
        map(fd.as_raw_fd(), len)
    }

    /// The memfd, for a child to inherit; `None` once taken.
    pub(crate) fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fd.take()
    }

    /// The 8-byte word at `offset`, as an atomic. Panics unless `offset` is
    /// 8-aligned and the word lies inside the region (a layout bug, never
    /// input: offsets are the caller's constants).
    pub(crate) fn atomic(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= self.len, "word {offset} outside the region");
        // SAFETY: the word is inside the live mapping and 8-aligned (mmap
        // returns page-aligned memory); AtomicU64 has the layout of u64 and
        // every bit pattern is valid; the reference lives no longer than
        // `self`, and so the mapping.
        unsafe { &*self.base.add(offset).cast::<AtomicU64>() }
    }

    /// Copies `out.len()` bytes from `offset` into `out`. Panics if the
    /// range leaves the region (the caller bounds it).
    pub(crate) fn copy_out(&self, offset: usize, out: &mut [u8]) {
        assert!(offset.checked_add(out.len()).is_some_and(|end| end <= self.len), "copy outside the region");
        // SAFETY: the source range is inside the live mapping, the target is
        // a private slice; they cannot overlap. The other process may write
        // the source concurrently only if it breaks the ring protocol; then
        // the bytes read are garbage, which the caller treats as hostile
        // input, never as Rust values.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(offset), out.as_mut_ptr(), out.len()) }
    }

    /// Copies `bytes` into the region at `offset`. Panics if the range
    /// leaves the region (the caller bounds it).
    pub(crate) fn copy_in(&self, offset: usize, bytes: &[u8]) {
        assert!(offset.checked_add(bytes.len()).is_some_and(|end| end <= self.len), "copy outside the region");
        // SAFETY: the target range is inside the live mapping, which is
        // writable; the source is a private slice.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(offset), bytes.len()) }
    }
}

/// Maps `len` bytes of `fd` shared, read and write.
fn map(fd: RawFd, len: usize) -> std::io::Result<SharedRegion> {
    // SAFETY: a fresh mapping at an address the kernel picks; `fd` is open.
    let base =
        unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0) };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(SharedRegion { base: base.cast(), len, fd: None })
}

impl Drop for SharedRegion {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are the mapping made in `map`, unmapped once,
        // here; no reference into it outlives `self`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
