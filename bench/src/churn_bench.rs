//! U1 (issue 16): asks by role while another version of the group loads
//! and unloads in a loop, next to the same asks with no churn, window by
//! window in turn. Two churn rates: the operator's loop that found the
//! defect (11,247 cycles in 4 minutes through the CLI, one cycle every
//! 21 ms), and cycles back to back (the worst case: on two cores the
//! loader then takes a core from the askers). Through an embedded
//! Director: the daemon's own code for `ask`, `load` and `unload`, in
//! this process, without the control socket (whose connection per
//! request would hide the cost).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use director::daemon::operations::Director;
use director::protocol::Send;
use runtime::{ActorSystem, SystemConfig};

use crate::director_cli::director_dir;
use crate::progress::progress;
use crate::report::{Table, Verdict};
use crate::signer::{Error, Signer};
use crate::sizes::Sizes;

/// Threads asking all the while (one per core of the reference machine).
const ASKERS: usize = 2;

/// The group's TLI: the echo actor under a role, in the daemon's process.
const TLI: &str = "{'Isolation': 'inprocess', 'Actors': {'bench.echo': {'OnLoad': {'Role': 'echo'}}}}\n";

/// How the group churns during a window.
#[derive(Clone, Copy)]
enum Churn {
    /// Not at all.
    None,
    /// One load/unload cycle started every so often.
    Paced(Duration),
    /// Cycles back to back.
    BackToBack,
}

/// The operator's loop in the issue: 11,247 cycles in 240 s.
const OPERATOR_PACE: Duration = Duration::from_millis(21);

/// One timed window.
struct Window {
    asks_per_s: f64,
    failed: u64,
    cycles: u64,
    first_failure: Option<String>,
}

/// An embedded Director with version 1 of the group `churn` loaded, and
/// version 2 signed outside its directory (loaded by path).
struct Setup {
    system: Arc<ActorSystem>,
    core: Arc<Director>,
    second: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir, Signer),
}

impl Setup {
    fn new() -> Result<Setup, Error> {
        let signer = Signer::new()?;
        let dir = director_dir(&signer)?;
        let outside = tempfile::tempdir()?;
        let lib = &test_support::plugins().benchpkg;
        let (info, bytes) = (runtime::tls::inspect_library(lib)?, std::fs::read(lib)?);
        std::fs::write(dir.path().join("churn.tli"), TLI)?;
        signer.package_into(dir.path(), &info, bytes.clone(), "churn", "1")?;
        let second = signer.package_into(outside.path(), &info, bytes, "churn", "2")?;
        let system = Arc::new(ActorSystem::start(SystemConfig::default())?);
        let core = director::daemon::embed(&system, dir.path()).core;
        core.load("churn")?;
        Ok(Setup { system, core, second: second.display().to_string(), _dirs: (dir, outside, signer) })
    }

    /// Asks `echo` from [`ASKERS`] threads for `length` while the group
    /// churns as `churn` says.
    fn window(&self, length: Duration, churn: Churn) -> Result<Window, Error> {
        let (stop, answered, failed) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
        let first_failure = std::sync::Mutex::new(None);
        let mut cycles = 0;
        let start = Instant::now();
        std::thread::scope(|s| -> Result<(), Error> {
            for _ in 0..ASKERS {
                s.spawn(|| {
                    let send = Send {
                        target: "echo".into(),
                        group: None,
                        source: None,
                        message: serde_json::json!(1),
                        timeout_ms: 10_000,
                    };
                    while !stop.load(Ordering::Relaxed) {
                        match self.core.ask(&send) {
                            Ok(_) => answered.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                first_failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e.to_string());
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    }
                });
            }
            let result = self.cycle_until(start + length, churn, &mut cycles);
            stop.store(true, Ordering::Relaxed);
            result
        })?;
        let secs = start.elapsed().as_secs_f64();
        Ok(Window {
            asks_per_s: answered.load(Ordering::Relaxed) as f64 / secs,
            failed: failed.load(Ordering::Relaxed),
            cycles,
            first_failure: first_failure.into_inner().unwrap_or_else(|p| p.into_inner()),
        })
    }

    fn cycle_until(&self, end: Instant, churn: Churn, cycles: &mut u64) -> Result<(), Error> {
        let pace = match churn {
            Churn::None => {
                std::thread::sleep(end.saturating_duration_since(Instant::now()));
                return Ok(());
            }
            Churn::Paced(every) => every,
            Churn::BackToBack => Duration::ZERO,
        };
        let mut next = Instant::now();
        while next < end {
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            next += pace;
            let loaded = self.core.load(&self.second)?;
            let unloaded = self.core.unload(&loaded.hash)?;
            if !unloaded.freed || unloaded.undelivered > 0 {
                return Err(format!("U1: an unload under churn: {unloaded:?}").into());
            }
            *cycles += 1;
            next = next.max(Instant::now());
        }
        Ok(())
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.system.shutdown();
    }
}

/// U1's table.
pub fn table(s: &Sizes) -> Result<Table, Error> {
    progress("U1 asks by role during load/unload churn");
    let setup = Setup::new()?;
    let length = Duration::from_millis(s.churn_ms);
    let kinds = [
        ("ours, no churn", Churn::None),
        ("ours, churn at the operator's pace (a cycle every 21 ms)", Churn::Paced(OPERATOR_PACE)),
        ("ours, churn back to back", Churn::BackToBack),
    ];
    let mut windows: Vec<Vec<Window>> = kinds.iter().map(|_| Vec::new()).collect();
    for _ in 0..s.runs {
        for (i, (_, churn)) in kinds.iter().enumerate() {
            windows[i].push(setup.window(length, *churn)?);
        }
    }
    let mut t = Table::new(
        "U1",
        format!("asks by role from {ASKERS} threads, {} ms windows, with and without load/unload churn", s.churn_ms),
        "asks/s",
        true,
    );
    for ((name, _), w) in kinds.iter().zip(&windows) {
        t.add(name, &w.iter().map(|w| w.asks_per_s).collect::<Vec<f64>>());
    }
    let failed: u64 = windows.iter().flatten().map(|w| w.failed).sum();
    let cost = |name: &str| match (t.median(kinds[0].0), t.median(name)) {
        (Some(q), Some(c)) if q > 0.0 => Some(100.0 * (1.0 - c / q)),
        _ => None,
    };
    let verdict = match (cost(kinds[1].0), cost(kinds[2].0)) {
        (Some(paced), Some(back)) => {
            let d = format!(
                "at the operator's pace churn costs {paced:.1}% of throughput (back to back: {back:.1}%); {failed} ask(s) failed"
            );
            if paced < 10.0 && failed == 0 { Verdict::Met(d) } else { Verdict::Missed(d) }
        }
        _ => Verdict::NotMeasured("missing a measurement".into()),
    };
    t.target = Some(("churn costs under 10% of throughput and loses nothing".into(), verdict));
    let per_window = |i: usize| windows[i].iter().map(|w| w.cycles).sum::<u64>() / (windows[i].len() as u64).max(1);
    t.notes.push(format!(
        "Load/unload cycles per window: {} at the operator's pace, {} back to back. A cycle is a load of version 2 \
         by path (verify, unzip, stage, dlopen, create, activate) and its unload (retire, drain, dlclose, check \
         the maps), on a third thread. Windows alternate: none, paced, back to back, none... An embedded Director \
         (the daemon's code, no socket); the echo actor runs in-process. Back to back, the loader keeps a core \
         busy, which on two cores the askers feel; the target is judged at the pace of the operator's loop that \
         found the defect.",
        per_window(1),
        per_window(2)
    ));
    if let Some(why) = windows.iter().flatten().find_map(|w| w.first_failure.clone()) {
        t.notes.push(format!("First failed ask: {why}"));
    }
    Ok(t)
}
