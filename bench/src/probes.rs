//! One workload at a time, for profiling (hidden subcommands): what they
//! print is for a person at a terminal, not for the report.

use std::time::Duration;

use crate::director_bench;
use crate::isolated::Isolated;
use crate::loading;
use crate::ours::Ours;
use crate::peers::{actix_peer, kameo_peer, ractor_peer};
use crate::report::num;
use crate::signer::{Error, Signer};
use crate::sizes::Sizes;
use crate::stats::percentile;
use crate::workloads::{rate, sorted_us};

/// L1 for an `mib` MiB library, three times: load and baseline in ms.
fn l1(mib: u64) -> Result<(), Error> {
    let signer = Signer::new()?;
    let sys = runtime::ActorSystem::start(runtime::SystemConfig::default())?;
    for run in 0..3 {
        let r = loading::load_unload(&signer, &sys, mib, &format!("{mib}.{run}"))?;
        let (load, base) = (r.load.as_secs_f64() * 1e3, r.baseline.as_secs_f64() * 1e3);
        println!("l1 {mib} MiB: load {load:.1} ms, baseline {base:.1} ms, {:.2}x", load / base);
    }
    Ok(())
}

/// One of our workloads (`w1`, `w2`, `w3`, `w5`, or `l1` with `n` MiB; or
/// across a worker process: `iso-w1`, `iso-w2`, `iso-w3`, `iso-start`; or
/// between two convention members: `conv-c1`, `conv-c2`, or `conv-c3`
/// with `n` MiB), `runs` times
/// in one system; prints each rate (and W3's percentiles).
pub fn ours(workload: &str, n: u64, runs: u32) -> Result<(), Error> {
    if workload == "l1" {
        return l1(n);
    }
    if workload == "conv-c3" {
        let signer = Signer::new()?;
        let convention = crate::convention_deploy::Convention::start(&crate::director_cli::binary()?, &signer)?;
        for run in 0..runs {
            let t = convention.run(&signer, n, &format!("{n}.{run}"))?;
            println!(
                "conv-c3 {n} MiB: to two members {:.0} ms; store get {:.0} ms; local load {:.0} ms",
                t.to_members, t.get, t.local_load
            );
        }
        return Ok(());
    }
    if let Some(w) = workload.strip_prefix("conv-") {
        let two = crate::convention_bench::TwoMembers::new()?;
        return (0..runs).try_for_each(|_| convention_once(&two, w, n));
    }
    if let Some(w) = workload.strip_prefix("iso-") {
        let iso = Isolated::new()?;
        return (0..runs).try_for_each(|_| isolated_once(&iso, w, n));
    }
    let o = Ours::new()?;
    (0..runs).try_for_each(|_| ours_once(&o, workload, n))
}

fn ours_once(o: &Ours, workload: &str, n: u64) -> Result<(), Error> {
    let d = match workload {
        "w1" => o.w1(n)?,
        "w2" => o.w2(n)?,
        "w5" => o.w5(n)?,
        "w3" => {
            let us = sorted_us(o.w3(n)?);
            println!("w3: p50 {:.2} µs, p99 {:.2} µs", percentile(&us, 50.0), percentile(&us, 99.0));
            us.iter().map(|u| Duration::from_secs_f64(u / 1e6)).sum()
        }
        other => return Err(format!("unknown workload {other}").into()),
    };
    println!("{workload}: {} per second", num(rate(n, d)));
    Ok(())
}

fn convention_once(two: &crate::convention_bench::TwoMembers, workload: &str, n: u64) -> Result<(), Error> {
    match workload {
        "c1" => {
            let us = sorted_us(two.asks(n, true)?);
            println!("conv-c1: p50 {:.2} µs, p99 {:.2} µs", percentile(&us, 50.0), percentile(&us, 99.0));
        }
        "c2" => println!("conv-c2: {} per second", num(rate(n, two.tells(n, true)?))),
        other => return Err(format!("unknown workload conv-{other}").into()),
    }
    Ok(())
}

fn isolated_once(iso: &Isolated, workload: &str, n: u64) -> Result<(), Error> {
    match workload {
        "w1" => println!("iso-w1: {} per second", num(rate(n, iso.w1(n)?))),
        "w2" => println!("iso-w2: {} round trips per second", num(rate(n, iso.w2(n)?))),
        "w3" => {
            let us = sorted_us(iso.w3(n)?);
            println!("iso-w3: p50 {:.2} µs, p99 {:.2} µs", percentile(&us, 50.0), percentile(&us, 99.0));
        }
        "start" => {
            let ms: Vec<f64> = (0..n.max(1))
                .map(|_| iso.start_to_first_ask().map(|d| d.as_secs_f64() * 1e3))
                .collect::<Result<_, _>>()?;
            let mut sorted = ms.clone();
            sorted.sort_by(f64::total_cmp);
            println!(
                "iso-start: median {:.2} ms to the first answered ask ({} workers)",
                percentile(&sorted, 50.0),
                ms.len()
            );
        }
        other => return Err(format!("unknown workload iso-{other}").into()),
    }
    Ok(())
}

/// One Rust peer's W1 or W2; prints its rate.
pub fn peer(system: &str, workload: &str, n: u64) -> Result<(), Error> {
    let d = match (system, workload) {
        ("actix", "w1") => actix_peer::w1(n),
        ("actix", "w2") => actix_peer::w2(n),
        ("ractor", "w1") => ractor_peer::w1(n),
        ("ractor", "w2") => ractor_peer::w2(n),
        ("kameo", "w1") => kameo_peer::w1(n),
        ("kameo", "w2") => kameo_peer::w2(n),
        _ => return Err(format!("unknown {system} {workload}").into()),
    };
    println!("{system} {workload}: {} per second", num(rate(n, d)));
    Ok(())
}

/// L4 and L5; prints their tables.
pub fn director(quick: bool) -> Result<(), Error> {
    let s = if quick { Sizes::QUICK } else { Sizes::FULL };
    test_support::build_plugins()?;
    director_bench::tables(&s)?.iter().for_each(|t| println!("{}", t.render()));
    Ok(())
}

/// U1 alone; prints its table.
pub fn churn(quick: bool) -> Result<(), Error> {
    let s = if quick { Sizes::QUICK } else { Sizes::FULL };
    test_support::build_plugins()?;
    println!("{}", crate::churn_bench::table(&s)?.render());
    Ok(())
}
