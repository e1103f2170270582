//! The original's side of L5: Thespian 4.0.1's director (`python -m
//! thespian.director`) on multiprocTCPBase, with one group of one version
//! and one idle actor loaded, then its `list` timed as a whole CLI call.
//!
//! simpleSystemBase cannot run the original director at all (its Director
//! ignores its own loads there, see DESIGN.md and reference/thespian.md),
//! and with no admin process each CLI call would start its own system, so
//! L5 compares against multiprocTCPBase only.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::thespian;

const DIR_VAR: &str = "THESPIAN_DIRECTOR_DIR";

/// A started original director; dropping it runs its `shutdown`.
struct Original {
    python: PathBuf,
    dir: tempfile::TempDir,
}

impl Original {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.python);
        c.args(["-m", "thespian.director"]).args(args).env(DIR_VAR, self.dir.path());
        c
    }

    /// Runs a director command with output to files (its admin process
    /// inherits and keeps open whatever it is given), with a time limit.
    fn run(&self, args: &[&str], cwd: &Path, limit: Duration) -> Result<String, String> {
        let out_path = self.dir.path().join("cli.out");
        let out = File::create(&out_path).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut child = self
            .command(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| e.to_string())?;
        // Looking every millisecond does not skew a timed call of a few hundred ms.
        let status = thespian::wait_limited(&mut child, limit, Duration::from_millis(1))
            .map_err(|e| format!("director {args:?}: {e}"))?;
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        if status.success() { Ok(text) } else { Err(format!("director {args:?} failed ({status}): {text}")) }
    }
}

impl Drop for Original {
    fn drop(&mut self) {
        let cwd = self.dir.path().to_path_buf();
        if let Err(e) = self.run(&["shutdown"], &cwd, Duration::from_secs(60)) {
            eprintln!("bench: the original director did not shut down: {e}");
        }
    }
}

fn openssl(args: &[&str]) -> Result<(), String> {
    let out: Output = Command::new("openssl").args(args).output().map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Copies the committed actor sources and TLI into `src`.
fn write_sources(src: &Path) -> Result<(), String> {
    let from = test_support::workspace_root().join("bench/thespian/director");
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(src.join("benchsrc")).map_err(io)?;
    for f in ["benchsrc/__init__.py", "benchsrc/idle.py", "bench.tli"] {
        std::fs::copy(from.join(f), src.join(f)).map_err(|e| format!("{}: {e}", from.join(f).display()))?;
    }
    Ok(())
}

/// Makes a director directory with an openssl key pair, builds and signs
/// the package with the original's `gensrc`, and starts the original.
fn start(python: &Path, admin_port: u16) -> Result<(Original, tempfile::TempDir), String> {
    let io = |e: std::io::Error| e.to_string();
    let dir = tempfile::Builder::new().prefix("odb").tempdir_in("/tmp").map_err(io)?;
    let src = tempfile::Builder::new().prefix("ods").tempdir_in("/tmp").map_err(io)?;
    let key = src.path().join("key.pem");
    let key_s = key.to_string_lossy().into_owned();
    openssl(&["genrsa", "-out", &key_s, "2048"])?;
    openssl(&["rsa", "-in", &key_s, "-pubout", "-out", &dir.path().join("bench_tls.key").to_string_lossy()])?;
    std::fs::write(dir.path().join("adminport.cfg"), format!("{admin_port}\n")).map_err(io)?;
    std::fs::write(dir.path().join("thesplogd.cfg"), dir.path().to_string_lossy().as_bytes()).map_err(io)?;
    write_sources(src.path())?;
    let original = Original { python: python.to_path_buf(), dir };
    let tli = format!("tli:{}", src.path().join("bench.tli").display());
    let gensrc = ["gensrc", "bench", &key_s, &src.path().to_string_lossy(), "version:1", &tli];
    let sources = ["benchsrc/__init__.py", "benchsrc/idle.py"];
    let args: Vec<&str> = gensrc.iter().chain(sources.iter()).copied().collect();
    original.run(&args, src.path(), Duration::from_secs(120))?;
    original.run(&["start"], src.path(), Duration::from_secs(120))?;
    Ok((original, src))
}

/// The original's `list` once its one actor runs ("Loaded" only means the
/// load was started).
fn wait_loaded(o: &Original) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = o.run(&["list"], o.dir.path(), Duration::from_secs(60))?;
        if text.contains("benchsrc.idle.Idle (idle)") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the original director never listed its actor; last list: {text:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// L5 for the original: `runs` `list` round trips in ms.
pub fn list_round_trips(python: &Path, admin_port: u16, runs: usize) -> Result<Vec<f64>, String> {
    let (original, _src) = start(python, admin_port)?;
    wait_loaded(&original)?;
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let text = original.run(&["list"], original.dir.path(), Duration::from_secs(60))?;
        out.push(start.elapsed().as_secs_f64() * 1e3);
        if !text.contains("benchsrc.idle.Idle (idle)") {
            return Err(format!("the original director's list printed {text:?}"));
        }
    }
    Ok(out)
}
