//! The original: Thespian 4.0.1 from PyPI, in a virtualenv the harness
//! creates (once, under target/). Skipped with a notice when Python is
//! missing or the install fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::stats::percentile;

/// The bases measured.
pub const BASES: &[&str] = &["simpleSystemBase", "multiprocTCPBase"];

/// One base's results.
pub struct ThespianRun {
    /// W1 messages per second.
    pub w1_rate: f64,
    /// W2 round trips per second.
    pub w2_rate: f64,
    /// W3 latencies in µs, sorted.
    pub w3_us: Vec<f64>,
    /// Mean µs to create one actor (`createActor`).
    pub spawn_us: f64,
}

/// Sizes for a base: Thespian is orders of magnitude slower, so it gets
/// fewer messages; the report compares rates, which do not depend on size.
pub fn sizes(base: &str, quick: bool) -> (u64, u64, u64) {
    match (base, quick) {
        ("simpleSystemBase", false) => (50_000, 20_000, 2_000),
        ("simpleSystemBase", true) => (2_000, 500, 100),
        (_, false) => (2_000, 500, 200),
        (_, true) => (200, 50, 20),
    }
}

/// Waits for `child`, looking every `poll`; kills it and fails if it has
/// not exited within `limit`.
pub fn wait_limited(child: &mut Child, limit: Duration, poll: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("no exit within {limit:?}"));
        }
        std::thread::sleep(poll);
    }
}

fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
}

/// The virtualenv's python, created and filled on first use.
pub fn python() -> Result<PathBuf, String> {
    let venv = test_support::workspace_root().join("target/thespian-venv");
    let py = venv.join("bin/python");
    let ready = venv.join(".thespian-4.0.1");
    if ready.exists() {
        patch_decodestring(&py)?;
        return Ok(py);
    }
    run_quiet(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(|e| format!("python3 -m venv: {e}"))?;
    run_quiet(Command::new(&py).args(["-m", "pip", "install", "-q", "thespian==4.0.1"]))
        .map_err(|e| format!("pip install thespian==4.0.1: {e}"))?;
    patch_decodestring(&py)?;
    std::fs::write(&ready, b"").map_err(|e| e.to_string())?;
    Ok(py)
}

/// The original calls `base64.decodestring`, gone since Python 3.9, when it
/// verifies a package. A `.pth` line in the virtualenv puts the name back
/// in every process it starts (the director's admin and actors included).
fn patch_decodestring(py: &Path) -> Result<(), String> {
    let out = Command::new(py)
        .args(["-c", "import site; print(site.getsitepackages()[0])"])
        .output()
        .map_err(|e| e.to_string())?;
    let site = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let line = "import base64; base64.decodestring = getattr(base64, 'decodestring', base64.decodebytes)\n";
    std::fs::write(site.join("zz_thespian_decodestring.pth"), line).map_err(|e| format!("{}: {e}", site.display()))
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(19_000, |a| a.port())
}

/// Runs W1-W3 on `base`, with a time limit.
pub fn run(python: &PathBuf, base: &str, quick: bool) -> Result<ThespianRun, String> {
    let (n1, n2, n3) = sizes(base, quick);
    let script = test_support::workspace_root().join("bench/thespian/workloads.py");
    let mut child = Command::new(python)
        .arg(&script)
        .args([base.to_string(), n1.to_string(), n2.to_string(), n3.to_string(), free_port().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    wait_limited(&mut child, Duration::from_secs(600), Duration::from_millis(50))
        .map_err(|e| format!("{base}: {e}"))?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{base}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{base} printed {line:?}: {e}"))?;
    let secs = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let mut w3_us: Vec<f64> =
        v["w3_us"].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect()).unwrap_or_default();
    w3_us.sort_by(f64::total_cmp);
    let spawn_us = secs("spawn_us");
    Ok(ThespianRun { w1_rate: n1 as f64 / secs("w1_secs"), w2_rate: n2 as f64 / secs("w2_secs"), w3_us, spawn_us })
}

/// p50 of a run.
pub fn p(run: &ThespianRun, q: f64) -> f64 {
    percentile(&run.w3_us, q)
}
