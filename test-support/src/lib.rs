//! Helpers shared by the tests and the demo.
//!
//! [`plugins`] builds the example packages (real `cdylib`s) once per
//! process. The build runs a nested `cargo build --release` with its own
//! target directory (`target/example-plugins`), so it never waits on the
//! lock of the `cargo test` that started it, and later runs reuse its cache.

pub mod nats;
pub mod nats_jwt;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The built example libraries.
#[derive(Debug, Clone)]
pub struct Plugins {
    /// `example-packages/foo`.
    pub foo: PathBuf,
    /// `example-packages/other`.
    pub other: PathBuf,
    /// `example-packages/misbehave`.
    pub misbehave: PathBuf,
    /// `example-packages/abi-mismatch` (built against a simulated other ABI).
    pub abi_mismatch: PathBuf,
    /// `example-packages/benchpkg` (the benchmark actors).
    pub benchpkg: PathBuf,
}

/// Why the example packages could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be run.
    #[error("cannot run {cargo}: {source}")]
    Spawn {
        /// The cargo binary.
        cargo: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// cargo failed.
    #[error("`cargo build` of {packages} failed:\n{stderr}")]
    Failed {
        /// The packages.
        packages: String,
        /// What cargo printed.
        stderr: String,
    },
    /// cargo succeeded but a library is missing.
    #[error("expected library {0} is missing after the build")]
    Missing(PathBuf),
}

/// Polls `f` until it is true or `limit` passes; returns the last answer.
pub fn eventually(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    f()
}

/// Runs one future to completion on this thread, parking between wakeups
/// (enough to wait on the runtime's `AskFuture` or a peer's future).
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// The resident set size (VmRSS) of process `pid` (a number or `self`)
/// in bytes; `None` if it cannot be read.
pub fn rss_of(pid: &str) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|kb| kb * 1024)
}

/// The peak resident set size (VmHWM) of this process in bytes since it
/// started or since [`reset_peak_rss`].
pub fn peak_rss() -> Option<u64> {
    status_kib("self", "VmHWM:").map(|kb| kb * 1024)
}

/// Resets this process's peak RSS to its current RSS (Linux >= 4.0).
pub fn reset_peak_rss() -> std::io::Result<()> {
    std::fs::write("/proc/self/clear_refs", b"5")
}

/// A number field of `/proc/PID/status` (a `kB` unit is dropped).
fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// How many file descriptors this process has open; `None` if unreadable.
pub fn open_fds() -> Option<usize> {
    open_fds_of("self")
}

/// How many file descriptors process `pid` (a number or `self`) has open.
pub fn open_fds_of(pid: &str) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(Iterator::count)
}

/// How many threads process `pid` (a number or `self`) has.
pub fn threads_of(pid: &str) -> Option<u64> {
    status_kib(pid, "Threads:")
}

/// The children of process `pid`, each with its state letter (`Z` for a
/// zombie), from `/proc/*/stat`.
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().filter_map(Result::ok) {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Some((state, ppid)) = state_and_parent(child)
            && ppid == pid
        {
            out.push((child, state));
        }
    }
    out
}

/// Process `pid`'s state letter (`Z` for a zombie) and parent, from
/// `/proc/PID/stat`; `None` once it is gone (reaped).
pub fn state_and_parent(pid: u32) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state, ppid.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.to_string();
    Some((state, fields.next()?.parse().ok()?))
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The target directory the example packages are built into.
pub fn plugin_target_dir() -> PathBuf {
    let base =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
    base.join("example-plugins")
}

/// Builds the example packages (once per process) and returns their paths.
///
/// # Panics
/// If the build fails, with cargo's output: tests cannot run without them.
pub fn plugins() -> &'static Plugins {
    static BUILT: OnceLock<Plugins> = OnceLock::new();
    BUILT.get_or_init(|| build_plugins().unwrap_or_else(|e| panic!("building the example packages: {e}")))
}

/// Builds the example packages and returns their paths.
pub fn build_plugins() -> Result<Plugins, BuildError> {
    cargo_build(&["-p", "foo", "-p", "other", "-p", "misbehave", "-p", "benchpkg"])?;
    // The ABI-mismatch package enables a feature of actor-abi; it is a
    // workspace of its own so that the feature never reaches the others.
    cargo_build(&["--manifest-path", "example-packages/abi-mismatch/Cargo.toml"])?;
    let dir = plugin_target_dir().join("release");
    let lib = |name: &str| {
        let p = dir.join(format!("lib{name}.so"));
        if p.exists() { Ok(p) } else { Err(BuildError::Missing(p)) }
    };
    Ok(Plugins {
        foo: lib("foo")?,
        other: lib("other")?,
        misbehave: lib("misbehave")?,
        abi_mismatch: lib("abi_mismatch")?,
        benchpkg: lib("benchpkg")?,
    })
}

/// `cargo build --release` with `selection` (`-p NAME`s or a `--manifest-path`).
fn cargo_build(selection: &[&str]) -> Result<(), BuildError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root()).args(["build", "--release", "--quiet", "--target-dir"]).arg(plugin_target_dir());
    cmd.args(selection);
    let out = cmd.output().map_err(|source| BuildError::Spawn { cargo: cargo.clone(), source })?;
    if out.status.success() {
        return Ok(());
    }
    Err(BuildError::Failed { packages: selection.join(" "), stderr: String::from_utf8_lossy(&out.stderr).into_owned() })
}
