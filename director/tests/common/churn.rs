//! Unload under traffic (issue 16), shared by `churn.rs` and
//! `churn_embedded.rs`: askers that ask by role in a loop while a version
//! loads and unloads, and the tally of what they got.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Env;

/// Load/unload cycles per test (the issue asks for at least 2,000).
pub const CYCLES: usize = 2000;
/// Threads asking by role all the while.
pub const ASKERS: usize = 3;

/// The outcome of the askers' loop.
#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    by_version: [AtomicU64; 2],
    failed: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    /// Counts one ask's outcome: a reply from version 1 or 2 of foo, or a failure.
    fn count(&self, outcome: Result<serde_json::Value, String>) {
        match outcome {
            Ok(reply) => match reply["version"].as_str() {
                Some("1") => self.record(0),
                Some("2") => self.record(1),
                _ => self.fail(format!("a reply from no version that was ever active: {reply}")),
            },
            Err(e) => self.fail(e),
        }
    }

    fn record(&self, version: usize) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        self.by_version[version].fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, why: String) {
        let mut failed = self.failed.lock().unwrap();
        if failed.len() < 20 {
            failed.push(why);
        }
        drop(failed);
    }

    fn failures(&self) -> Vec<String> {
        self.failed.lock().unwrap().clone()
    }
}

/// Runs `ask` on [`ASKERS`] threads until `cycles` returns, then checks
/// that no ask failed and that both versions answered some.
pub fn with_askers(ask: impl Fn(u64) -> Result<serde_json::Value, String> + Sync, cycles: impl FnOnce()) -> u64 {
    let (stop, tally) = (AtomicBool::new(false), Tally::default());
    std::thread::scope(|s| {
        for t in 0..ASKERS as u64 {
            let (stop, tally, ask) = (&stop, &tally, &ask);
            s.spawn(move || {
                let mut n = t << 32;
                while !stop.load(Ordering::Relaxed) {
                    tally.count(ask(n));
                    n += 1;
                }
            });
        }
        // Stop the askers even if the cycles panic, so the scope can end.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(cycles));
        stop.store(true, Ordering::Relaxed);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    });
    let failures = tally.failures();
    assert!(failures.is_empty(), "asks failed during the churn, first ones: {failures:#?}");
    let [v1, v2] = [0, 1].map(|i| tally.by_version[i].load(Ordering::Relaxed));
    assert!(v1 > 0 && v2 > 0, "both versions answered: version 1 {v1}, version 2 {v2}");
    tally.answered.load(Ordering::Relaxed)
}

/// A director directory with foo 1 in it and foo 2 signed beside it (so
/// that loading the group picks 1, and 2 is loaded by its path).
pub fn two_versions(isolation: &str) -> (Env, String) {
    let env = Env::new();
    env.tli(
        "foo",
        &format!("{{'Isolation': '{isolation}', 'Actors': {{'foo.fooactor': {{'OnLoad': {{'Role': 'MainFoo'}}}}}}}}"),
    );
    env.gensrc_prebuilt(Some("1")).ok();
    env.gensrc_prebuilt(Some("2")).ok();
    let second = env.root.path().join("foo-2.tls");
    std::fs::rename(env.dir().join("foo-2.tls"), &second).unwrap();
    (env, second.display().to_string())
}

fn fds_of(pid: &str) -> usize {
    test_support::open_fds_of(pid).unwrap_or(0)
}

fn threads_of(pid: &str) -> u64 {
    test_support::threads_of(pid).unwrap_or(0)
}

/// Cycles before the baseline is taken: glibc's malloc arenas and the
/// pools grow at first (one CI run saw 4.3 MiB after a 200-cycle warm-up,
/// in jumps; 500 to 2,000 grows under 2 MiB here).
const WARM_UP: usize = 500;

/// [`CYCLES`] calls of `cycle` (a load and an unload) while askers `ask`
/// (see [`with_askers`]); process `pid` (a number, or `self`) then has
/// no more descriptors and threads than after a [`WARM_UP`], and its RSS
/// grew by less than 4 MiB since (flat: a leak of a version's code or
/// state would be megabytes a cycle). Returns how many asks were answered.
pub fn churn_settles(
    pid: &str,
    ask: impl Fn(u64) -> Result<serde_json::Value, String> + Sync,
    cycle: impl Fn(usize),
) -> u64 {
    let mut baseline = None;
    let answered = with_askers(ask, || {
        (0..WARM_UP).for_each(&cycle);
        let rss = test_support::rss_of(pid).expect("the RSS");
        baseline = Some((fds_of(pid), threads_of(pid), rss));
        (WARM_UP..CYCLES).for_each(&cycle);
    });
    let (fds, threads, rss) = baseline.expect("warmed up");
    // The baseline was taken with the askers (and their connections) still there.
    let settled = test_support::eventually(std::time::Duration::from_secs(10), || {
        fds_of(pid) <= fds && threads_of(pid) <= threads
    });
    assert!(settled, "{pid}: fds {fds} -> {}, threads {threads} -> {}", fds_of(pid), threads_of(pid));
    let grew = test_support::rss_of(pid).expect("RSS").saturating_sub(rss);
    assert!(grew < 4 << 20, "{pid}: RSS grew by {} KiB over {} cycles", grew >> 10, CYCLES - WARM_UP);
    answered
}
