//! Our `thespian-director` binary, and a daemon of it in a temporary
//! director directory, for L4 and L5 (a real daemon process, driven by the
//! real CLI over its Unix socket).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use director::DirectorControl;
use director::client::process_alive;
use director::dir::DIR_VAR;

use crate::machine::rss_of;
use crate::signer::{Error, Signer};

/// Builds `thespian-director` beside this binary and returns its path.
/// Building it together with `bench` keeps the features of the shared
/// dependencies the same, so only the binary itself is compiled.
pub fn binary() -> Result<PathBuf, Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(test_support::workspace_root()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "bench",
        "-p",
        "director",
        "--bins",
    ]);
    // Under `cargo run`, this process has the variables cargo sets for the
    // package it runs; some build scripts (ring's) rerun when those change,
    // which would rebuild this very binary under its own feet.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_run = key.starts_with("CARGO_PKG_")
            || matches!(
                key.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_by_run {
            cmd.env_remove(key.as_ref());
        }
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("building thespian-director failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("thespian-director");
    if bin.is_file() { Ok(bin) } else { Err(format!("{} was not built", bin.display()).into()) }
}

/// A fresh director directory (short path, for the socket) that trusts
/// `signer` and logs into itself.
pub fn director_dir(signer: &Signer) -> Result<tempfile::TempDir, Error> {
    let dir = tempfile::Builder::new().prefix("tdb").tempdir_in("/tmp")?;
    std::fs::copy(signer.public_key(), dir.path().join("bench_tls.key"))?;
    std::fs::write(dir.path().join("thesplogd.cfg"), format!("'{}'\n", dir.path().join("logs").display()))?;
    Ok(dir)
}

/// The TLI every benchmark group uses: one idle actor with a role.
pub const TLI: &str = "{'Actors': {'bench.idle': {'OnLoad': {'Role': 'idle'}}}}\n";

/// A running daemon; dropping it shuts it down (and kills it if it will
/// not stop), so no daemon outlives the harness.
pub struct Daemon {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pid: u32,
}

impl Daemon {
    /// Runs `thespian-director start` for `dir` (which starts the daemon
    /// and loads every group that has a `.tli`).
    pub fn start(bin: &Path, dir: tempfile::TempDir) -> Result<Daemon, Error> {
        let out = Command::new(bin).arg("start").env(DIR_VAR, dir.path()).output()?;
        if !out.status.success() {
            return Err(format!("thespian-director start: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let status = DirectorControl::new(dir.path()).status()?.ok_or("the daemon is not running after start")?;
        Ok(Daemon { dir, bin: bin.to_path_buf(), pid: status.pid })
    }

    /// The director directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A library client of this daemon.
    pub fn control(&self) -> DirectorControl {
        DirectorControl::new(self.dir.path())
    }

    /// The daemon's resident set size in bytes.
    pub fn rss(&self) -> Result<u64, Error> {
        rss_of(&self.pid.to_string()).ok_or_else(|| format!("no RSS for daemon {}", self.pid).into())
    }

    /// Runs the CLI with `args` `runs` times; returns each round trip in
    /// ms. Every run must succeed and print `expect`.
    pub fn time_cli(&self, args: &[&str], runs: usize, expect: &str) -> Result<Vec<f64>, Error> {
        let mut out = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let o = Command::new(&self.bin).args(args).env(DIR_VAR, self.dir.path()).output()?;
            out.push(start.elapsed().as_secs_f64() * 1e3);
            let text = String::from_utf8_lossy(&o.stdout);
            if !o.status.success() || !text.contains(expect) {
                return Err(format!("thespian-director {args:?} printed {text:?} (expected {expect:?})").into());
            }
        }
        Ok(out)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.control().shutdown().is_err() && process_alive(self.pid) {
            let _ = Command::new("kill").args(["-KILL", &self.pid.to_string()]).status();
        }
    }
}
