//! L4 (many versions loaded in one daemon) and our side of L5 (a CLI
//! `list` round trip), on a real daemon started by the real CLI.

use std::path::{Path, PathBuf};
use std::time::Instant;

use runtime::tls::LibraryInfo;

use crate::director_cli::{Daemon, TLI, binary, director_dir};
use crate::original_director;
use crate::progress::progress;
use crate::report::{Table, Verdict};
use crate::signer::{Error, Signer};
use crate::sizes::Sizes;
use crate::thespian;

/// L4's figures.
pub struct ManyVersions {
    /// Versions loaded (groups x versions).
    pub versions: usize,
    /// Daemon RSS with nothing loaded, bytes.
    pub rss_empty: u64,
    /// Daemon RSS with everything loaded, bytes.
    pub rss_loaded: u64,
    /// Mean time per `load FILE` through the client library, ms.
    pub load_ms: f64,
    /// `thespian-director list` round trips, ms.
    pub list_cli_ms: Vec<f64>,
    /// `DirectorControl::list` round trips, ms.
    pub list_lib_ms: Vec<f64>,
}

/// The benchmark library: its header, read once, and its bytes.
struct BenchLibrary {
    info: LibraryInfo,
    bytes: Vec<u8>,
}

impl BenchLibrary {
    fn read() -> Result<BenchLibrary, Error> {
        let lib = &test_support::plugins().benchpkg;
        Ok(BenchLibrary { info: runtime::tls::inspect_library(lib)?, bytes: std::fs::read(lib)? })
    }

    /// Writes `group.tli` and signs `versions` packages for `group` into `dir`.
    fn write_group(&self, signer: &Signer, dir: &Path, group: &str, versions: usize) -> Result<Vec<PathBuf>, Error> {
        std::fs::write(dir.join(format!("{group}.tli")), TLI)?;
        (1..=versions)
            .map(|v| signer.package_into(dir, &self.info, self.bytes.clone(), group, &v.to_string()))
            .collect()
    }
}

/// L4: `groups` x `versions` packages loaded one file at a time into one
/// daemon, then its RSS and `list` latency (`runs` calls each way).
pub fn many_versions(
    bin: &Path,
    signer: &Signer,
    groups: usize,
    versions: usize,
    runs: usize,
) -> Result<ManyVersions, Error> {
    let daemon = Daemon::start(bin, director_dir(signer)?)?;
    let rss_empty = daemon.rss()?;
    let lib = BenchLibrary::read()?;
    let mut files = Vec::with_capacity(groups * versions);
    for g in 0..groups {
        files.extend(lib.write_group(signer, daemon.dir(), &format!("g{g:03}"), versions)?);
    }
    let control = daemon.control();
    let start = Instant::now();
    for f in &files {
        control.load(&f.to_string_lossy())?;
    }
    let load_ms = start.elapsed().as_secs_f64() * 1e3 / files.len().max(1) as f64;
    let listed: usize = control.list()?.iter().map(|g| g.versions.len()).sum();
    if listed != files.len() {
        return Err(format!("L4: {} packages loaded but list shows {listed}", files.len()).into());
    }
    let rss_loaded = daemon.rss()?;
    let list_cli_ms = daemon.time_cli(&["list"], runs, "g000")?;
    let list_lib_ms = (0..runs)
        .map(|_| {
            let start = Instant::now();
            control.list()?;
            Ok(start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<Vec<f64>, Error>>()?;
    Ok(ManyVersions { versions: files.len(), rss_empty, rss_loaded, load_ms, list_cli_ms, list_lib_ms })
}

/// Our side of L5: one group with one loaded version and one actor (what
/// the original's side loads), then `runs` CLI `list` round trips in ms.
pub fn list_round_trips(bin: &Path, signer: &Signer, runs: usize) -> Result<Vec<f64>, Error> {
    let dir = director_dir(signer)?;
    BenchLibrary::read()?.write_group(signer, dir.path(), "bench", 1)?;
    let daemon = Daemon::start(bin, dir)?;
    daemon.time_cli(&["list"], runs, "-- bench.idle (idle)")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// L4's tables: daemon memory and `list` latency with every version loaded.
fn l4_tables(bin: &Path, signer: &Signer, s: &Sizes) -> Result<Vec<Table>, Error> {
    let (groups, versions) = s.l4;
    progress(&format!("L4 {groups} groups x {versions} versions in one daemon"));
    let m = many_versions(bin, signer, groups, versions, s.list_runs)?;
    let mut mem =
        Table::new("L4 memory", format!("daemon RSS, {groups} groups x {versions} versions loaded"), "MiB", false);
    mem.add("ours, empty daemon", &[mib(m.rss_empty)]);
    mem.add(&format!("ours, {} versions loaded", m.versions), &[mib(m.rss_loaded)]);
    let per = m.rss_loaded.saturating_sub(m.rss_empty) / m.versions.max(1) as u64;
    mem.notes.push(format!(
        "{} KiB per loaded version (its library mapping, its thread, one actor); loads took {:.1} ms each through the client library. No target.",
        per / 1024,
        m.load_ms
    ));
    let mut list = Table::new("L4 list", format!("`list` with {} versions loaded", m.versions), "ms", false);
    list.add("ours, thespian-director list", &m.list_cli_ms);
    list.add("ours, DirectorControl::list", &m.list_lib_ms);
    list.notes.push("The CLI figure is a whole process: start, connect, request, print. No target.".into());
    Ok(vec![mem, list])
}

/// L5's table: our `list` against the original's, one loaded group each.
fn l5_table(bin: &Path, signer: &Signer, s: &Sizes) -> Result<Table, Error> {
    progress("L5 CLI list round trip, ours and the original's");
    let mut t = Table::new("L5", "CLI round trip: `list` with one group loaded".into(), "ms", false);
    t.add("ours", &list_round_trips(bin, signer, s.list_runs)?);
    let text = "at least 20x faster than the original director's list";
    let original =
        thespian::python().and_then(|py| original_director::list_round_trips(&py, thespian::free_port(), s.list_runs));
    let name = "Thespian director, multiprocTCPBase";
    match original {
        Ok(ms) => {
            t.add(name, &ms);
            let ratio = t.median(name).and_then(|m| t.ratio(m)).unwrap_or(f64::NAN);
            let d = format!("ours {ratio:.1}x faster");
            t.target = Some((text.into(), if ratio >= 20.0 { Verdict::Met(d) } else { Verdict::Missed(d) }));
        }
        Err(e) => t.target = Some((text.into(), Verdict::NotMeasured(format!("the original did not run: {e}")))),
    }
    t.notes.push(
        "The original runs on multiprocTCPBase: its director cannot work on simpleSystemBase (it ignores its own loads there).".into(),
    );
    Ok(t)
}

/// L4 and L5 on a real daemon started by the real `thespian-director`.
pub fn tables(s: &Sizes) -> Result<Vec<Table>, Error> {
    progress("building thespian-director (release)");
    let bin = binary()?;
    let signer = Signer::new()?;
    let mut out = l4_tables(&bin, &signer, s)?;
    out.push(l5_table(&bin, &signer, s)?);
    Ok(out)
}
