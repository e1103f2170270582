//! Runs every workload on us and the peers, and judges the targets.

use std::time::Duration;

use crate::convention_bench::TwoMembers;
use crate::convention_deploy::Convention;
use crate::director_bench;
use crate::isolated::Isolated;
use crate::loading;
use crate::machine;
use crate::ours::Ours;
use crate::peers::{actix_peer, kameo_peer, ractor_peer};
use crate::progress::progress;
use crate::report::{Table, Verdict, locked_versions, num};
use crate::signer::{Error, Signer};
use crate::sizes::Sizes;
use crate::stats::percentile;
use crate::thespian::{self, ThespianRun};

/// Runs `f` `runs` times, collecting each result.
fn repeat(runs: usize, mut f: impl FnMut() -> Result<f64, Error>) -> Result<Vec<f64>, Error> {
    (0..runs).map(|_| f()).collect()
}

/// `n` per second over `d`.
pub fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Durations as µs, sorted.
pub fn sorted_us(v: Vec<Duration>) -> Vec<f64> {
    let mut us: Vec<f64> = v.into_iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    us
}

/// The target for "ours at least as good as the best Rust peer".
fn versus_best(t: &Table, text: &str) -> (String, Verdict) {
    let (Some(ours), Some((peer, best))) = (t.median("ours"), t.best_peer()) else {
        return (text.into(), Verdict::NotMeasured("missing a measurement".into()));
    };
    let ratio = t.ratio(best).unwrap_or(f64::NAN);
    let detail = format!("ours {} vs {peer} {} {}: {ratio:.2}x", num(ours), num(best), t.unit);
    (text.into(), if ratio >= 1.0 { Verdict::Met(detail) } else { Verdict::Missed(detail) })
}

/// A table of our rate alone (no peer runs this workload).
fn ours_only(
    id: &str,
    title: String,
    n: u64,
    runs: usize,
    ours: impl Fn(u64) -> Result<Duration, Error>,
) -> Result<Table, Error> {
    progress(&format!("{id} {title}"));
    let mut t = Table::new(id, title, "messages/s", true);
    t.add("ours", &repeat(runs, || Ok(rate(n, ours(n)?)))?);
    Ok(t)
}

/// One measurement of one system.
type Measure<'a, T> = Box<dyn FnMut() -> Result<T, Error> + 'a>;

/// Runs every system's measurement `runs` times, round by round (run 1 of
/// each system, then run 2 of each...), so a machine that drifts during the
/// workload (this VM does, by up to 2x) weighs on every system alike.
fn interleaved<'a, T>(
    runs: usize,
    mut systems: Vec<(&'a str, Measure<'a, T>)>,
) -> Result<Vec<(&'a str, Vec<T>)>, Error> {
    let mut out: Vec<(&str, Vec<T>)> = systems.iter().map(|(name, _)| (*name, Vec::with_capacity(runs))).collect();
    for _ in 0..runs {
        for ((_, measure), (_, results)) in systems.iter_mut().zip(out.iter_mut()) {
            results.push(measure()?);
        }
    }
    Ok(out)
}

/// Our row with the version in a worker process (issue 13).
const WORKER: &str = "ours (worker)";

/// A Rust peer's workload: `n` messages or round trips, how long they took.
type PeerRun = fn(u64) -> Duration;

/// A rate table of `n` per run, from interleaved runs of ours and each peer,
/// with the "at least the fastest Rust peer" target.
fn rates(
    mut t: Table,
    n: u64,
    runs: usize,
    ours: [&dyn Fn(u64) -> Result<Duration, Error>; 2],
    peers: [(&'static str, PeerRun); 3],
) -> Result<Table, Error> {
    let [here, worker] = ours;
    let mut systems: Vec<(&str, Measure<'_, f64>)> =
        vec![("ours", Box::new(|| Ok(rate(n, here(n)?)))), (WORKER, Box::new(|| Ok(rate(n, worker(n)?))))];
    for (name, run) in peers {
        systems.push((name, Box::new(move || Ok(rate(n, run(n))))));
    }
    for (system, values) in interleaved(runs, systems)? {
        t.add(system, &values);
    }
    t.target = Some(versus_best(&t, "at least 1.0x the fastest Rust peer"));
    Ok(t)
}

fn w1(o: &Ours, iso: &Isolated, s: &Sizes) -> Result<Table, Error> {
    progress("W1 one-way tell");
    let n = s.w1;
    let mut t = Table::new("W1", format!("one-way tell between two actors, {n} messages"), "messages/s", true);
    t.notes.push(WORKER_NOTE_W1.into());
    let peers: [(&str, PeerRun); 3] =
        [("actix", actix_peer::w1), ("ractor", ractor_peer::w1), ("kameo", kameo_peer::w1)];
    rates(t, n, s.runs, [&|n| o.w1(n), &|n| iso.w1(n)], peers)
}

fn w2(o: &Ours, iso: &Isolated, s: &Sizes) -> Result<Table, Error> {
    progress("W2 ping-pong");
    let n = s.w2;
    let mut t = Table::new("W2", format!("ping-pong round trips between two actors, {n}"), "round trips/s", true);
    t.notes.push(WORKER_NOTE_W2.into());
    let peers: [(&str, PeerRun); 3] =
        [("actix", actix_peer::w2), ("ractor", ractor_peer::w2), ("kameo", kameo_peer::w2)];
    rates(t, n, s.runs, [&|n| o.w2(n), &|n| iso.w2(n)], peers)
}

const WORKER_NOTE_W1: &str = "`ours (worker)`: an in-process sender tells plain values to a sink in a worker \
     process (typed messages cannot leave a process; `ours` sends typed ones within a package).";
const WORKER_NOTE_W2: &str =
    "`ours (worker)`: the pinger in-process, the ponger in a worker process; plain values, two crossings per round.";

fn w3(o: &Ours, iso: &Isolated, s: &Sizes) -> Result<Vec<Table>, Error> {
    progress("W3 ask latency");
    let n = s.w3;
    let systems: Vec<(&str, Measure<'_, Vec<f64>>)> = vec![
        ("ours", Box::new(|| Ok(sorted_us(o.w3(n)?)))),
        (WORKER, Box::new(|| Ok(sorted_us(iso.w3(n)?)))),
        ("actix", Box::new(|| Ok(sorted_us(actix_peer::w3(n))))),
        ("ractor", Box::new(|| Ok(sorted_us(ractor_peer::w3(n))))),
        ("kameo", Box::new(|| Ok(sorted_us(kameo_peer::w3(n))))),
    ];
    let runs = interleaved(s.runs, systems)?;
    let mut tables = Vec::new();
    for (p, label) in [(50.0, "p50"), (99.0, "p99")] {
        let mut t = Table::new(&format!("W3 {label}"), format!("ask from outside the system, {n} asks"), "µs", false);
        for (system, samples) in &runs {
            let values: Vec<f64> = samples.iter().map(|r| percentile(r, p)).collect();
            t.add(system, &values);
        }
        if p == 50.0 {
            t.target = Some(versus_best(&t, "p50 no slower than the fastest Rust peer"));
        }
        tables.push(t);
    }
    Ok(tables)
}

/// Runs W4 for `system` in this (fresh) process and prints
/// `SECONDS BYTES_PER_ACTOR`.
pub fn w4_child(system: &str, n: u64) -> Result<(), Error> {
    let (d, per) = match system {
        "ours" => Ours::new()?.w4(n)?,
        "actix" => actix_peer::w4(n),
        "ractor" => ractor_peer::w4(n),
        "kameo" => kameo_peer::w4(n),
        other => return Err(format!("unknown system {other}").into()),
    };
    println!("{} {per}", d.as_secs_f64());
    Ok(())
}

fn w4_in_child(system: &str, n: u64) -> Result<(f64, f64), Error> {
    let out =
        std::process::Command::new(std::env::current_exe()?).args(["w4-child", system, &n.to_string()]).output()?;
    if !out.status.success() {
        return Err(format!("W4 for {system} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(str::parse::<f64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(secs)), Some(Ok(per))) => Ok((secs, per)),
        _ => Err(format!("W4 for {system} printed {text:?}").into()),
    }
}

fn w4(s: &Sizes) -> Result<Vec<Table>, Error> {
    progress("W4 spawning (each run in a fresh process)");
    let mut time = Table::new("W4 time", format!("spawn {} actors", s.w4), "s", false);
    let mut mem =
        Table::new("W4 memory", format!("RSS per idle actor, {} actors, fresh process", s.w4), "bytes", false);
    for system in ["ours", "actix", "ractor", "kameo"] {
        let results: Vec<(f64, f64)> = (0..s.runs).map(|_| w4_in_child(system, s.w4)).collect::<Result<_, _>>()?;
        time.add(system, &results.iter().map(|r| r.0).collect::<Vec<_>>());
        mem.add(system, &results.iter().map(|r| r.1).collect::<Vec<_>>());
    }
    let per = mem.median("ours").unwrap_or(f64::NAN);
    let detail = format!("ours {per:.0} bytes per idle actor");
    mem.target = Some((
        "at most 1 KiB per idle actor".into(),
        if per <= 1024.0 { Verdict::Met(detail) } else { Verdict::Missed(detail) },
    ));
    Ok(vec![time, mem])
}

fn loads(s: &Sizes) -> Result<Vec<Table>, Error> {
    let signer = Signer::new()?;
    let sys = runtime::ActorSystem::start(runtime::SystemConfig::default())?;
    let mut tables = Vec::new();
    let mut unloads = Vec::new();
    for &mib in s.l1_mib {
        progress(&format!("L1 load of a {mib} MiB library"));
        let mut t = Table::new(
            &format!("L1 {mib} MiB"),
            format!("load latency for a {mib} MiB library (verify, extract, dlopen, OnLoad)"),
            "ms",
            false,
        );
        let mut ours = Vec::new();
        let mut base = Vec::new();
        for run in 0..s.runs {
            let r = loading::load_unload(&signer, &sys, mib, &format!("{mib}.{run}"))?;
            ours.push(r.load.as_secs_f64() * 1e3);
            base.push(r.baseline.as_secs_f64() * 1e3);
            unloads.push(r.unload.as_secs_f64() * 1e3);
        }
        t.add("ours", &ours);
        t.add("hash+write baseline", &base);
        t.notes.push(
            "Baseline: SHA-256 of the library bytes (already in memory) and a write of them to a file, \
             not synced (the loader does not sync its extracted library either). Ours reads the package \
             file, checks it and writes the library."
                .into(),
        );
        if mib >= 10 {
            let (o, b) = (t.median("ours").unwrap_or(f64::NAN), t.median("hash+write baseline").unwrap_or(f64::NAN));
            let detail = format!("ours {o:.1} ms vs baseline {b:.1} ms: {:.2}x the baseline", o / b);
            t.target = Some((
                "at most 2x the hash-and-write baseline".into(),
                if o <= 2.0 * b { Verdict::Met(detail) } else { Verdict::Missed(detail) },
            ));
        }
        tables.push(t);
    }
    let mut l2 = Table::new("L2", "unload latency until the code is unmapped".into(), "ms", false);
    l2.add("ours", &unloads);
    tables.push(l2);
    drop(sys);
    progress(&format!("L3 {} load/unload cycles", s.l3));
    let c = loading::cycles(&signer, s.l3)?;
    let mut l3 = Table::new("L3", format!("{} load/unload cycles, time per cycle", s.l3), "ms", false);
    l3.add("ours", &[c.per_cycle.as_secs_f64() * 1e3]);
    let ok = c.rss_growth <= 4 << 20 && c.maps.0 == c.maps.1 && c.fds.0 == c.fds.1;
    let detail = format!(
        "RSS {:+} KiB, mapped files {} -> {}, fds {} -> {}",
        c.rss_growth / 1024,
        c.maps.0,
        c.maps.1,
        c.fds.0,
        c.fds.1
    );
    l3.target = Some((
        "RSS growth at most 4 MiB; mapped files and fds back to baseline".into(),
        if ok { Verdict::Met(detail) } else { Verdict::Missed(detail) },
    ));
    tables.push(l3);
    Ok(tables)
}

/// Every run of one Thespian base.
type ThespianRuns = Vec<(&'static str, Vec<ThespianRun>)>;

/// Thespian 4.0.1 on each base: `runs` runs of simpleSystemBase (one run is
/// too noisy to judge a ratio by: single runs of W1 ranged from 43k to 156k
/// messages/s across reports), one of the slow multiprocess base.
fn thespian_runs(quick: bool, runs: usize) -> Result<ThespianRuns, String> {
    progress("Thespian 4.0.1 (virtualenv under target/, created on first use)");
    let python = thespian::python()?;
    let mut out = Vec::new();
    for base in thespian::BASES {
        let times = if *base == "simpleSystemBase" { runs.max(1) } else { 1 };
        progress(&format!("Thespian {base} ({times} run(s))"));
        let all = (0..times).map(|_| thespian::run(&python, base, quick)).collect::<Result<Vec<_>, _>>()?;
        out.push((*base, all));
    }
    Ok(out)
}

/// Adds Thespian's rows to W1, W2 and W3, and its three targets.
fn add_thespian(tables: &mut Vec<Table>, runs: &Result<ThespianRuns, String>) {
    let texts = [
        ("W1 vs Thespian", "W1 at least 100x Thespian's fastest base", 100.0),
        ("W2 vs Thespian", "W2 at least 10x Thespian's fastest base", 10.0),
        ("W3 p50 vs Thespian", "W3 p50 at least 10x Thespian's fastest base", 10.0),
    ];
    let runs = match runs {
        Ok(r) => r,
        Err(e) => {
            for (id, text, _) in texts {
                let mut t = Table::new(id, "Thespian 4.0.1".into(), "-", true);
                t.target = Some((text.into(), Verdict::NotMeasured(format!("skipped: {e}"))));
                tables.push(t);
            }
            return;
        }
    };
    for (base, all) in runs {
        let name = format!("Thespian {base}");
        let each = |f: &dyn Fn(&ThespianRun) -> f64| all.iter().map(f).collect::<Vec<f64>>();
        for t in tables.iter_mut() {
            match t.id.as_str() {
                "W1" => t.add(&name, &each(&|r| r.w1_rate)),
                "W2" => t.add(&name, &each(&|r| r.w2_rate)),
                "W3 p50" => t.add(&name, &each(&|r| thespian::p(r, 50.0))),
                "W3 p99" => t.add(&name, &each(&|r| thespian::p(r, 99.0))),
                _ => {}
            }
        }
    }
    for ((id, text, need), source) in texts.into_iter().zip(["W1", "W2", "W3 p50"]) {
        let mut t = Table::new(id, "Thespian 4.0.1".into(), "-", true);
        let verdict = tables.iter().find(|x| x.id == source).and_then(|src| {
            let (base, best) = src.best_of(|s| s.starts_with("Thespian"))?;
            let ratio = src.ratio(best)?;
            let d = format!("ours {ratio:.1}x {base} on {source}");
            Some(if ratio >= need { Verdict::Met(d) } else { Verdict::Missed(d) })
        });
        t.target = Some((text.into(), verdict.unwrap_or(Verdict::NotMeasured("missing a measurement".into()))));
        tables.push(t);
    }
}

/// Spawning one actor in a worker (next to Thespian's `createActor`) and
/// starting a worker up to its first answered ask.
fn worker_costs(iso: &Isolated, s: &Sizes, thespian: &Result<ThespianRuns, String>) -> Result<Vec<Table>, Error> {
    progress("spawning in a worker, starting workers");
    let per_run = s.w3.min(200);
    let mut spawn = Table::new("S1", format!("spawn one actor, mean of {per_run}"), "µs", false);
    spawn.add(WORKER, &repeat(s.runs, || Ok(iso.spawn(per_run)?.as_secs_f64() * 1e6))?);
    if let Ok(runs) = thespian {
        for (base, all) in runs {
            spawn.add(&format!("Thespian {base}"), &all.iter().map(|r| r.spawn_us).collect::<Vec<_>>());
        }
    }
    spawn.notes.push(
        "`ours (worker)` creates the actor in a running worker (one request and answer across the socket); \
         Thespian's `multiprocTCPBase` starts a process per actor. In-process spawning is W4."
            .into(),
    );
    let mut start = Table::new("S2", "worker start to its first answered ask".into(), "ms", false);
    start.add(WORKER, &repeat(s.runs, || Ok(iso.start_to_first_ask()?.as_secs_f64() * 1e3))?);
    start.target = Some(match start.median(WORKER) {
        Some(ms) if ms <= 20.0 => ("at most 20 ms".into(), Verdict::Met(format!("{ms:.2} ms"))),
        Some(ms) => ("at most 20 ms".into(), Verdict::Missed(format!("{ms:.2} ms"))),
        None => ("at most 20 ms".into(), Verdict::NotMeasured("missing a measurement".into())),
    });
    Ok(vec![spawn, start])
}

/// The isolation targets, judged on the worker rows of W1-W3 and S1, and
/// the price of isolation (in-process over worker) in the same run.
fn isolation_targets(tables: &[Table]) -> Vec<Table> {
    let median = |id: &str, system: &str| tables.iter().find(|t| t.id == id).and_then(|t| t.median(system));
    let judge = |ok: bool, d: String| if ok { Verdict::Met(d) } else { Verdict::Missed(d) };
    let multiproc = "Thespian multiprocTCPBase";
    let checks: Vec<(&str, &str, Option<Verdict>)> = vec![
        (
            "I1",
            "tell across the boundary at least 1M messages/s",
            median("W1", WORKER).map(|r| judge(r >= 1e6, format!("{} messages/s", num(r)))),
        ),
        (
            "I2",
            "ask across the boundary p50 at most 30 µs",
            median("W3 p50", WORKER).map(|us| judge(us <= 30.0, format!("p50 {us:.1} µs"))),
        ),
        (
            "I3",
            "W1 in a worker at least 100x Thespian multiprocTCPBase",
            median("W1", WORKER)
                .zip(median("W1", multiproc))
                .map(|(o, t)| judge(o >= 100.0 * t, format!("{:.0}x ({} vs {})", o / t, num(o), num(t)))),
        ),
        (
            "I4",
            "W2 in a worker at least 100x Thespian multiprocTCPBase",
            median("W2", WORKER)
                .zip(median("W2", multiproc))
                .map(|(o, t)| judge(o >= 100.0 * t, format!("{:.0}x ({} vs {})", o / t, num(o), num(t)))),
        ),
    ];
    let mut out: Vec<Table> = checks
        .into_iter()
        .map(|(id, text, v)| {
            let mut t = Table::new(id, "process isolation".into(), "-", true);
            t.target = Some((text.into(), v.unwrap_or(Verdict::NotMeasured("missing a measurement".into()))));
            t
        })
        .collect();
    let mut price = Table::new("I5", "price of isolation: in-process over worker, same run".into(), "x", true);
    for (id, higher) in [("W1", true), ("W2", true), ("W3 p50", false)] {
        if let (Some(here), Some(worker)) = (median(id, "ours"), median(id, WORKER)) {
            let ratio = if higher { here / worker } else { worker / here };
            price.notes.push(format!("{id}: in-process is {ratio:.1}x the worker"));
        }
    }
    out.push(price);
    out
}

/// Rows of the convention tables.
const ONE_MEMBER: &str = "ours (within one member)";
const TWO_MEMBERS: &str = "ours (two members, NATS)";
const NATS_FLOOR: &str = "NATS request/reply alone";

/// C1 and C2: two members over a real nats-server on loopback, next to the
/// same workload within one member, interleaved.
fn convention(s: &Sizes) -> Result<Vec<Table>, Error> {
    progress("C1-C2 two members over NATS");
    let two = TwoMembers::new()?;
    let n = s.c1;
    let systems: Vec<(&str, Measure<'_, Vec<f64>>)> = vec![
        (ONE_MEMBER, Box::new(|| Ok(sorted_us(two.asks(n, false)?)))),
        (TWO_MEMBERS, Box::new(|| Ok(sorted_us(two.asks(n, true)?)))),
        (NATS_FLOOR, Box::new(|| Ok(sorted_us(two.nats_round_trips(n)?)))),
    ];
    let runs = interleaved(s.runs, systems)?;
    let mut tables = Vec::new();
    for (p, label) in [(50.0, "p50"), (99.0, "p99")] {
        let title = format!("ask from one member's host to an actor on another member, {n} asks");
        let mut t = Table::new(&format!("C1 {label}"), title, "µs", false);
        for (system, samples) in &runs {
            t.add(system, &samples.iter().map(|r| percentile(r, p)).collect::<Vec<f64>>());
        }
        if p == 50.0 {
            t.notes.push(format!(
                "`{NATS_FLOOR}`: one NATS request and its reply between the two members' connections, no actors: \
                 the floor for a remote ask through nats-server with this client on this machine."
            ));
            let v = t.median(TWO_MEMBERS).map(|us| {
                let d = format!("p50 {us:.1} µs");
                if us <= 150.0 { Verdict::Met(d) } else { Verdict::Missed(d) }
            });
            t.target = Some(("remote ask p50 at most 150 µs".into(), v.unwrap_or(Verdict::NotMeasured("-".into()))));
        }
        tables.push(t);
    }
    let n = s.c2;
    let mut t = Table::new("C2", format!("one-way tell of plain values to another member, {n}"), "messages/s", true);
    let systems: Vec<(&str, Measure<'_, f64>)> = vec![
        (ONE_MEMBER, Box::new(|| Ok(rate(n, two.tells(n, false)?)))),
        (TWO_MEMBERS, Box::new(|| Ok(rate(n, two.tells(n, true)?)))),
    ];
    for (system, values) in interleaved(s.runs, systems)? {
        t.add(system, &values);
    }
    let v = t.median(TWO_MEMBERS).map(|r| {
        let d = format!("{} messages/s", num(r));
        if r >= 5e5 { Verdict::Met(d) } else { Verdict::Missed(d) }
    });
    t.target = Some(("remote tell at least 500k messages/s".into(), v.unwrap_or(Verdict::NotMeasured("-".into()))));
    t.notes.push(
        "Both members are actor systems in the harness's process, each with its own NATS connection; every \
         message crosses nats-server on loopback. Thespian's convention is not measured here."
            .into(),
    );
    tables.push(t);
    drop(two);
    tables.push(deploy(s)?);
    Ok(tables)
}

/// C3: a package loaded on the leader, until it runs on two members; next
/// to one store get plus one local load of it, in the same run.
fn deploy(s: &Sizes) -> Result<Table, Error> {
    let mib = s.c3_mib;
    progress(&format!("C3 a {mib} MiB package to two members"));
    let signer = Signer::new()?;
    let convention = Convention::start(&crate::director_cli::binary()?, &signer)?;
    let mut timings = Vec::with_capacity(s.runs);
    for run in 0..s.runs {
        timings.push(convention.run(&signer, mib, &format!("{mib}.{run}"))?);
    }
    let mut t = Table::new(
        "C3",
        format!("a {mib} MiB package, from the leader's load returning to running on two members"),
        "ms",
        false,
    );
    t.add("ours (two members)", &timings.iter().map(|x| x.to_members).collect::<Vec<f64>>());
    t.add("one store get", &timings.iter().map(|x| x.get).collect::<Vec<f64>>());
    t.add("one local load", &timings.iter().map(|x| x.local_load).collect::<Vec<f64>>());
    let v = match (t.median("ours (two members)"), t.median("one store get"), t.median("one local load")) {
        (Some(ours), Some(get), Some(load)) => {
            let d = format!("{ours:.0} ms vs 2 x ({get:.0} + {load:.0}) ms");
            if ours <= 2.0 * (get + load) { Verdict::Met(d) } else { Verdict::Missed(d) }
        }
        _ => Verdict::NotMeasured("missing a measurement".into()),
    };
    t.target = Some(("at most 2x one store get plus one local load".into(), v));
    t.notes.push(
        "Three real daemons and a fourth outside the convention (the baseline's load), on one nats-server on \
         loopback. The leader stores the file and asks both members at once; each fetches, verifies with its own \
         keys and loads."
            .into(),
    );
    Ok(t)
}

/// Runs everything and returns the report text.
pub fn run(quick: bool) -> Result<String, Error> {
    let s = if quick { Sizes::QUICK } else { Sizes::FULL };
    progress("building the example packages");
    test_support::build_plugins()?;
    let thespian = thespian_runs(quick, s.runs);
    let ours = Ours::new()?;
    let iso = Isolated::new()?;
    let mut tables = vec![w1(&ours, &iso, &s)?, w2(&ours, &iso, &s)?];
    tables.extend(w3(&ours, &iso, &s)?);
    let worker_tables = worker_costs(&iso, &s, &thespian)?;
    drop(iso);
    tables.extend(w4(&s)?);
    tables.push(ours_only(
        "W5",
        format!("messages between actors of two packages (plain values), {}", s.w5),
        s.w5,
        s.runs,
        |n| ours.w5(n),
    )?);
    drop(ours);
    tables.extend(loads(&s)?);
    add_thespian(&mut tables, &thespian);
    tables.extend(worker_tables);
    tables.extend(isolation_targets(&tables));
    tables.extend(director_bench::tables(&s)?);
    tables.push(crate::churn_bench::table(&s)?);
    tables.extend(convention(&s)?);
    Ok(render(quick, &s, &tables))
}

fn render(quick: bool, s: &Sizes, tables: &[Table]) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    let cmd =
        if quick { "cargo run --release -p bench -- report --quick" } else { "cargo run --release -p bench -- report" };
    out.push_str(&format!(
        "Written by `{cmd}`. Every system was measured in this one run, on this machine: the Rust \
         systems in the harness's process (W4 in a fresh process per run), Thespian in its own Python \
         processes, and L4 and L5 against real daemon processes.\n"
    ));
    if quick {
        out.push_str("\n**Quick run**: small sizes, one run each; a smoke test, not a measurement. Targets below are not to be trusted.\n");
    }
    out.push_str(&format!(
        "\n- Machine: {} cores, {}\n- Toolchain: {}\n- Peers: {}\n- Runs per measurement: {} (median, min, max shown); W1-W3 run round by round (run 1 of every system, then run 2...); Thespian runs first, as many times on simpleSystemBase and once on multiprocTCPBase (slow)\n\n",
        machine::cores(),
        machine::cpu_model(),
        machine::rustc_version(),
        locked_versions(&["actix", "ractor", "kameo", "tokio"]),
        s.runs
    ));
    out.push_str("## Targets\n\n");
    for t in tables {
        if let Some((text, v)) = &t.target {
            let (mark, d) = match v {
                Verdict::Met(d) => ("met", d),
                Verdict::Missed(d) => ("MISSED", d),
                Verdict::NotMeasured(d) => ("not measured", d),
            };
            out.push_str(&format!("- {}: {text}: **{mark}** ({d})\n", t.id));
        }
    }
    out.push_str("\n## Results\n\n");
    for t in tables {
        out.push_str(&t.render());
    }
    out
}
