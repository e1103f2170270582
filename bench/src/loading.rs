//! L1-L3: loading and unloading signed packages.

use std::io::Write;
use std::time::{Duration, Instant};

use actor_abi::Message;
use runtime::{ActorSystem, SystemConfig, maps};

use crate::machine::{open_fds, rss_bytes};
use crate::signer::{Error, Signer};

/// The benchmark library padded with incompressible bytes to `mib` MiB
/// (the dynamic loader maps only the ELF segments, so it still loads).
pub fn padded_library(mib: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = std::fs::read(&test_support::plugins().benchpkg)?;
    let target = usize::try_from(mib << 20)?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while bytes.len() < target {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    Ok(bytes)
}

/// One L1 measurement: (our load latency, the hash-and-write baseline).
pub struct LoadTiming {
    /// Verify + extract + dlopen + first actor handled its OnLoad-like message.
    pub load: Duration,
    /// SHA-256 of the library bytes and a write of them (not synced: the
    /// loader does not sync its extracted library either).
    pub baseline: Duration,
    /// Unload until the code is unmapped (L2).
    pub unload: Duration,
}

/// L1 and L2 for a `mib` MiB library.
pub fn load_unload(signer: &Signer, sys: &ActorSystem, mib: u64, version: &str) -> Result<LoadTiming, Error> {
    let lib = &test_support::plugins().benchpkg;
    let bytes = padded_library(mib)?;
    let file = signer.package(lib, bytes.clone(), "big", version)?;
    let start = Instant::now();
    let info = signer.load(sys, &file)?;
    let actor = sys.create_actor(&info.hash, "bench.echo")?;
    sys.tell_delivered(&actor, Message::Value("OnLoad".into()), Duration::from_secs(60))?;
    let load = start.elapsed();
    let start = Instant::now();
    let report = sys.unload(&info.hash)?;
    let unload = start.elapsed();
    if !report.code.is_freed() {
        return Err(format!("L2: {report}").into());
    }
    std::fs::remove_file(&file)?;
    let baseline = hash_and_write(&bytes, signer.dir())?;
    Ok(LoadTiming { load, baseline, unload })
}

fn hash_and_write(bytes: &[u8], dir: &std::path::Path) -> Result<Duration, Error> {
    let path = dir.join("baseline.bin");
    let start = Instant::now();
    let hash = runtime::sha256_hex(bytes);
    let mut f = std::fs::File::create(&path)?;
    f.write_all(bytes)?;
    let took = start.elapsed();
    std::fs::remove_file(&path)?;
    std::hint::black_box(hash);
    Ok(took)
}

/// L3's before/after figures.
pub struct Cycles {
    /// RSS growth in bytes.
    pub rss_growth: i64,
    /// Mapped files before and after.
    pub maps: (usize, usize),
    /// Open fds before and after.
    pub fds: (usize, usize),
    /// Time per cycle.
    pub per_cycle: Duration,
}

/// L3: `n` load/unload cycles of the benchmark package.
pub fn cycles(signer: &Signer, n: u64) -> Result<Cycles, Error> {
    let lib = &test_support::plugins().benchpkg;
    let sys = ActorSystem::start(SystemConfig::default())?;
    let files: Vec<_> =
        (0..2).map(|i| signer.package(lib, std::fs::read(lib)?, "cycle", &i.to_string())).collect::<Result<_, _>>()?;
    let once = |i: u64| -> Result<(), Error> {
        let info = signer.load(&sys, &files[(i % 2) as usize])?;
        let a = sys.create_actor(&info.hash, "bench.echo")?;
        sys.ask(&a, 1, Duration::from_secs(60))?;
        let r = sys.unload(&info.hash)?;
        if r.code.is_freed() { Ok(()) } else { Err(format!("L3: {r}").into()) }
    };
    for i in 0..10 {
        once(i)?;
    }
    let (rss, m, fds) = (rss_bytes(), maps::mapped_file_count()?, open_fds());
    let start = Instant::now();
    for i in 0..n {
        once(i)?;
    }
    let per_cycle = start.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    Ok(Cycles {
        rss_growth: rss_bytes() as i64 - rss as i64,
        maps: (m, maps::mapped_file_count()?),
        fds: (fds, open_fds()),
        per_cycle,
    })
}
