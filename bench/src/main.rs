//! `cargo run --release -p bench -- report [--quick]`: measures our runtime
//! and its peers in one run and writes `BENCHMARKS.md` with medians,
//! extremes, ratios and a met/missed line per target.

mod churn_bench;
mod convention_bench;
mod convention_deploy;
mod director_bench;
mod director_cli;
mod isolated;
mod loading;
mod machine;
mod original_director;
mod ours;
mod peers;
mod probes;
mod progress;
mod report;
mod signer;
mod sizes;
mod stats;
mod thespian;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The benchmark harness.
#[derive(Parser)]
#[command(name = "bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every workload and write the report.
    Report {
        /// Small sizes and one run each: a smoke test, no targets judged.
        #[arg(long)]
        quick: bool,
        /// Where to write the report (default: BENCHMARKS.md, or
        /// target/BENCHMARKS-quick.md with --quick).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Internal: run one of our workloads (w1, w2, w3) `n` times and print
    /// the rate, for profiling the runtime.
    #[command(hide = true)]
    Ours {
        /// w1, w2, w3, w5, or l1 (then `n` is the library size in MiB);
        /// iso-w1, iso-w2, iso-w3 or iso-start (then `n` is how many workers) across
        /// a worker process.
        workload: String,
        /// Messages or round trips.
        n: u64,
        /// How many times, in one process.
        #[arg(long, default_value_t = 1)]
        runs: u32,
    },
    /// Internal: run one Rust peer's W1 or W2 (`n` messages) and print the rate.
    #[command(hide = true)]
    Peer {
        /// actix, ractor or kameo.
        system: String,
        /// w1 or w2.
        workload: String,
        /// Messages or round trips.
        n: u64,
        /// How many times, in one process.
        #[arg(long, default_value_t = 1)]
        runs: u32,
    },
    /// Internal: run only L4 and L5 and print their tables.
    #[command(hide = true)]
    Director {
        /// Small sizes.
        #[arg(long)]
        quick: bool,
    },
    /// Internal: run only U1 (asks by role during load/unload churn) and
    /// print its table.
    #[command(hide = true)]
    Churn {
        /// Short windows, one run.
        #[arg(long)]
        quick: bool,
    },
    /// Internal: run W4 for one system in this fresh process and print
    /// `SECONDS BYTES_PER_ACTOR` (so earlier workloads cannot skew the RSS).
    #[command(hide = true)]
    W4Child {
        /// ours, actix, ractor or kameo.
        system: String,
        /// How many actors.
        n: u64,
    },
}

/// The exit code of a subcommand; its error goes to stderr.
fn finish(what: &str, result: Result<(), signer::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let (quick, out) = match Cli::parse().command {
        Cmd::Report { quick, out } => (quick, out),
        Cmd::W4Child { system, n } => return finish("w4-child", workloads::w4_child(&system, n)),
        Cmd::Ours { workload, n, runs } => return finish("ours", probes::ours(&workload, n, runs)),
        Cmd::Director { quick } => return finish("director", probes::director(quick)),
        Cmd::Churn { quick } => return finish("churn", probes::churn(quick)),
        Cmd::Peer { system, workload, n, runs } => {
            return finish("peer", (0..runs).try_for_each(|_| probes::peer(&system, &workload, n)));
        }
    };
    let root = test_support::workspace_root();
    let out =
        out.unwrap_or_else(|| if quick { root.join("target/BENCHMARKS-quick.md") } else { root.join("BENCHMARKS.md") });
    let report = workloads::run(quick).and_then(|text| {
        std::fs::write(&out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!("bench: wrote {}", out.display());
        Ok(())
    });
    finish("report", report)
}
